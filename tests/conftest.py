"""Shared fixtures: tiny synthetic images, made here (no data files); in/ and out/ folders and
shortened or forbidden fits for the bad-input tests. Shared helpers are in ``helpers.py``."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

# OMP_NUM_THREADS=1 where two torch jobs must share 2 cores (they slow each other 10-40x)
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


def blob_image(height=48, width=64, shift=(0.0, 0.0), seed=0) -> np.ndarray:
    """A smooth, textured RGB image (H, W, 3) uint8; ``shift`` moves its content by (dx, dy) px."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((height, width, 3))
    for _ in range(6):
        cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
        r = rng.uniform(0.08, 0.2) * max(height, width)
        colour = rng.uniform(0.2, 1.0, size=3)
        g = np.exp(-(((xs - cx - shift[0]) ** 2 + (ys - cy - shift[1]) ** 2) / (2 * r * r)))
        out += g[..., None] * colour
    out = out / out.max() * 0.8 + 0.1
    return (out * 255).round().astype(np.uint8)


@pytest.fixture
def pair_images():
    """A and B: B is A's content moved 3 px right and 2 px down."""
    return blob_image(), blob_image(shift=(3.0, 2.0))


@pytest.fixture
def image_files(tmp_path, pair_images):
    a, b = pair_images
    pa, pb = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(a).save(pa)
    Image.fromarray(b).save(pb)
    return pa, pb


def moving_frames(n=6, h=40, w=48):
    """``n`` frames of a texture moving 2 px right per frame, and a pixel up and down."""
    return [blob_image(h, w, shift=(2 * k, k % 2)) for k in range(n)]


def cli(*args):
    """Run the CLI in-process (Typer's CliRunner); a traceback in its output fails the test."""
    from typer.testing import CliRunner

    from img2gif.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in (result.output or "")
    return result


def one_error(result) -> str:
    """The one line of a refused command (exit 2)."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    return lines[0]


def invoke(*args, env=None):
    """``cli`` that also fails on an exception the CLI did not turn into an exit code."""
    from typer.testing import CliRunner

    from img2gif.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def stderr_error(result) -> str:
    """The one ``error:`` line on stderr of a refused command (exit 2); stdout is not looked at."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def install_plugin(tmp_path, monkeypatch):
    """install_plugin(dist, {group: {name: target}}, {module: source}): a minimal installed
    distribution (dist-info with entry points) and its modules, on sys.path for this test."""
    from img2gif import registry

    site = tmp_path / "plugin-site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(dist: str, entry_points: dict, modules: dict) -> None:
        info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
        lines = []
        for group, eps in entry_points.items():
            lines += [f"[{group}]"] + [f"{k} = {v}" for k, v in eps.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(source)
        registry.clear_cache()

    yield install
    registry.clear_cache()


# --- a bad-input run's folders and fits (in/ holds the inputs, out/ must stay empty) ------

@pytest.fixture
def dirs(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    return src, out


@pytest.fixture
def good(dirs):
    """Two good 24x32 images A and B in in/."""
    src, _ = dirs
    a, b = src / "a.png", src / "b.png"
    Image.fromarray(blob_image(24, 32)).save(a)
    Image.fromarray(blob_image(24, 32, shift=(2.0, 1.0))).save(b)
    return a, b


@pytest.fixture
def no_fit(monkeypatch):
    """Any fitting work fails the test (it would surface as exit code 1, not 2)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the fit started, but the run should have been refused before it")

    import img2gif.pair

    monkeypatch.setattr(img2gif.pair, "fit_pair_tensors", refuse)


@pytest.fixture
def quick_fit(monkeypatch):
    """The real fit with a handful of optimiser steps (the CLI has no option for that)."""
    import dataclasses

    import img2gif.pair
    from img2gif.fit import FitSettings

    real = img2gif.pair.fit_pair_tensors
    calls = []

    def quick(a, b, settings=None, *args, **kwargs):
        calls.append(settings)
        settings = dataclasses.replace(settings or FitSettings(), steps=(3, 2, 2))
        return real(a, b, settings, *args, **kwargs)

    monkeypatch.setattr(img2gif.pair, "fit_pair_tensors", quick)
    return calls
