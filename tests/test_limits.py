"""Documented upper bounds (README "Limits"): each fails fast, before any fit or render."""
from __future__ import annotations

import time

import pytest
from PIL import Image

from conftest import blob_image
from helpers import assert_empty, error_line, run
from img2gif import pipeline, timing


@pytest.mark.parametrize("option,value,words", [
    ("--frames", timing.MAX_FRAMES + 1, f"between 2 and {timing.MAX_FRAMES}"),
    ("--fps", timing.MAX_FPS * 2, f"at most {timing.MAX_FPS:g}"),
    ("--duration", timing.MAX_DURATION + 1, f"at most {timing.MAX_DURATION:g}"),
    ("--hold-end", timing.MAX_HOLD + 1, f"between 0 and {timing.MAX_HOLD:g}"),
    ("--size", pipeline.MAX_SIZE + 1, f"between 2 and {pipeline.MAX_SIZE}"),
])
def test_option_over_its_limit_is_refused_before_work(option, value, words, dirs, good, no_fit):  # noqa: F811
    src, out = dirs
    a, b = good
    started = time.perf_counter()
    result = run("animate", a, b, option, value, "-o", out / "x.gif")
    assert words in error_line(result)
    assert time.perf_counter() - started < 10  # refused up front, not after a fit
    assert_empty(out)


def test_fps_times_duration_over_the_frame_limit(dirs, good, no_fit):  # noqa: F811
    src, out = dirs
    a, b = good
    line = error_line(run("animate", a, b, "--fps", 240, "--duration", 60, "-o", out / "x.mp4"))
    assert "14400 frames" in line and str(timing.MAX_FRAMES) in line
    assert_empty(out)


def test_frames_times_pixels_over_the_output_limit(dirs, good, no_fit, monkeypatch):  # noqa: F811
    src, out = dirs
    a, b = good  # 32 x 24 = 768 px
    monkeypatch.setenv("IMG2GIF_MAX_OUTPUT_PIXELS", str(768 * 10))
    line = error_line(run("animate", a, b, "--frames", 11, "-o", out / "x.mp4"))
    assert str(a) in line and "11 frames of 32x24" in line and "IMG2GIF_MAX_OUTPUT_PIXELS" in line
    assert_empty(out)


def test_output_limit_applies_to_models_and_reverse(dirs, good, monkeypatch, tmp_path):  # noqa: F811
    src, out = dirs
    a, _ = good
    monkeypatch.setenv("IMG2GIF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IMG2GIF_MAX_OUTPUT_PIXELS", "5000")
    for command in ("animate", "reverse"):
        line = error_line(run(command, a, "--model", "digits", "--frames", 10, "-o", out / "x.gif"))
        assert "over the limit of 5,000" in line
    assert_empty(out)


def test_output_limit_counts_the_size_cap(dirs, monkeypatch, tmp_path):  # noqa: F811
    """--size shrinks the frames first, so a big image with a small --size passes."""
    src, out = dirs
    big = src / "big.png"
    Image.fromarray(blob_image(200, 300)).save(big)
    monkeypatch.setenv("IMG2GIF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IMG2GIF_MAX_OUTPUT_PIXELS", str(64 * 43 * 4))
    assert error_line(run("animate", big, "--model", "digits", "--frames", 4, "-o", out / "x.gif"))
    result = run("animate", big, "--model", "digits", "--frames", 4, "--size", 64, "-o", out / "x.gif")
    assert result.exit_code == 0, result.output


def test_bad_limit_variable_is_an_error(dirs, good, no_fit, monkeypatch):  # noqa: F811
    src, out = dirs
    a, b = good
    monkeypatch.setenv("IMG2GIF_MAX_OUTPUT_PIXELS", "lots")
    assert "IMG2GIF_MAX_OUTPUT_PIXELS" in error_line(run("animate", a, b, "-o", out / "x.gif"))


@pytest.mark.parametrize("option,value", [("--size", 2048), ("--batch-size", 5000), ("--steps", 0)])
def test_train_limits(option, value, tmp_path):
    data = tmp_path / "data"
    for sub in ("start", "end"):
        (data / sub).mkdir(parents=True)
        Image.fromarray(blob_image(16, 16)).save(data / sub / "x.png")
    line = error_line(run("train", "--data", data, "--unpaired", option, value, "-o", tmp_path / "m.pt"))
    assert option in line
    assert not (tmp_path / "m.pt").exists()
