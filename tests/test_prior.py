"""The pair prior: pair-unet (smoke, shapes, bad input, gradcheck), its training loop and checkpoint."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from img2gif import checkpoint
from img2gif.errors import InputError, OptionError
from img2gif.ode import WarpODE, warp_record
from img2gif.velocity.pair_unet import PairUNetVelocity
from img2gif.warp import count_folds

ROOT = Path(__file__).resolve().parents[1]
# the prior's scenes come from scikit-image's sample photos (the dev extra has it)
needs_photos = pytest.mark.skipif(importlib.util.find_spec("skimage") is None, reason="needs scikit-image's sample photos")


def pair_ode(width=8, depth=2):
    return WarpODE.from_record(warp_record("pair-unet", "compose", {"image_channels": 3, "width": width, "depth": depth},
                                           {"step_size": 0.25}))


def test_untrained_is_identity_and_shapes():
    ode = pair_ode()
    x = torch.rand(2, 6, 20, 28)
    with torch.no_grad():
        phi = ode.fields(x, [0.5, 1.0], (20, 28))
    assert phi.shape == (2, 2, 2, 20, 28) and float(phi.abs().max()) == 0.0
    assert ode.record()["velocity"] == {"name": "pair-unet", "config": {"image_channels": 3, "width": 8, "depth": 2}}


def test_sees_b_and_time():
    velocity = PairUNetVelocity(image_channels=1, width=8, depth=1)
    torch.nn.init.normal_(velocity.out.weight, std=0.1)  # trained-like: not zero
    a, b = torch.rand(1, 1, 12, 12), torch.rand(1, 1, 12, 12)
    phi = torch.zeros(1, 2, 12, 12)
    u = velocity(0.0, phi, torch.cat([a, b], 1), frame_only=True)
    assert u.shape == (1, 2, 12, 12)
    assert not torch.allclose(u, velocity(0.0, phi, torch.cat([a, torch.rand(1, 1, 12, 12)], 1), frame_only=True))
    assert not torch.allclose(u, velocity(0.75, phi, torch.cat([a, b], 1), frame_only=True))
    # a coarser field: B is resized to it
    assert velocity(0.5, torch.zeros(1, 2, 6, 6), torch.cat([a, b], 1)).shape == (1, 2, 6, 6)


def test_compose_passes_each_steps_start_time():
    seen = []

    class Spy(PairUNetVelocity):
        def forward(self, t, phi, x0, frame_only=False):
            seen.append(t)
            return super().forward(t, phi, x0, frame_only)

    from img2gif.solvers.compose import Compose

    WarpODE(Spy(image_channels=1, width=4, depth=1), Compose(0.25)).fields(torch.rand(1, 2, 8, 8), [1.0], (8, 8))
    assert seen == [0.0, 0.25, 0.5, 0.75]


def test_bad_input():
    velocity = PairUNetVelocity(image_channels=3, width=8, depth=1)
    with pytest.raises(ValueError, match="A and B stacked"):
        velocity(0.0, torch.zeros(1, 2, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError):
        velocity(0.0, torch.zeros(1, 3, 8, 8), torch.rand(1, 6, 8, 8))
    with pytest.raises(ValueError, match="image_channels"):
        PairUNetVelocity(image_channels=9)


def test_gradcheck():
    velocity = PairUNetVelocity(image_channels=1, width=4, depth=1).double()
    torch.nn.init.normal_(velocity.out.weight, std=0.1)
    x = torch.rand(1, 2, 6, 6, dtype=torch.float64)
    phi = (0.05 * torch.randn(1, 2, 6, 6, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: velocity(0.5, p, x, frame_only=True), (phi,))


def test_fit_pair_and_train_refuse_it(tmp_path):
    from img2gif.fit import FitSettings, fit_pair_tensors
    from img2gif.training import TrainSettings, build_model

    with pytest.raises(OptionError, match="sees both images"):
        fit_pair_tensors(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16),
                         FitSettings(velocity="pair-unet", solver="compose", solver_config={"step_size": 0.25}))
    with pytest.raises(OptionError, match="sees both images"):
        build_model(TrainSettings(velocity="pair-unet", size=16))


@needs_photos
def test_training_lowers_the_loss_and_saves_a_prior(tmp_path):
    from img2gif.prior import PairPrior, PriorSettings, _batches, prior_losses, train_prior

    scenes = {"layers": [1, 1], "noise": 0.0, "brightness": 0.0}
    settings = PriorSettings(size=32, steps=60, batch_size=4, learning_rate=3e-3, width=8, depth=2, scene_pool=4,
                             field_weight=0.1, checkpoint_every=30, scenes=scenes)
    batch = next(_batches(settings, 0))  # the pool's 4 scenes
    with torch.no_grad():
        before = float(prior_losses(pair_ode(), *batch, settings)["total"])
    ode = train_prior(settings, tmp_path / "prior.pt")
    with torch.no_grad():
        after = prior_losses(ode, *batch, settings)
    assert float(after["total"]) < 0.7 * before
    a, frames = batch[0], batch[1]
    with torch.no_grad():
        phi = ode.fields(torch.cat([a, frames[-1]], 1), [0.25, 0.5, 0.75, 1.0], (32, 32))
    assert sum(count_folds(p) for p in phi) == 0
    record = checkpoint.load(tmp_path / "prior.pt", "img2gif.prior")
    assert record["step"] == 60 and record["prior"]["size"] == 32 and "training_state" in record
    prior = PairPrior.load(tmp_path / "prior.pt")
    field = prior.fields(torch.rand(1, 3, 48, 64), torch.rand(1, 3, 48, 64))
    assert field.shape == (1, 1, 2) + prior.prior_shape(48, 64)


@needs_photos
def test_resume_continues_exactly(tmp_path):
    from img2gif.prior import PriorSettings, train_prior

    common = dict(size=32, batch_size=2, width=4, depth=1, checkpoint_every=2, scenes={"layers": [1, 1]})
    train_prior(PriorSettings(steps=4, **common), tmp_path / "full.pt")
    train_prior(PriorSettings(steps=2, **common), tmp_path / "part.pt")
    train_prior(PriorSettings(steps=4, **common), tmp_path / "part.pt", resume=True)
    full, part = checkpoint.load(tmp_path / "full.pt"), checkpoint.load(tmp_path / "part.pt")
    assert part["step"] == 4
    for name, value in full["state_dict"].items():
        assert torch.allclose(value, part["state_dict"][name], atol=1e-6), name
    with pytest.raises(OptionError, match="width"):
        train_prior(PriorSettings(steps=6, **{**common, "width": 8}), tmp_path / "part.pt", resume=True)
    with pytest.raises(OptionError, match="seed"):  # another data stream is not a continuation
        train_prior(PriorSettings(steps=6, **{**common, "seed": 1}), tmp_path / "part.pt", resume=True)
    with pytest.raises(OptionError, match="already trained 4 steps"):
        train_prior(PriorSettings(steps=3, **common), tmp_path / "part.pt", resume=True)
    with pytest.raises(OptionError, match="exists; continue it with --resume"):
        train_prior(PriorSettings(steps=6, **common), tmp_path / "part.pt")
    said = []
    train_prior(PriorSettings(steps=5, learning_rate=1e-4, **common), tmp_path / "part.pt", resume=True, log=said.append)
    assert "learning_rate 0.0005 -> 0.0001" in said[0]
    state = checkpoint.load(tmp_path / "part.pt")["training_state"]["optimiser"]
    assert state["param_groups"][0]["lr"] == 1e-4  # this run's rate, not the saved one


@needs_photos
def test_bad_settings_and_files(tmp_path):
    from img2gif.prior import PairPrior, PriorSettings

    for bad in ({"size": 20}, {"times": (0.5, 0.25)}, {"times": (1.0,)}, {"learning_rate": 0.0},
                {"scenes": {"max_shift": 2.0}}, {"scenes": {"nonsense": 1}}):
        with pytest.raises(OptionError):
            PriorSettings(**bad).check()
    model = tmp_path / "model.pt"
    checkpoint.save(model, {"velocity": {"name": "unet", "config": {}}, "solver": {"name": "compose", "config": {}},
                            "state_dict": {}, "image_size": 32}, "img2gif.model")
    with pytest.raises(InputError, match="expected img2gif.prior"):
        PairPrior.load(model)
    # a model or pair file may not hold a pair velocity (it would fail at the first frame)
    from img2gif.learned import LearnedModel

    crafted = tmp_path / "crafted.pt"
    ode = pair_ode(width=4, depth=1)
    checkpoint.save(crafted, {**ode.record(), "state_dict": ode.velocity.state_dict(), "image_size": 32, "channels": 3},
                    "img2gif.model")
    with pytest.raises(InputError, match="only a prior"):
        LearnedModel.load(crafted)


@pytest.mark.slow
@needs_photos
def test_the_training_command_runs(tmp_path):
    """`img2gif train --prior`, the command a device run uses, at a tiny size: a log line per
    step count reached (stderr is not a terminal here), the checkpoint, one-line errors."""
    out = tmp_path / "p.pt"
    done = subprocess.run([sys.executable, "-m", "img2gif", "train", "--prior", "-o", str(out), "--size", "32",
                           "--steps", "3", "--batch-size", "2", "--device", "cpu", "--workers", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "step 3/3" in done.stderr and f"saved {out}" in done.stderr
    assert checkpoint.load(out, "img2gif.prior")["step"] == 3
    for args, says in ((["--size", "30"], "multiple of 8"), (["--data", str(tmp_path)], "no --data"),
                       (["--paired"], "choose one of --paired, --unpaired or --prior")):
        bad = subprocess.run([sys.executable, "-m", "img2gif", "train", "--prior", "-o", str(tmp_path / "q.pt"), *args],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2 and says in bad.stderr and "Traceback" not in bad.stderr, (args, bad.stderr)
        assert not (tmp_path / "q.pt").exists()


@pytest.mark.slow
@needs_photos
def test_the_device_script_runs_on_cpu(tmp_path):
    """bench/device_train_prior.sh, the one command a device run makes, at a tiny size on CPU."""
    import os

    env = {**os.environ, "OUT": str(tmp_path / "out"), "PRIOR": str(tmp_path / "prior.pt"), "MINUTES": "2",
           "PYTHON": sys.executable, "SIZE": "32", "STEPS": "3", "BATCH": "2", "WORKERS": "0", "DEVICE": "cpu"}
    done = subprocess.run(["bash", str(ROOT / "bench" / "device_train_prior.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exit status: 0" in done.stdout and "checkpoint step 3" in done.stdout
    assert checkpoint.load(tmp_path / "out" / "prior.pt", "img2gif.prior")["step"] == 3
    assert "step 3/3" in (tmp_path / "out" / "train_prior.log").read_text()


@needs_photos
def test_a_prior_starts_the_pair_fit_from_the_cli(tmp_path):
    """--prior on fit-pair and animate: the prior's field is the fit's start; bad uses are one line, exit 2."""
    from typer.testing import CliRunner

    from img2gif.cli import app
    from img2gif.prior import PriorSettings, train_prior

    train_prior(PriorSettings(size=32, steps=2, batch_size=2, width=4, depth=1, scenes={"layers": [1, 1]}),
                tmp_path / "prior.pt")
    from PIL import Image

    from conftest import blob_image

    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(blob_image(24, 32)).save(a)
    Image.fromarray(blob_image(24, 32, shift=(3.0, 1.0))).save(b)
    runner = CliRunner()
    result = runner.invoke(app, ["fit-pair", str(a), str(b), "--prior", str(tmp_path / "prior.pt"),
                                 "-o", str(tmp_path / "pair.pt"), "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["animate", str(a), str(b), "--prior", str(tmp_path / "prior.pt"), "--frames", "3",
                                 "-o", str(tmp_path / "out.gif"), "--quiet"])
    assert result.exit_code == 0 and (tmp_path / "out.gif").exists(), result.output
    (tmp_path / "junk.pt").write_bytes(b"junk")
    for extra, says in ((["--prior", str(tmp_path / "junk.pt")], "junk.pt"),
                        (["--prior", str(tmp_path / "pair.pt")], "expected img2gif.prior")):
        result = runner.invoke(app, ["animate", str(a), str(b), *extra, "-o", str(tmp_path / "z.gif")])
        assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output, result.output
        assert not (tmp_path / "z.gif").exists()
    result = runner.invoke(app, ["animate", str(a), str(b), str(a), "--prior", str(tmp_path / "prior.pt"),
                                 "-o", str(tmp_path / "z.gif")])
    assert result.exit_code == 2 and "keyframe path" in result.output
    result = runner.invoke(app, ["animate", str(a), str(b), "--prior", str(tmp_path / "prior.pt"), "--velocity", "unet",
                                 "--solver", "compose", "-o", str(tmp_path / "z.gif")])
    assert result.exit_code == 2 and "can start from a field" in result.output
    before = (tmp_path / "prior.pt").read_bytes()
    result = runner.invoke(app, ["fit-pair", str(a), str(b), "--prior", str(tmp_path / "prior.pt"),
                                 "-o", str(tmp_path / "prior.pt")])
    assert result.exit_code == 2 and (tmp_path / "prior.pt").read_bytes() == before  # never written over


def test_fit_pair_starts_from_the_priors_field(monkeypatch):
    """The field the fit starts from is the prior's Phi_1 (checked by catching what the fit is given)."""
    import numpy as np

    import img2gif.pair as pair_module
    from img2gif.prior import PairPrior

    prior = PairPrior(pair_ode(), 32, {})
    torch.nn.init.normal_(prior.ode.velocity.out.weight, std=0.05)
    given = {}

    def spy(ta, tb, settings, progress=None, initial_field=None):
        given["field"] = initial_field
        raise RuntimeError("stop here")

    monkeypatch.setattr(pair_module, "fit_pair_tensors", spy)
    a = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    with pytest.raises(RuntimeError, match="stop here"):
        pair_module.fit_pair(a, a[::-1].copy(), device="cpu", prior=prior)
    expected = prior.start_field(pair_module.to_tensor(a, torch.device("cpu")),
                                 pair_module.to_tensor(a[::-1].copy(), torch.device("cpu")))
    assert torch.equal(given["field"], expected) and float(expected.abs().max()) > 0
