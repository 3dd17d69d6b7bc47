"""The output options from the command line: --quality, --codec, --dither, --loop N, --fit."""
import os

import pytest
from PIL import Image

from img2gif.gif import read_blocks

from conftest import cli, one_error

FAST = ["--working-size", "32", "-q", "--frames", "4"]






@pytest.fixture
def pair(tmp_path):
    from conftest import blob_image

    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(blob_image(32, 40)).save(a)
    Image.fromarray(blob_image(32, 40, shift=(2, 1))).save(b)
    return a, b


def test_loop_count_reaches_the_gif(tmp_path, pair):
    out = tmp_path / "three.gif"
    result = cli("animate", *pair, "-o", out, "--loop", "3", *FAST)
    assert result.exit_code == 0, result.output
    assert read_blocks(out.read_bytes())[2] == 2


@pytest.mark.parametrize("args, words", [
    (["--codec", "h265", "-o", "x.gif"], "--codec applies to MP4 only"),
    (["--dither", "bayer", "-o", "x.mp4"], "--dither applies to GIF only"),
])
def test_options_a_format_cannot_use_are_one_line_and_write_nothing(tmp_path, pair, args, words, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    line = one_error(cli("animate", *pair, *args, *FAST))
    assert words in line
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("args, words", [
    (["--loop", "0"], "--loop"), (["--loop", "twice"], "--loop"),
    (["--quality", "0"], "--quality"), (["--quality", "101"], "--quality"),
    (["--fit", "zoom"], "--fit"), (["--dither", "sierra"], "--dither"), (["--codec", "vp9"], "--codec"),
])
def test_bad_output_values_are_usage_errors(tmp_path, pair, args, words, monkeypatch):
    """Refused while parsing (the console script prints these on one line: test_cli)."""
    monkeypatch.chdir(tmp_path)
    result = cli("animate", *pair, *args, "-o", "x.gif", *FAST)
    assert result.exit_code == 2 and words in result.output
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png"]


def test_quality_on_a_lossless_format_is_a_warning(tmp_path, pair):
    out = tmp_path / "anim.png"
    result = cli("animate", *pair, "-o", out, "--quality", "50", *FAST)
    assert result.exit_code == 0 and "lossless" in result.output and out.exists()


def test_lower_quality_gives_a_smaller_mp4(tmp_path, pair):
    sizes = []
    for q in ("30", "95"):
        out = tmp_path / f"q{q}.mp4"
        assert cli("animate", *pair, "-o", out, "--quality", q, *FAST).exit_code == 0
        sizes.append(out.stat().st_size)
    assert sizes[0] < sizes[1]


def test_fit_says_what_was_done(tmp_path, pair):
    a, _ = pair
    from conftest import blob_image

    wide = tmp_path / "wide.png"
    Image.fromarray(blob_image(32, 80)).save(wide)
    for fit, words in (("crop", "cropped to its middle"), ("pad", "padded with black"), ("stretch", "stretched")):
        out = tmp_path / f"{fit}.gif"
        result = cli("animate", a, wide, "-o", out, "--fit", fit, *FAST)
        assert result.exit_code == 0 and words in result.output, result.output
        with Image.open(out) as im:
            assert im.size == (40, 32)


def test_help_explains_the_output_options():
    text = cli("animate", "--help").output
    for words in ("--quality", "--codec", "--dither", "--fit", "CRF", "lossless", "pingpong"):
        assert words in text
