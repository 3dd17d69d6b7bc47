"""Bad input through the CLI, end to end with Typer's CliRunner.

The rule: a bad input or output gives one line on stderr starting with "error:" that
names the problem and the file, exit code 2, no traceback, and nothing left behind in
the output folder (no output file, no temp file). A changed input gives a line starting
with "warning:" and the run succeeds.

Inputs live in ``in/`` and outputs go to ``out/``, so "nothing left behind" is simply
"out/ is empty". Fits are shortened (``quick_fit``) except in one test that runs the
real one; a fit that must not start is made to fail loudly (``no_fit``).
"""
from __future__ import annotations

import errno
import io
import os
import struct
import tempfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import blob_image
from helpers import about, assert_empty, error_line, lines, main_usage_error, run, warning_lines

H, W = 24, 32
FAST = ["--frames", "4", "--working-size", "32", "-q"]


# --- running and checking --------------------------------------------------------------





















# --- bad input files --------------------------------------------------------------------

def _png_claiming(width, height) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def _half_of(fmt, size=(H, W)):
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((*size, 3)) * 255).astype(np.uint8)).save(buf, fmt)
    data = buf.getvalue()
    return data[: len(data) // 2]


def make_bad(kind, folder, monkeypatch):
    """A bad input file of ``kind`` in folder; returns (path, words the error must contain)."""
    if kind == "missing":
        return folder / "missing.png", ["no such file"]
    if kind == "directory":
        (folder / "photo.png").mkdir()
        return folder / "photo.png", ["directory"]
    if kind == "empty":
        (folder / "empty.png").write_bytes(b"")
        return folder / "empty.png", ["empty"]
    if kind == "random-png":
        (folder / "noise.png").write_bytes(np.random.default_rng(1).bytes(600))
        return folder / "noise.png", ["not an image"]
    if kind == "random-jpg":
        (folder / "noise.jpg").write_bytes(np.random.default_rng(2).bytes(600))
        return folder / "noise.jpg", ["not an image"]
    if kind == "truncated-png":
        (folder / "half.png").write_bytes(_half_of("PNG"))
        return folder / "half.png", ["truncated"]
    if kind == "truncated-jpg":
        (folder / "half.jpg").write_bytes(_half_of("JPEG", (96, 128)))
        return folder / "half.jpg", ["truncated"]
    if kind == "bomb":
        (folder / "bomb.png").write_bytes(_png_claiming(100_000, 100_000))
        return folder / "bomb.png", ["too large", "50,000,000"]
    if kind == "env-limit":
        monkeypatch.setenv("IMG2GIF_MAX_PIXELS", "1000")  # A (768 px) passes, this (1600 px) does not
        Image.fromarray(blob_image(40, 40)).save(folder / "big.png")
        return folder / "big.png", ["1,000", "40x40"]
    if kind == "one-pixel":
        Image.new("RGB", (1, 1), (255, 0, 0)).save(folder / "dot.png")
        return folder / "dot.png", ["1x1", "at least 2"]
    raise ValueError(kind)


BAD = ["missing", "directory", "empty", "random-png", "random-jpg", "truncated-png", "truncated-jpg",
       "bomb", "env-limit", "one-pixel"]


@pytest.mark.parametrize("kind", BAD)
def test_animate_refuses_bad_b(kind, dirs, good, no_fit, monkeypatch):
    src, out = dirs
    bad, words = make_bad(kind, src, monkeypatch)
    text = about(error_line(run("animate", good[0], bad, "-o", out / "anim.gif", *FAST)), bad)
    for word in words:
        assert word in text, text
    assert_empty(out)


@pytest.mark.parametrize("kind", BAD)
def test_fit_pair_refuses_bad_input(kind, dirs, good, no_fit, monkeypatch):
    src, out = dirs
    bad, words = make_bad(kind, src, monkeypatch)
    # A first where the check is on A alone; env-limit needs the good A read first
    args = (good[0], bad) if kind == "env-limit" else (bad, good[1])
    text = about(error_line(run("fit-pair", *args, "-o", out / "pair.pt", "--working-size", "32", "-q")), bad)
    for word in words:
        assert word in text, text
    assert_empty(out)


def test_both_inputs_bad_names_the_first(dirs, no_fit, monkeypatch):
    src, out = dirs
    line = error_line(run("animate", src / "first.png", src / "second.png", "-o", out / "x.gif", *FAST))
    assert "second.png" not in about(line, src / "first.png")


# --- bad output paths -------------------------------------------------------------------

def test_animate_output_folder_missing(dirs, good, no_fit):
    _, out = dirs
    target = out / "no" / "such" / "anim.gif"
    assert "does not exist" in about(error_line(run("animate", *good, "-o", target, *FAST)), target)
    assert_empty(out)


def test_fit_pair_output_folder_missing(dirs, good, no_fit):
    _, out = dirs
    target = out / "nowhere" / "pair.pt"
    line = error_line(run("fit-pair", *good, "-o", target, "--working-size", "32", "-q"))
    assert "does not exist" in about(line, target)
    assert_empty(out)


def test_output_folder_is_a_file(dirs, good, no_fit):
    # -o in/a.png/anim.gif: the "folder" is an image file
    line = error_line(run("animate", *good, "-o", good[0] / "anim.gif", *FAST))
    about(line, good[0] / "anim.gif")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write to read-only folders")
def test_output_folder_read_only(dirs, good, no_fit):
    _, out = dirs
    out.chmod(0o555)
    try:
        line = error_line(run("animate", *good, "-o", out / "anim.gif", *FAST))
        assert "not writable" in about(line, out / "anim.gif")
        assert_empty(out)
    finally:
        out.chmod(0o755)


def test_unknown_output_extension_lists_known_ones(dirs, good, no_fit):
    _, out = dirs
    text = about(error_line(run("animate", *good, "-o", out / "anim.xyz", *FAST)), out / "anim.xyz")
    assert "'.xyz'" in text
    for ext in (".gif", ".mp4", ".webp", ".png", ".apng"):
        assert ext in text
    assert_empty(out)


def test_fit_pair_output_must_be_pt(dirs, good, no_fit):
    _, out = dirs
    line = error_line(run("fit-pair", *good, "-o", out / "pair.gif", "--working-size", "32", "-q"))
    assert ".pt" in about(line, out / "pair.gif")
    assert_empty(out)


def test_animate_output_gif_is_an_existing_directory(dirs, good, no_fit):
    _, out = dirs
    target = out / "anim.gif"
    target.mkdir()
    assert "directory" in about(error_line(run("animate", *good, "-o", target, *FAST)), target)
    assert os.listdir(target) == []  # not filled with PNG frames instead
    assert os.listdir(out) == ["anim.gif"]


def test_fit_pair_output_is_an_existing_directory(dirs, good, no_fit):
    _, out = dirs
    target = out / "pair.pt"
    target.mkdir()
    line = error_line(run("fit-pair", *good, "-o", target, "--working-size", "32", "-q"))
    assert "directory" in about(line, target)
    assert os.listdir(out) == ["pair.pt"] and os.listdir(target) == []


# --- failures while writing: still nothing partial ----------------------------------------

def test_animate_disk_full_while_writing(dirs, good, quick_fit, monkeypatch):
    _, out = dirs

    def half_then_full(writer, tmp, *args, **kwargs):
        tmp.write_bytes(b"GIF89a" + b"\0" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("img2gif.writers.gif.GifWriter.write", half_then_full)
    line = error_line(run("animate", *good, "-o", out / "anim.gif", *FAST))
    assert os.strerror(errno.ENOSPC) in about(line, out / "anim.gif")
    assert quick_fit  # the failure came at the end, after the fit
    assert_empty(out)


def test_fit_pair_disk_full_while_saving(dirs, good, quick_fit, monkeypatch):
    _, out = dirs

    def half_then_full(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04" + b"\0" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", half_then_full)
    line = error_line(run("fit-pair", *good, "-o", out / "pair.pt", "--working-size", "32", "-q"))
    assert os.strerror(errno.ENOSPC) in about(line, out / "pair.pt")
    assert_empty(out)


@pytest.mark.parametrize("command,name", [("animate", "anim.gif"), ("fit-pair", "pair.pt")])
def test_temp_file_cannot_be_created(dirs, good, quick_fit, monkeypatch, command, name):
    _, out = dirs

    def no_room(*args, **kwargs):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(tempfile, "mkstemp", no_room)
    extra = FAST if command == "animate" else ["--working-size", "32", "-q"]
    line = error_line(run(command, *good, "-o", out / name, *extra))
    assert os.strerror(errno.EDQUOT) in about(line, out / name)
    assert_empty(out)


def test_interrupt_while_writing_leaves_nothing(dirs, good, quick_fit, monkeypatch):
    _, out = dirs

    def interrupted(writer, tmp, *args, **kwargs):
        tmp.write_bytes(b"GIF89a")
        raise KeyboardInterrupt

    monkeypatch.setattr("img2gif.writers.gif.GifWriter.write", interrupted)
    result = run("animate", *good, "-o", out / "anim.gif", *FAST)
    assert result.exit_code == 130
    assert_empty(out)


# --- accepted with a warning -------------------------------------------------------------

def test_mismatched_sizes_warn_and_output_has_a_size(dirs, good):
    """The one test with the real (unshortened) fit."""
    src, out = dirs
    b = src / "b_big.png"
    Image.fromarray(blob_image(36, 48, shift=(2.0, 1.0))).save(b)
    result = run("animate", good[0], b, "-o", out / "anim.gif", *FAST)
    assert result.exit_code == 0, result.output
    warns = warning_lines(result)
    assert len(warns) == 1 and "B is 48x36, A is 32x24" in warns[0] and "resized" in warns[0]
    assert not any(line.startswith("error") for line in lines(result.stderr))
    with Image.open(out / "anim.gif") as im:
        assert im.size == (W, H) and im.n_frames == 4
    assert os.listdir(out) == ["anim.gif"]


def _animated(path):
    frames = [Image.fromarray(blob_image(H, W, shift=(2.0, 1.0))), Image.new("RGB", (W, H), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _deep(path):
    Image.fromarray((blob_image(H, W, shift=(2.0, 1.0))[..., 0].astype(np.uint16) * 257)).save(path)


# (an RGBA B was flattened onto white here until transparency was kept: tests/test_alpha.py,
# test_rgb_a_with_rgba_b_keeps_b_transparency, has that case now)
@pytest.mark.parametrize("name,make,words", [
    ("b_anim.gif", _animated, "first frame"),
    ("b_16bit.png", _deep, "reduced to 8 bits"),
])
def test_converted_input_warns_and_succeeds(dirs, good, quick_fit, name, make, words):
    src, out = dirs
    make(src / name)
    result = run("animate", good[0], src / name, "-o", out / "anim.gif", *FAST)
    assert result.exit_code == 0, result.output
    warns = warning_lines(result)
    assert any(words in w and name in w for w in warns), result.stderr
    with Image.open(out / "anim.gif") as im:
        assert im.size == (W, H)
    assert os.listdir(out) == ["anim.gif"]


def test_names_with_spaces_quotes_and_non_ascii(tmp_path, quick_fit):
    folder = tmp_path / "my pictures «été»"
    folder.mkdir()
    a, b = folder / "it's \"A\" – Zürich.png", folder / "B 東京 ñ.png"
    Image.fromarray(blob_image(H, W)).save(a)
    Image.fromarray(blob_image(H, W, shift=(2.0, 1.0))).save(b)
    target = folder / "A→B «final» 'v2'.gif"
    result = run("animate", a, b, "-o", target, *FAST)
    assert result.exit_code == 0, result.output
    assert target.is_file()
    pair = folder / "pair \"ü\".pt"
    assert run("fit-pair", a, b, "-o", pair, "--working-size", "32", "-q").exit_code == 0
    assert pair.is_file()
    missing = folder / "missing – Zürich.png"
    assert "no such file" in about(error_line(run("animate", a, missing, "-o", folder / "x.gif", *FAST)), missing)


def test_fit_pair_then_inspect(dirs, good, quick_fit):
    src, out = dirs
    b = src / "b_big.png"
    Image.fromarray(blob_image(36, 48, shift=(2.0, 1.0))).save(b)
    result = run("fit-pair", good[0], b, "-o", out / "pair.pt", "--working-size", "32", "-q")
    assert result.exit_code == 0, result.output
    assert any("resized" in w for w in warning_lines(result))
    assert os.listdir(out) == ["pair.pt"]
    shown = run("inspect", out / "pair.pt")
    assert shown.exit_code == 0, shown.output
    assert "img2gif.pair" in shown.stdout and "[32, 24]" in shown.stdout


# --- inspect ----------------------------------------------------------------------------

def _write(path, data):
    path.write_bytes(data)
    return path


def _not_img2gif_pt(path):
    torch.save({"weights": torch.zeros(3)}, path)
    return path


def _half_pt(path):
    torch.save({"format": "img2gif.pair", "format_version": 1, "x": torch.zeros(2000)}, path)
    data = path.read_bytes()
    return _write(path, data[: len(data) // 2])


@pytest.mark.parametrize("name,make,words", [
    ("missing.gif", None, "no such file"),
    ("missing.pt", None, "no such file"),
    ("folder.pt", "mkdir", "directory"),
    ("empty.gif", lambda p: _write(p, b""), ""),
    ("empty.pt", lambda p: _write(p, b""), ""),
    ("noise.gif", lambda p: _write(p, np.random.default_rng(3).bytes(500)), ""),
    ("noise.png", lambda p: _write(p, np.random.default_rng(4).bytes(500)), ""),
    ("noise.mp4", lambda p: _write(p, np.random.default_rng(5).bytes(500)), ""),
    ("half.pt", _half_pt, "truncated or corrupt"),
    ("other.pt", _not_img2gif_pt, "not an img2gif checkpoint"),
])
def test_inspect_refuses_bad_file(tmp_path, name, make, words):
    path = tmp_path / name
    if make == "mkdir":
        path.mkdir()
    elif make is not None:
        make(path)
    assert words in about(error_line(run("inspect", path)), path)



def test_inspect_directory_says_directory(tmp_path):
    path = tmp_path / "frames.gif"
    path.mkdir()
    assert "directory" in about(error_line(run("inspect", path)), path)




def test_inspect_random_bytes_pt_is_not_called_unsafe(tmp_path):
    path = _write(tmp_path / "noise.pt", np.random.default_rng(6).bytes(500))
    assert "run code" not in about(error_line(run("inspect", path)), path)




@pytest.mark.parametrize("parts", [("shot [red] 1.png",), ("x[", "y]", "b.png"), ("smile :smile:.png",)],
                         ids=["style-tag", "closing-tag", "emoji-code"])
def test_error_names_file_with_markup_characters_verbatim(tmp_path, no_fit, parts):
    bad = tmp_path.joinpath(*parts)
    bad.parent.mkdir(parents=True, exist_ok=True)
    a = tmp_path / "a.png"
    Image.fromarray(blob_image(H, W)).save(a)
    assert "no such file" in about(error_line(run("animate", a, bad, "-o", tmp_path / "x.gif", *FAST)), bad)




def test_inspect_truncated_gif_does_not_crash(tmp_path):
    frames = [Image.new("RGB", (W, H), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    result = run("inspect", p)
    assert result.exit_code in (0, 2), result.output  # reading what is there, or one error line


@pytest.mark.parametrize("velocity,solver,words", [("svf", "compose", "needs an Eulerian velocity"),
                                                    ("unet", "scaling-squaring", "needs a stationary velocity")])
def test_backends_that_do_not_fit_together(velocity, solver, words, dirs, good):
    src, out = dirs
    a, b = good
    line = error_line(run("animate", a, b, "--velocity", velocity, "--solver", solver, "-o", out / "x.gif"))
    assert words in line
    data = src / "data"
    for sub in ("start", "end"):
        (data / sub).mkdir(parents=True)
        Image.fromarray(blob_image(16, 16)).save(data / sub / "x.png")
    line = error_line(run("train", "--data", data, "--unpaired", "--velocity", velocity, "--solver", solver,
                          "-o", out / "m.pt"))
    assert words in line
    assert_empty(out)


def test_train_with_the_svf_velocity(dirs):
    src, out = dirs
    data = src / "data"
    for sub in ("start", "end"):
        (data / sub).mkdir(parents=True)
        Image.fromarray(blob_image(16, 16)).save(data / sub / "x.png")
    result = run("train", "--data", data, "--unpaired", "--velocity", "svf", "--solver", "euler", "--size", 16,
                 "--steps", 2, "--batch-size", 2, "--critic-iters", 1, "--sample-every", 0, "-o", out / "m.pt", "-q")
    assert result.exit_code == 0, result.output
    assert os.listdir(out) == ["m.pt"]


@pytest.mark.parametrize("option, value", [("--keep-still", "sometimes"), ("--refine", "full")])
def test_cli_refuses_a_choice_it_does_not_have(tmp_path, image_files, option, value):
    """Through the installed command's main(): a usage error is one line naming the option and
    its choices, before any work; --help lists the option."""
    a, b = image_files
    line = main_usage_error(tmp_path, "animate", a, b, option, value, "-o", tmp_path / "x.gif")
    assert option in line and "auto" in line and "off" in line
    assert not (tmp_path / "x.gif").exists()
    assert option in run("animate", "--help").output
