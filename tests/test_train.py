"""Training: paired and unpaired loops, checkpoints, exact resume, divergence, data errors, DDP."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from img2gif import checkpoint
from img2gif.cli import app
from img2gif.datasets import load_domains
from img2gif.errors import InputError
from img2gif.learned import LearnedModel
from img2gif.training import TrainSettings, TrainingError, train_on_tensors as train
from img2gif.warp import sample

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(size=16, batch_size=8, velocity_config={"width": 4, "depth": 1}, sample_every=0, checkpoint_every=3)


def blobs(n, shift, seed):
    """n 16x16 grayscale blobs, moved ``shift`` px to the right."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:16, 0:16]
    out = []
    for _ in range(n):
        cx, cy = rng.uniform(5, 9, size=2)
        out.append(np.exp(-((xs - cx - shift) ** 2 + (ys - cy) ** 2) / 8.0))
    return torch.tensor(np.stack(out), dtype=torch.float32).unsqueeze(1)


def test_paired_training_learns_the_shift(tmp_path):
    x0, x1 = blobs(32, 0, 1), blobs(32, 2, 1)
    before = ((x0 - x1) ** 2).mean()
    ode = train(x0, x1, TrainSettings(paired=True, steps=60, learning_rate=3e-3, **SMALL), tmp_path / "m.pt")
    with torch.no_grad():
        after = ((sample(x0, ode.fields(x0, [1.0], (16, 16))[0]) - x1) ** 2).mean()
    assert after < 0.5 * before
    record = torch.load(tmp_path / "m.pt", weights_only=True)
    assert record["format"] == "img2gif.model" and record["step"] == 60 and "training_state" in record


def test_unpaired_training_runs_and_saves_samples(tmp_path):
    settings = TrainSettings(paired=False, steps=4, critic_iters=2, **{**SMALL, "sample_every": 2})
    train(blobs(16, 0, 2), blobs(16, 2, 3), settings, tmp_path / "u.pt")
    assert sorted(os.listdir(tmp_path / "u-samples")) == ["step_0000002.png", "step_0000004.png"]
    sheet = Image.open(tmp_path / "u-samples" / "step_0000004.png")
    assert sheet.size == (16 * (1 + 4), 16 * 8)


def test_resume_matches_uninterrupted_run(tmp_path):
    x0, x1 = blobs(16, 0, 4), blobs(16, 2, 5)
    full = TrainSettings(paired=False, steps=6, critic_iters=2, **SMALL)
    train(x0, x1, full, tmp_path / "full.pt")
    half = TrainSettings(paired=False, steps=3, critic_iters=2, **SMALL)
    train(x0, x1, half, tmp_path / "part.pt")
    train(x0, x1, full, tmp_path / "part.pt", resume=True)
    a = torch.load(tmp_path / "full.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "part.pt", weights_only=True)["state_dict"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_divergence_stops_and_keeps_last_good_checkpoint(tmp_path):
    x0, x1 = blobs(16, 0, 6), blobs(16, 2, 6)
    out = tmp_path / "m.pt"
    train(x0, x1, TrainSettings(paired=True, steps=3, **SMALL), out)
    good = out.read_bytes()
    x1_bad = x1.clone()
    x1_bad[:] = float("nan")
    with pytest.raises(TrainingError, match="step 4.*last good checkpoint"):
        train(x0, x1_bad, TrainSettings(paired=True, steps=6, **SMALL), out, resume=True)
    assert out.read_bytes() == good


def test_divergence_before_any_checkpoint_says_none_was_written(tmp_path):
    """A NaN at step 1 of a new run: nothing was saved, and the message must not claim otherwise;
    a file already at the path (an earlier run's) is left as it was."""
    x0, x1 = blobs(16, 0, 6), blobs(16, 2, 6)
    x1[:] = float("nan")
    out = tmp_path / "m.pt"
    with pytest.raises(TrainingError, match="step 1.*no checkpoint was written") as raised:
        train(x0, x1, TrainSettings(paired=True, steps=6, **SMALL), out)
    assert "is kept" not in str(raised.value) and not out.exists()
    out.write_bytes(b"an earlier run")
    with pytest.raises(TrainingError, match="no checkpoint was written"):
        train(x0, x1, TrainSettings(paired=True, steps=6, **SMALL), out)
    assert out.read_bytes() == b"an earlier run"


def make_folder(root: Path, names_a, names_b, size=16):
    for sub, names in (("start", names_a), ("end", names_b)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            Image.fromarray((np.random.default_rng(i).random((size, size, 3)) * 255).astype(np.uint8)).save(root / sub / name)


def test_data_folder_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_domains(tmp_path / "nothing", size=16, channels=1, paired=False)
    make_folder(tmp_path / "d", ["a.png", "b.png", "c.png"], ["a.png", "x.png"])
    with pytest.raises(InputError, match=r"only in start/: \['b.png', 'c.png'\].*only in end/: \['x.png'\]"):
        load_domains(tmp_path / "d", size=16, channels=1, paired=True)
    (tmp_path / "d" / "start" / "broken.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        x0, x1 = load_domains(tmp_path / "d", size=8, channels=3, paired=False)
    assert x0.shape == (3, 3, 8, 8) and x1.shape == (2, 3, 8, 8)
    with pytest.raises(InputError, match="broken.png"):
        load_domains(tmp_path / "d", size=8, channels=3, paired=False, strict=True)
    (tmp_path / "e" / "start").mkdir(parents=True)
    (tmp_path / "e" / "end").mkdir()
    with pytest.raises(InputError, match="no images"):
        load_domains(tmp_path / "e", size=8, channels=1, paired=False)


def test_cli_train_name_animate_and_reverse(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2GIF_CACHE_DIR", str(tmp_path / "cache"))
    make_folder(tmp_path / "data", [f"{i}.png" for i in range(6)], [f"{i}.png" for i in range(5)])
    runner = CliRunner()
    out = tmp_path / "run.pt"
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "data"), "--unpaired", "--size", "16", "--steps", "2",
                                 "--batch-size", "4", "--critic-iters", "1", "-o", str(out), "--name", "tiny", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cache" / "models" / "user" / "tiny.pt").is_file()
    face = tmp_path / "face.png"
    Image.fromarray((np.random.default_rng(0).random((40, 30, 3)) * 255).astype(np.uint8)).save(face)
    result = runner.invoke(app, ["animate", str(face), "--model", "tiny", "--frames", "5", "-o", str(tmp_path / "m.gif")])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "m.gif") as im:
        assert im.n_frames == 5 and im.size == (30, 40)  # full size, colour
    result = runner.invoke(app, ["reverse", str(face), "--model", str(out), "--frames", "4", "-o", str(tmp_path / "r") + "/"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "r").glob("frame_*.png"))) == 4
    result = runner.invoke(app, ["inspect", "--models"])
    assert result.exit_code == 0 and "tiny" in result.output
    for bad in (["--model", "nosuch"], ["--model", "../x"], ["--model", str(tmp_path / "none.pt")]):
        result = runner.invoke(app, ["animate", str(face), *bad, "-o", str(tmp_path / "z.gif")])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert not (tmp_path / "z.gif").exists()
    assert "unknown model 'nosuch'" in runner.invoke(app, ["reverse", str(face), "--model", "nosuch"]).output


def test_still_mask_keeps_the_masked_part_still(tmp_path):
    """Paired, a shift of everything; with the right half marked still it moves far less there."""
    x0, x1 = blobs(32, 0, 8), blobs(32, 2, 8)
    mask = np.zeros((16, 16), np.uint8)
    mask[:, 8:] = 255
    Image.fromarray(mask).resize((40, 40)).save(tmp_path / "mask.png")  # any size: stretched to --size
    from img2gif.training import load_still_mask

    still = load_still_mask(tmp_path / "mask.png", 16)
    assert still.shape == (16, 16) and float(still[:, :6].max()) == 0.0 and float(still[:, 10:].min()) == 1.0
    moved = {}
    for name, weight in (("free", 0.0), ("still", 0.03)):
        settings = TrainSettings(paired=True, steps=40, learning_rate=3e-3, still_weight=weight, **SMALL)
        ode = train(x0, x1, settings, tmp_path / f"{name}.pt", still_map=still if weight else None)
        with torch.no_grad():
            phi = ode.fields(x0, [1.0], (16, 16))[0] * 7.5  # px
        moved[name] = (float(phi[..., :6].norm(dim=1).mean()), float(phi[..., 10:].norm(dim=1).mean()))
    kept_free = moved["still"][0] / moved["free"][0]
    kept_still = moved["still"][1] / moved["free"][1]
    assert kept_free > 0.5  # the free half still moves (40 steps, seed 0: 0.69 of its motion)
    assert kept_still < 0.5 * kept_free  # the marked half loses far more of its motion (0.22)


def test_cli_still_mask_errors(tmp_path):
    runner = CliRunner()
    base = ["train", "--data", str(tmp_path), "--unpaired", "-o", str(tmp_path / "m.pt")]
    result = runner.invoke(app, [*base, "--still-mask", str(tmp_path / "mask.png")])
    assert result.exit_code == 2 and "give --still-weight too" in result.output
    result = runner.invoke(app, [*base, "--still-weight", "-1"])
    assert result.exit_code == 2 and "--still-weight must be >= 0" in result.output
    (tmp_path / "start").mkdir()
    (tmp_path / "end").mkdir()
    (tmp_path / "mask.png").write_bytes(b"not a png")
    result = runner.invoke(app, [*base, "--still-weight", "1", "--still-mask", str(tmp_path / "mask.png")])
    assert result.exit_code == 2 and "mask.png" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.pt").exists()


def test_cli_train_bad_input(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--unpaired", "-o", str(tmp_path / "m.pt")])
    assert result.exit_code == 2 and "start" in result.output and not (tmp_path / "m.pt").exists()
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "-o", str(tmp_path / "m.pt")])
    assert result.exit_code == 2 and "--paired, --unpaired or --prior" in result.output
    result = runner.invoke(app, ["train", "--unpaired", "-o", str(tmp_path / "m.pt")])
    assert result.exit_code == 2 and "give --data FOLDER" in result.output and not (tmp_path / "m.pt").exists()
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--paired", "--size", "48"])
    assert result.exit_code == 2 and "power of two" in result.output


def test_learned_model_upsamples_to_full_size(tmp_path):
    x0, x1 = blobs(16, 0, 7), blobs(16, 2, 7)
    train(x0, x1, TrainSettings(paired=True, steps=20, learning_rate=3e-3, **SMALL), tmp_path / "m.pt")
    model = LearnedModel.load(tmp_path / "m.pt")
    image = (np.random.default_rng(1).random((64, 48, 3)) * 255).astype(np.uint8)
    frames = model.frames(image, [0.0, 0.5, 1.0])
    assert len(frames) == 3 and frames[1].shape == (64, 48, 3)
    assert np.array_equal(frames[0], image)
    assert model.folds(image) == 0


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    make_folder(tmp_path / "data", [f"{i}.png" for i in range(8)], [f"{i}.png" for i in range(8)])
    out = tmp_path / "ddp.pt"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           "-m", "img2gif", "train", "--data", str(tmp_path / "data"), "--paired", "--size", "16", "--steps", "3",
           "--batch-size", "4", "-o", str(out), "--device", "cpu", "-q"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = checkpoint.load(out, "img2gif.model")
    assert record["step"] == 3
