"""Crafted checkpoints (issue 10): small files that ask for gigabytes, hangs or nonsense.

Every file here is real: a record built from a real pair or shipped model, changed, given
a valid digest where the attack needs one (``checkpoint.digest``, as an attacker would),
saved with torch.save and loaded through the real loaders and CLI. Each must be one
``error:`` line naming the file and the field, exit code 2, refused before anything large
is allocated. Attacks that would allocate gigabytes or hang run the CLI in a subprocess
under a memory cap and a timeout, so a regression fails the test instead of the machine.
"""
from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import blob_image
from img2gif import checkpoint, models
from img2gif.errors import InputError
from img2gif.fit import FitSettings
from img2gif.learned import LearnedModel
from img2gif.pair import Pair, fit_pair
from img2gif.solvers.base import MIN_STEP_SIZE
from img2gif.velocity.svf import SVF
from img2gif.velocity.unet import UNetVelocity
from helpers import error_line, run

H, W = 24, 32
MEMORY_CAP = 3 << 29  # 1.5 GiB of address space: img2gif inspects a small pair in well under 1 GiB
DIGITS = models.PACKAGE_MODELS / "digits.pt"


# --- making and running crafted files ----------------------------------------------------

@pytest.fixture(scope="module")
def pair_file(tmp_path_factory):
    """A real (tiny) pair file to start from."""
    path = tmp_path_factory.mktemp("pair") / "pair.pt"
    settings = FitSettings(working_size=16, steps=(2, 2, 2))
    fit_pair(blob_image(H, W), blob_image(H, W, shift=(2.0, 1.0)), settings, device="cpu").save(path)
    return path


def pair_record(pair_file) -> dict:
    return torch.load(pair_file, weights_only=True)


def model_record() -> dict:
    return torch.load(DIGITS, weights_only=True)


def write(record: dict, path, digest=True):
    """Save ``record`` as it is; with ``digest``, with a digest that matches it (as an attacker would)."""
    if digest:
        record["digest"] = checkpoint.digest(record)
    torch.save(record, path)
    return path


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(blob_image(H, W)).save(path)
    return path


def capped_error(*args, timeout=60) -> str:
    """The one error line of ``img2gif *args`` run in a subprocess with at most MEMORY_CAP of memory.

    A loader that allocated what the file asks for would die of MemoryError (a traceback)
    and one that looped would time out: either fails here.
    """
    cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))  # noqa: E731
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "img2gif", *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, preexec_fn=cap, env=env)
    err = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(err) == 1 and err[0].startswith("error: "), result.stderr[-2000:]
    return err[0]


# --- 5. tiny files that would allocate gigabytes -----------------------------------------

def test_svf_grid_of_30000_squared_is_refused_before_it_is_allocated(pair_file, tmp_path):
    record = pair_record(pair_file)
    record["velocity"]["config"]["size"] = [30000, 30000]  # 7.2 GB of float32 grids
    bad = write(record, tmp_path / "huge-grid.pt")
    assert os.path.getsize(bad) < 100_000
    line = capped_error("animate", "--from", bad, "-o", tmp_path / "x.gif", "--frames", 3)
    assert str(bad) in line and "size[0]" in line and "4096" in line, line
    assert not (tmp_path / "x.gif").exists()


def test_unet_of_width_20000_is_refused_before_it_is_allocated(tmp_path, image):
    record = model_record()
    record["velocity"]["config"]["width"] = 20000
    bad = write(record, tmp_path / "wide.pt")
    line = capped_error("animate", image, "--model", bad, "-o", tmp_path / "x.gif", "--frames", 3)
    assert str(bad) in line and "width" in line and "20000" in line, line


def test_unet_over_the_parameter_limit_is_refused(tmp_path, image):
    record = model_record()
    record["velocity"]["config"].update(width=256, depth=5)  # each within range, 2 billion parameters together
    bad = write(record, tmp_path / "deep.pt")
    line = capped_error("animate", image, "--model", bad, "-o", tmp_path / "x.gif", "--frames", 3)
    assert str(bad) in line and "parameters, over the limit" in line, line


def test_model_image_size_60000_is_refused(tmp_path, image):
    record = model_record()
    record["image_size"] = 60000  # the image would be resized to 60000 x 60000 per channel
    bad = write(record, tmp_path / "big-input.pt")
    line = capped_error("animate", image, "--model", bad, "-o", tmp_path / "x.gif", "--frames", 3)
    assert str(bad) in line and "'image_size'" in line and "1024" in line, line


def test_stride_0_image_is_refused_before_the_digest_expands_it(pair_file, tmp_path):
    record = pair_record(pair_file)
    one_pixel = torch.zeros(1, 1, 1, dtype=torch.uint8)
    record["images"] = {k: one_pixel.expand(40000, 40000, 3) for k in "ab"}  # 4.8 GB each, 1 byte stored
    record["digest"] = "0" * 64  # computing the real one would expand it here: the refusal comes first
    bad = write(record, tmp_path / "stride0.pt", digest=False)
    assert os.path.getsize(bad) < 100_000
    line = capped_error("inspect", bad)
    assert str(bad) in line and "images." in line and "[40000, 40000, 3]" in line and "repeated view" in line, line


def test_overlapping_weight_view_is_refused(tmp_path):
    record = model_record()
    key = next(iter(record["state_dict"]))
    record["state_dict"][key] = torch.zeros(2000).as_strided((1000, 1000), (1, 1))  # 1e6 elements on 2000
    record["digest"] = "0" * 64
    bad = write(record, tmp_path / "overlap.pt", digest=False)
    with pytest.raises(InputError, match=f"state_dict.{key} claims 1,000,000 elements"):
        checkpoint.load(bad)


def test_zip_entry_that_unpacks_far_beyond_the_file_is_refused(pair_file, tmp_path):
    record = pair_record(pair_file)
    record["padding"] = torch.zeros(64 << 20, dtype=torch.uint8)
    stored = write(record, tmp_path / "stored.pt")
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(stored) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():  # the same entries, deflated: torch.load reads these too
            dst.writestr(info.filename, src.read(info.filename))
    os.remove(stored)
    assert os.path.getsize(bomb) < (64 << 20) / checkpoint.MAX_EXPANSION
    started = time.perf_counter()
    line = error_line(run("inspect", bomb))
    assert str(bomb) in line and "unpack to" in line and f"{checkpoint.MAX_EXPANSION}x" in line, line
    assert time.perf_counter() - started < 10


def test_shared_lists_that_double_at_each_level_are_refused(pair_file, tmp_path):
    """A billion laughs: 28 levels of [x, x] pickle to a few hundred bytes but reach 2^28 values."""
    record = pair_record(pair_file)
    laugh = []
    for _ in range(checkpoint.MAX_DEPTH - 4):  # within the depth limit: the count must catch it
        laugh = [laugh, laugh]
    record["laughs"] = laugh
    record["digest"] = "0" * 64  # the digest walk itself is what would never end
    bad = write(record, tmp_path / "laughs.pt", digest=False)
    line = capped_error("inspect", bad)
    assert str(bad) in line and f"over {checkpoint.MAX_VALUES:,} values" in line, line


def test_deep_nesting_is_refused(pair_file, tmp_path):
    record = pair_record(pair_file)
    deep = []
    for _ in range(5000):  # the digest and describe() recurse: this would be a RecursionError
        deep = [deep]
    record["deep"] = deep
    record["digest"] = "0" * 64
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)  # torch.save recurses too; torch.load's unpickler does not
    try:
        bad = write(record, tmp_path / "deep.pt", digest=False)
    finally:
        sys.setrecursionlimit(limit)
    line = capped_error("inspect", bad)
    assert str(bad) in line and f"nested over {checkpoint.MAX_DEPTH} levels" in line, line


def test_non_zip_legacy_format_is_refused(tmp_path):
    # the legacy format allocates each storage at the size its header claims, before reading it
    legacy = tmp_path / "legacy.pt"
    torch.save(model_record(), legacy, _use_new_zipfile_serialization=False)
    line = error_line(run("inspect", legacy))
    assert str(legacy) in line and "not a zip archive" in line, line


# --- 6. hangs ------------------------------------------------------------------------------

def test_model_with_a_tiny_step_size_is_refused_not_run(tmp_path, image):
    record = model_record()
    record["solver"]["config"]["step_size"] = 1e-9  # compose would take 1e9 steps per frame
    bad = write(record, tmp_path / "slow.pt")
    line = capped_error("animate", image, "--model", bad, "-o", tmp_path / "x.gif", "--frames", 3, timeout=60)
    assert str(bad) in line and "step_size" in line and f"{MIN_STEP_SIZE:g}" in line, line


def test_pair_with_a_tiny_euler_step_is_refused_not_run(pair_file, tmp_path):
    record = pair_record(pair_file)
    record["solver"] = {"name": "euler", "config": {"step_size": 1e-9, "rtol": 1e-4, "atol": 1e-5, "adjoint": False}}
    bad = write(record, tmp_path / "slow.pt")
    line = capped_error("animate", "--from", bad, "-o", tmp_path / "x.gif", "--frames", 3, timeout=60)
    assert str(bad) in line and "step_size" in line, line


@pytest.mark.parametrize("name,options,field", [
    ("euler", {"step_size": 1e-9}, "step_size"),
    ("rk4", {"step_size": math.nan}, "step_size"),
    ("compose", {"step_size": 1e-4}, "step_size"),
    ("compose", {"step_size": "0.25"}, "step_size"),
    ("dopri5", {"rtol": 0.0}, "rtol"),
    ("dopri5", {"atol": math.inf}, "atol"),
    ("dopri5", {"rtol": 1e-12}, "rtol"),
    ("euler", {"adjoint": "no"}, "adjoint"),
    ("scaling-squaring", {"steps": 17}, "steps"),
    ("scaling-squaring", {"steps": True}, "steps"),
    ("scaling-squaring", {"steps": 6.5}, "steps"),
])
def test_solver_constructors_refuse_bad_options(name, options, field):
    from img2gif import registry

    with pytest.raises(ValueError, match=field):
        registry.load("solvers", name)(**options)


@pytest.mark.parametrize("make,field", [
    (lambda: SVF(size=(30000, 30000)), "size"),
    (lambda: SVF(size=("64", 64)), "size"),
    (lambda: SVF(levels=9), "levels"),
    (lambda: UNetVelocity(width=20000), "width"),
    (lambda: UNetVelocity(depth=True), "depth"),
    (lambda: UNetVelocity(in_channels=0), "in_channels"),
])
def test_velocity_constructors_refuse_bad_sizes_at_once(make, field):
    started = time.perf_counter()
    with pytest.raises(ValueError, match=field):
        make()
    assert time.perf_counter() - started < 1  # refused, not allocated and then refused


# --- 7. the digest is required ---------------------------------------------------------------

def test_file_without_a_digest_is_refused(pair_file, tmp_path):
    record = pair_record(pair_file)
    del record["digest"]
    bad = write(record, tmp_path / "no-digest.pt", digest=False)
    line = error_line(run("inspect", bad))
    assert str(bad) in line and "has no checksum" in line, line


@pytest.mark.parametrize("name", sorted(models.registry()))
def test_shipped_models_carry_a_digest_and_load(name):
    path = models.PACKAGE_MODELS / models.registry()[name]["file"]
    assert isinstance(torch.load(path, weights_only=True).get("digest"), str)
    model = LearnedModel.load(path)
    assert model.size in (32, 64) and model.channels == 1


# --- 10. non-finite weights ------------------------------------------------------------------

@pytest.mark.parametrize("kind,value", [("pair", math.nan), ("model", math.inf)])
def test_non_finite_weights_are_refused(kind, value, pair_file, tmp_path, image):
    record = pair_record(pair_file) if kind == "pair" else model_record()
    key = next(k for k, v in record["state_dict"].items() if v.is_floating_point())
    record["state_dict"][key].view(-1)[0] = value
    bad = write(record, tmp_path / "nan.pt")
    args = ["inspect", bad] if kind == "pair" else ["animate", image, "--model", bad, "-o", tmp_path / "x.gif"]
    line = error_line(run(*args))
    assert str(bad) in line and "holds NaN or infinite weights" in line and key in line, line


# --- 8. pair images obey the image limits ------------------------------------------------------

def test_pair_images_over_the_pixel_limit_are_refused(pair_file, monkeypatch):
    monkeypatch.setenv("IMG2GIF_MAX_PIXELS", "500")  # the pair's images are 32 x 24 = 768 px
    line = error_line(run("inspect", pair_file))
    assert str(pair_file) in line and "image a is 32x24" in line and "over the limit of 500" in line, line


def test_api_arrays_obey_the_image_limits():
    with pytest.raises(InputError, match="^fit_pair: image A is 1x1; both sides must be at least 2"):
        fit_pair(np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1, 3), np.uint8), device="cpu")
    with pytest.raises(InputError, match=r"image B must be \(height, width, 3\) uint8"):
        fit_pair(blob_image(H, W), np.zeros((H, W, 4), np.uint8), device="cpu")


# --- 14. digest-valid files with nonsense in them -------------------------------------------------

def _images(a, b=None):
    def change(r):
        r["images"] = {"a": a, "b": a if b is None else b}
    return change


def _set(section, key, value):
    def change(r):
        r[section]["config"][key] = value
    return change


def _field(key, value):
    def change(r):
        r[key] = value
    return change


PAIR_CASES = {
    "string size": (_set("velocity", "size", ["64", 64]), "size[0] must be a whole number"),
    "zero size": (_set("velocity", "size", [0, 8]), "size[0] must be a whole number between 1"),
    "bool levels": (_set("velocity", "levels", True), "levels must be a whole number"),
    "extra velocity key": (_set("velocity", "colour", 1), "unexpected keyword argument 'colour'"),
    "unknown velocity": (lambda r: r["velocity"].update(name="nope"), "unknown velocity 'nope'"),
    "velocity not a dict": (_field("velocity", "svf"), "field 'velocity' must be"),
    "string squarings": (_set("solver", "steps", "6"), "steps must be a whole number"),
    "zero tolerance": (_field("solver", {"name": "dopri5", "config": {"rtol": 0.0}}), "rtol must be a finite number"),
    "rgba images": (_images(torch.zeros(H, W, 4, dtype=torch.uint8)), "image a must be (height, width, 3) uint8"),
    "float images": (_images(torch.zeros(H, W, 3)), "image a must be (height, width, 3) uint8"),
    "0x0 images": (_images(torch.zeros(0, 0, 3, dtype=torch.uint8)), "image a is 0x0; both sides must be at least 2"),
    "1x1 images": (_images(torch.zeros(1, 1, 3, dtype=torch.uint8)), "image a is 1x1; both sides must be at least 2"),
    "images differ": (_images(torch.zeros(H, W, 3, dtype=torch.uint8), torch.zeros(H, W + 2, 3, dtype=torch.uint8)),
                      "images a and b differ in size"),
    "image_size wrong": (_field("image_size", [1, 1]), "field 'image_size' is [1, 1]"),
    "working_shape wrong": (_field("working_shape", [9999, 9999]), "field 'working_shape' is [9999, 9999]"),
    "string working size": (lambda r: r["fit"].update(working_size="256"), "fit setting 'working_size' is '256'"),
    "fit not a dict": (_field("fit", [1, 2]), "field 'fit' must be a dict, got [1, 2]"),
}


@pytest.mark.parametrize("case", sorted(PAIR_CASES))
def test_crafted_pair_is_one_error_naming_the_field(case, pair_file, tmp_path):
    change, words = PAIR_CASES[case]
    record = pair_record(pair_file)
    change(record)
    bad = write(record, tmp_path / "crafted.pt")
    line = error_line(run("inspect", bad))
    assert str(bad) in line and words in line, line
    with pytest.raises(InputError, match=str(bad)):  # the API says the same
        Pair.load(bad)


MODEL_CASES = {
    "channels mismatch": (_field("channels", 3), "takes 3-channel images but its velocity's in_channels is 1"),
    "two channels": (_field("channels", 2), "field 'channels' must be 1, 3 or 4"),
    "float channels": (_field("channels", 1.0), "field 'channels' must be 1, 3 or 4"),
    "string image size": (_field("image_size", "32"), "field 'image_size' must be a whole number"),
    "negative image size": (_field("image_size", -32), "field 'image_size' must be a whole number"),
    "bool depth": (_set("velocity", "depth", True), "depth must be a whole number"),
    "width without whole groups": (_set("velocity", "width", 12), "width 12: each level's channels"),
    "string step size": (_set("solver", "step_size", "0.25"), "step_size must be a finite number"),
    "extra solver key": (_set("solver", "steps", 4), "unexpected keyword argument 'steps'"),
    "unknown solver": (lambda r: r["solver"].update(name="leapfrog"), "unknown solver 'leapfrog'"),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_crafted_model_is_one_error_naming_the_field(case, tmp_path, image):
    change, words = MODEL_CASES[case]
    record = model_record()
    change(record)
    bad = write(record, tmp_path / "crafted.pt")
    line = error_line(run("animate", image, "--model", bad, "-o", tmp_path / "x.gif", "--frames", 3))
    assert str(bad) in line and words in line, line
    assert not (tmp_path / "x.gif").exists()


# --- 20. a pipe given as a checkpoint ------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_checkpoint_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    line = error_line(run("inspect", fifo))
    assert str(fifo) in line and "not a regular file (a pipe, socket or device)" in line, line
