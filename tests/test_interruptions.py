"""Real processes, real signals: interrupted renders, killed training runs, concurrent runs.

Each test starts ``python -m img2gif`` in a subprocess (one thread, its own model cache)
and checks what is on disk afterwards: no partial output, the previous file intact, a
checkpoint that always loads, a resumed run equal to an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import blob_image
from helpers import child_env, default_signals

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

PREVIOUS = b"the previous animation at this path; it must survive\n"






def _start(args, tmp_path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "img2gif", *map(str, args)], env=child_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)


def _wait_for(condition, proc, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process ended (code {proc.returncode}) before {what}: {err[-2000:]}")
        time.sleep(0.005)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def _import_seconds(tmp_path) -> float:
    started = time.monotonic()
    # what a command imports before its work starts (the CLI itself no longer imports torch)
    subprocess.run([sys.executable, "-c", "import img2gif.cli, img2gif.pipeline"], env=child_env(tmp_path), check=True)
    return time.monotonic() - started


@pytest.fixture
def pair_files(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    a, b = src / "a.png", src / "b.png"
    Image.fromarray(blob_image(256, 256)).save(a)
    Image.fromarray(blob_image(256, 256, shift=(9.0, 4.0))).save(b)
    return a, b


def _previous_output(tmp_path, name) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    target = out / name
    target.write_bytes(PREVIOUS)
    return target


def _check_interrupted(proc, target):
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    assert "interrupted" in err
    assert target.read_bytes() == PREVIOUS  # the previous file at that path, untouched
    assert sorted(os.listdir(target.parent)) == [target.name]  # no temp file left behind


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_writing_keeps_the_previous_file(sig, pair_files, tmp_path):
    a, b = pair_files
    target = _previous_output(tmp_path, "x.mp4")
    proc = _start(["animate", a, b, "-o", target, "--frames", 800, "--working-size", 32, "-q"], tmp_path)
    # the writer's temp file beside the target appears when encoding starts
    _wait_for(lambda: len(os.listdir(target.parent)) > 1, proc, what="the temp file")
    proc.send_signal(sig)
    _check_interrupted(proc, target)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_fitting_keeps_the_previous_file(sig, tmp_path):
    # 640 px images fitted at 640 px: a fit of many seconds, so the signal lands inside it
    # (256 px images cap the working size at 256, a fit short enough to end first)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(blob_image(640, 640)).save(a)
    Image.fromarray(blob_image(640, 640, shift=(20.0, 9.0))).save(b)
    target = _previous_output(tmp_path, "x.gif")
    settle = 2 * _import_seconds(tmp_path) + 0.5  # past start-up, inside the fit
    proc = _start(["animate", a, b, "-o", target, "--working-size", 640, "-q"], tmp_path)
    time.sleep(settle)
    assert proc.poll() is None, "the fit ended before the signal: make it longer"
    proc.send_signal(sig)
    _check_interrupted(proc, target)


# --- training: SIGKILL, then --resume -------------------------------------------------

def _data(tmp_path) -> Path:
    data = tmp_path / "data"
    for sub, shift in (("start", 0.0), ("end", 3.0)):
        (data / sub).mkdir(parents=True)
        for k in range(8):
            Image.fromarray(blob_image(16, 16, shift=(shift, 0.0), seed=k)).save(data / sub / f"{k}.png")
    return data


def _train_args(data, output, steps):
    return ["train", "--data", data, "--unpaired", "--size", 16, "--batch-size", 4, "--critic-iters", 1,
            "--steps", steps, "--checkpoint-every", 1, "--sample-every", 0, "--seed", 3, "-q", "-o", output]


def _step_of(path: Path) -> int:
    return int(torch.load(path, weights_only=True)["step"])


@pytest.mark.slow
def test_sigkill_during_training_then_resume_equals_an_uninterrupted_run(tmp_path):
    data = _data(tmp_path)
    killed = tmp_path / "killed" / "m.pt"
    killed.parent.mkdir()
    rng = np.random.default_rng(0)
    steps_seen = []
    for _ in range(3):  # kill it three times, at random moments, resuming each time
        resume = ["--resume"] if killed.exists() else []
        proc = _start(_train_args(data, killed, 10_000) + resume, tmp_path)
        before = _step_of(killed) if killed.exists() else 0
        _wait_for(lambda: killed.exists() and os.path.getsize(killed) > 0 and _safe_step(killed) > before, proc,
                  what="a new checkpoint")
        time.sleep(float(rng.uniform(0.0, 0.3)))  # often mid-save: checkpoints are written every step
        proc.kill()
        proc.communicate()  # reaps it and closes its pipes
        steps_seen.append(_step_of(killed))  # loads: a kill never leaves a corrupt checkpoint
        # a kill mid-save may leave the temp file (SIGKILL cannot be handled); never anything else
        assert all(p.startswith(".m.pt.") and p.endswith(".part.pt") for p in os.listdir(killed.parent) if p != "m.pt")
    assert steps_seen == sorted(steps_seen) and steps_seen[0] >= 1
    final = steps_seen[-1] + 3
    done = subprocess.run([sys.executable, "-m", "img2gif", *map(str, _train_args(data, killed, final) + ["--resume"])],
                          env=child_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert os.listdir(killed.parent) == ["m.pt"]  # the resumed run removed any stale temp file
    straight = tmp_path / "straight.pt"
    done = subprocess.run([sys.executable, "-m", "img2gif", *map(str, _train_args(data, straight, final))],
                          env=child_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed, uninterrupted = (torch.load(p, weights_only=True) for p in (killed, straight))
    assert resumed["step"] == uninterrupted["step"] == final
    for key, value in uninterrupted["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, rtol=1e-5, atol=1e-6)


def _safe_step(path) -> int:
    try:
        return _step_of(path)
    except Exception:  # noqa: BLE001  the file is renamed into place whole; a reader can still race the rename
        return -1


# --- concurrency -----------------------------------------------------------------------

def test_first_use_of_a_model_by_four_processes_at_once(tmp_path):
    code = "from img2gif import models; print(models.resolve('digits'))"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=child_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [r[1][-1000:] for r in results]
    paths = {r[0].strip() for r in results}
    assert len(paths) == 1
    cached = Path(paths.pop())
    from img2gif import models

    assert cached.read_bytes() and hashlib.sha256(cached.read_bytes()).hexdigest() == models.registry()["digits"]["sha256"]
    assert sorted(os.listdir(cached.parent)) == [cached.name]  # one file, no temp files


@pytest.mark.slow
def test_two_animates_into_the_same_folder_do_not_interfere(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    images = []
    for k in range(2):
        path = src / f"digit{k}.png"
        Image.fromarray(blob_image(64, 64, seed=k)).save(path)
        images.append(path)
    solo, shared = tmp_path / "solo", tmp_path / "shared"
    solo.mkdir()
    shared.mkdir()
    for k, image in enumerate(images):  # one at a time: the reference outputs
        done = subprocess.run([sys.executable, "-m", "img2gif", "animate", str(image), "--model", "digits",
                               "--frames", "40", "-o", str(solo / f"{k}.gif"), "-q"],
                              env=child_env(tmp_path), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    procs = [_start(["animate", image, "--model", "digits", "--frames", 40, "-o", shared / f"{k}.gif", "-q"], tmp_path)
             for k, image in enumerate(images)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert sorted(os.listdir(shared)) == ["0.gif", "1.gif"]
    for k in range(2):
        assert (shared / f"{k}.gif").read_bytes() == (solo / f"{k}.gif").read_bytes()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_start_up_is_exit_130(sig, pair_files, tmp_path):
    """While torch is still being imported (the CLI itself starts without it)."""
    a, b = pair_files
    target = _previous_output(tmp_path, "x.gif")
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import img2gif.cli"], env=child_env(tmp_path), check=True)
    cli_seconds = time.monotonic() - started
    proc = _start(["animate", a, b, "-o", target, "--working-size", 512, "-q"], tmp_path)
    time.sleep(cli_seconds + 0.1)  # the CLI is loaded; the command's own imports are under way
    assert proc.poll() is None
    proc.send_signal(sig)
    _check_interrupted(proc, target)
