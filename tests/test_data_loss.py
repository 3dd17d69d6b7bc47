"""Never lose a file, never lie about success: each class proved with the real failure.

A full disk is a real, small tmpfs (root only: skipped elsewhere), an encoder error is a
real ffmpeg run that fails, an output that is an input is a real path, symlink or hard
link. The promise each time: one "error:" line, exit code 2, the previous file at the
output path byte-identical, no temp file left beside it, and inputs untouched.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import blob_image, invoke, stderr_error
from helpers import PREVIOUS, assert_previous_intact, child_env, previous_at, small_disk
from img2gif import timing
from img2gif.errors import OutputError

FAST = ["--frames", "4", "--working-size", "32", "-q"]
run, one_error = invoke, stderr_error


def noise_image(h=48, w=64, seed=0) -> np.ndarray:
    """Incompressible pixels: their encodings need real disk space."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def images(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    a, b = src / "a.png", src / "b.png"
    Image.fromarray(blob_image(24, 32)).save(a)
    Image.fromarray(blob_image(24, 32, shift=(2.0, 1.0))).save(b)
    return a, b








# --- 1. encoder failures -----------------------------------------------------------------

@pytest.mark.parametrize("ext", [".mp4", ".gif", ".webp", ".png"])
def test_full_disk_keeps_previous_file(tmp_path, ext):
    src = tmp_path / "src"
    src.mkdir()
    a = src / "a.png"
    Image.fromarray(noise_image()).save(a)
    with small_disk(tmp_path / "disk", free_bytes=12_000) as disk:
        target = previous_at(disk / f"anim{ext}")
        result = run("animate", a, "--model", "digits", "-o", target, "--frames", "30")
        line = one_error(result)
        assert str(target) in line and ("space" in line.lower() or "cannot write" in line)
        assert "ffmpeg" not in result.stderr.lower() or "error:" in result.stderr  # ffmpeg's own lines never leak
        assert_previous_intact(target)


def test_real_ffmpeg_failure_is_an_error_not_success(tmp_path):
    """libx264 refuses frames wider than 16384: ffmpeg exits non-zero, nothing is renamed."""
    from img2gif.safefile import atomic_replace_file
    from img2gif.sequence import FrameFeed
    from img2gif.encoding import Encoding
    from img2gif.writers.mp4 import Mp4Writer

    target = previous_at(tmp_path / "wide.mp4")
    frames = FrameFeed.of_list([np.zeros((4, 16386, 3), np.uint8)] * 2)
    with pytest.raises(OutputError, match="ffmpeg failed"):
        atomic_replace_file(lambda tmp: Mp4Writer().write(tmp, frames, timing.playback(2, 10), fps=10.0,
                                                          encoding=Encoding()), target)
    assert_previous_intact(target)


def test_wide_image_refused_before_any_work(tmp_path):
    a = tmp_path / "wide.png"
    Image.fromarray(np.full((2, 16400, 3), 128, np.uint8)).save(a)
    for ext, side in ((".mp4", "16384"), (".webp", "16383")):
        target = previous_at(tmp_path / f"out{ext}")
        line = one_error(run("animate", a, "--model", "digits", "-o", target, "--frames", "2"))
        assert side in line and str(target) in line
        assert_previous_intact(target)


def test_truncated_encoder_output_is_not_renamed(tmp_path):
    """An encoder that exits 0 but leaves a cut file: the read-back refuses it."""
    from img2gif.safefile import atomic_replace_file
    from img2gif.sequence import FrameFeed
    from img2gif.encoding import Encoding
    from img2gif.writers import read_back
    from img2gif.writers.mp4 import Mp4Writer

    good = tmp_path / "good.mp4"
    frames = FrameFeed.of_list([noise_image(32, 32, k) for k in range(6)])
    atomic_replace_file(lambda tmp: Mp4Writer().write(tmp, frames, timing.playback(6, 10), fps=10.0,
                                                      encoding=Encoding()), good)
    target = previous_at(tmp_path / "cut.mp4")

    def cut_encoder(tmp):
        tmp.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
        read_back(tmp, "mp4", expected_frames=6)

    with pytest.raises(OutputError, match="cannot be read back|frames"):
        atomic_replace_file(cut_encoder, target)
    assert_previous_intact(target)


def test_ffmpeg_messages_do_not_reach_the_terminal(tmp_path, images):
    a, b = images
    code = ("import sys; from img2gif.cli import main; "
            f"sys.argv = ['img2gif', 'animate', {str(a)!r}, {str(b)!r}, '-o', {str(tmp_path / 'x.mp4')!r}, "
            "'--frames', '4', '--working-size', '32', '-q']; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()] == [line for line in done.stderr.splitlines() if line.startswith("wrote ")]


# --- 2. the plot path ----------------------------------------------------------------------

def test_plot_never_overwrites_the_pair_and_honours_its_extension(tmp_path, images):
    a, b = images
    pair = tmp_path / "pair.pt"
    assert run("fit-pair", a, b, "-o", pair, "--working-size", "32", "-q").exit_code == 0
    saved = pair.read_bytes()
    link = tmp_path / "link.png"
    link.symlink_to(pair)
    for plot in (pair, tmp_path / "x.gif", tmp_path / "noext", link):
        one_error(run("inspect", pair, "--plot", plot))
        assert pair.read_bytes() == saved
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "noext").exists()
    for plot, magic in ((tmp_path / "p.png", b"\x89PNG"), (tmp_path / "p.jpg", b"\xff\xd8")):
        assert run("inspect", pair, "--plot", plot).exit_code == 0
        assert plot.read_bytes().startswith(magic)


# --- 3. output equal to an input -----------------------------------------------------------

def test_output_that_is_an_input_is_refused(tmp_path, images):
    a, b = images
    original = a.read_bytes()
    hard = a.parent / "hard.png"
    os.link(a, hard)
    sym = a.parent / "sym.png"
    sym.symlink_to(a)
    for output in (a, a.parent / "." / "a.png", hard, sym):
        line = one_error(run("animate", a, b, "-o", output, *FAST))
        assert "input" in line
        assert a.read_bytes() == original
    line = one_error(run("reverse", a, "--model", "digits", "-o", a, "--frames", "4"))
    assert "input" in line and a.read_bytes() == original
    one_error(run("animate", a, b, "-o", f"{a.parent}/", *FAST))  # a frames folder that holds an input
    assert sorted(p.name for p in a.parent.iterdir()) == ["a.png", "b.png", "hard.png", "sym.png"]


# --- 4. frames folders ---------------------------------------------------------------------

def test_frames_folder_rule(tmp_path, images):
    a, b = images
    out = tmp_path / "frames"
    out.mkdir()
    (out / "frame_0001.png").write_bytes(PREVIOUS)  # a user's own file
    line = one_error(run("animate", a, b, "-o", f"{out}/", *FAST))
    assert "did not write" in line
    assert (out / "frame_0001.png").read_bytes() == PREVIOUS
    (out / "frame_0001.png").unlink()
    assert run("animate", a, b, "-o", f"{out}/", "--frames", "6", "--working-size", "32", "-q").exit_code == 0
    assert len(list(out.glob("frame_*.png"))) == 6
    # a shorter rerun replaces the folder: no old frames mixed in
    assert run("animate", a, b, "-o", f"{out}/", "--frames", "3", "--working-size", "32", "-q").exit_code == 0
    assert sorted(p.name for p in out.glob("frame_*.png")) == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "in"]  # nothing left beside it


def test_frames_folder_on_a_full_disk_leaves_nothing(tmp_path):
    a = tmp_path / "a.png"
    Image.fromarray(noise_image()).save(a)
    with small_disk(tmp_path / "disk", free_bytes=20_000) as disk:
        line = one_error(run("animate", a, "--model", "digits", "-o", f"{disk}/frames/", "--frames", "30"))
        assert "cannot write" in line
        assert sorted(os.listdir(disk)) == ["filler"]


def test_frames_output_named_like_a_file_or_a_dangling_link(tmp_path, images):
    a, b = images
    f = tmp_path / "name"
    f.write_bytes(PREVIOUS)
    assert "not a folder" in one_error(run("animate", a, b, "-o", f"{f}/", *FAST))
    assert f.read_bytes() == PREVIOUS
    dangling = tmp_path / "gone"
    dangling.symlink_to(tmp_path / "nowhere")
    assert "dangling" in one_error(run("animate", a, b, "-o", f"{dangling}/", *FAST))
    link = tmp_path / "d.gif"
    link.symlink_to(tmp_path / "nowhere.gif")
    assert "dangling" in one_error(run("animate", a, b, "-o", link, *FAST))


def test_longest_legal_name_is_written(tmp_path, images):
    a, b = images
    name = "x" * 240 + ".gif"  # 244 bytes: the temp name must still fit in 255
    assert run("animate", a, b, "-o", tmp_path / name, *FAST).exit_code == 0
    assert (tmp_path / name).is_file()
    too_long = "y" * 256 + ".gif"
    assert "longer than" in one_error(run("animate", a, b, "-o", tmp_path / too_long, *FAST))


# --- 11. checkpoints on a full disk ---------------------------------------------------------

def test_checkpoint_on_a_full_disk_is_one_line(tmp_path, images):
    a, b = images
    with small_disk(tmp_path / "disk", free_bytes=4_000) as disk:
        target = previous_at(disk / "pair.pt")
        line = one_error(run("fit-pair", a, b, "-o", target, "--working-size", "32", "-q"))
        assert "space" in line.lower()
        assert_previous_intact(target)


def _train_data(root: Path, n=8, size=16) -> Path:
    for side, shift in (("start", 0.0), ("end", 2.0)):
        (root / side).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(blob_image(size, size, shift=(shift, 0.0), seed=k)).save(root / side / f"{k}.png")
    return root


TRAIN = ["--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "--critic-iters", "1", "--sample-every", "0", "-q"]


def test_training_checkpoint_on_a_full_disk_is_one_line(tmp_path):
    data = _train_data(tmp_path / "data")
    with small_disk(tmp_path / "disk", free_bytes=4_000) as disk:
        result = run("train", "--data", data, "-o", disk / "m.pt", *TRAIN)
        assert result.exit_code == 2
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[0].startswith("training on") and len(lines) == 2  # what started, then the one error
        assert "space" in lines[1].lower() and str(disk / "m.pt") in lines[1] and lines[1].startswith("error: ")
        assert sorted(os.listdir(disk)) == ["filler"]


# --- 12. the model cache ---------------------------------------------------------------------

def test_cache_that_is_a_file(tmp_path, images):
    a, _ = images
    cache = tmp_path / "cache-file"
    cache.write_bytes(b"not a folder")
    result = run("animate", a, "--model", "digits", "-o", tmp_path / "m.gif", "--frames", "4",
                 env={"IMG2GIF_CACHE_DIR": str(cache)})
    assert result.exit_code == 0, result.output
    assert "cannot be written" in result.stderr and "shipped file" in result.stderr
    data = _train_data(tmp_path / "data")
    line = one_error(run("train", "--data", data, "-o", tmp_path / "t.pt", "--name", "mine", *TRAIN,
                         env={"IMG2GIF_CACHE_DIR": str(cache)}))
    assert "user model folder" in line
    assert not (tmp_path / "t.pt").exists()  # refused before training


def test_shipped_names_are_reserved(tmp_path, images):
    a, _ = images
    cache = tmp_path / "cache"
    planted = cache / "models" / "user" / "digits.pt"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"planted")
    env = {"IMG2GIF_CACHE_DIR": str(cache)}
    result = run("animate", a, "--model", "digits", "-o", tmp_path / "m.gif", "--frames", "4", env=env)
    assert result.exit_code == 0 and "ignored" in result.stderr
    listing = run("inspect", "--models", env=env).stdout
    assert "ignored" in listing
    data = _train_data(tmp_path / "data")
    assert "reserved" in one_error(run("train", "--data", data, "--name", "digits", *TRAIN, env=env))


# --- 9. terminal escapes ------------------------------------------------------------------

def test_escapes_in_file_names_are_shown_not_sent(tmp_path, images):
    a, b = images
    evil = tmp_path / "in" / "x\x1b]0;pwned\x07\x1b[2J.png"
    evil.write_bytes(b"not an image")
    line = one_error(run("animate", evil, b, "-o", tmp_path / "o.gif", *FAST))
    assert "\x1b" not in line and "\x07" not in line and "\\x1b]0;pwned\\x07" in line
    gif = tmp_path / "an\x1b[31mim.gif"
    assert run("animate", a, b, "-o", gif, *FAST).exit_code == 0
    shown = run("inspect", gif).stdout
    assert "\x1b" not in shown and "\\x1b[31m" in shown


# --- 14. option values ----------------------------------------------------------------------

@pytest.mark.parametrize("option", [
    ["--seed", str(2**70)], ["--lr", "-1"], ["--lr", "nan"], ["--checkpoint-every", "0"],
    ["--step-size", "nan"], ["--step-size", "inf"], ["--step-size", "1e-9"], ["--critic-iters", "100000000"],
    ["--loss", "jacobian"], ["--cycle", "nan"], ["--fold-weight", "inf"],
])
def test_bad_train_options(tmp_path, option):
    data = _train_data(tmp_path / "data", n=2)
    one_error(run("train", "--data", data, "-o", tmp_path / "m.pt", *TRAIN, *option))
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("option", [["--fps", "0.001"], ["--fps", "1e-300"], ["--loss", "smoothness"], ["--seed", "-1"]])
def test_bad_animate_options(tmp_path, images, option):
    a, b = images
    target = previous_at(tmp_path / "o.gif")
    one_error(run("animate", a, b, "-o", target, "--working-size", "32", "-q", *option))
    assert_previous_intact(target)


def test_train_channels_4_and_paired_without_overlap(tmp_path):
    data = _train_data(tmp_path / "data")
    result = run("train", "--data", data, "-o", tmp_path / "rgba.pt", "--channels", "4", *TRAIN)
    assert result.exit_code == 0, result.output
    paired = tmp_path / "paired"
    (paired / "start").mkdir(parents=True)
    (paired / "end").mkdir()
    for k in range(4):  # readable: start 0, 1; end 2, 3 -- no name readable on both sides
        for side, readable in (("start", k < 2), ("end", k >= 2)):
            if readable:
                Image.fromarray(blob_image(8, 8, seed=k)).save(paired / side / f"{k}.png")
            else:
                (paired / side / f"{k}.png").write_bytes(b"unreadable")
    line = one_error(run("train", "--data", paired, "--paired", "-o", tmp_path / "p.pt", "--size", "8", "--steps", "1", "-q"))
    assert "no pair" in line


def test_samples_path_that_is_a_file(tmp_path):
    data = _train_data(tmp_path / "data", n=2)
    (tmp_path / "m-samples").write_bytes(b"a file")
    args = [a for a in TRAIN if a not in ("--sample-every", "0")]
    assert "samples" in one_error(run("train", "--data", data, "-o", tmp_path / "m.pt", *args))


def test_sample_sheets_never_replace_a_file_they_did_not_write(tmp_path):
    """A user's file, or the run's own still mask, at a sheet's path: refused before any work,
    untouched; sheets of an earlier run at those paths are replaced."""
    data = _train_data(tmp_path / "data", n=4)
    args = [a for a in TRAIN if a not in ("--sample-every", "0")] + ["--sample-every", "1"]
    samples = tmp_path / "m-samples"
    samples.mkdir()
    mine = samples / "step_0000002.png"
    Image.fromarray(blob_image(8, 8)).save(mine)
    kept = mine.read_bytes()
    line = one_error(run("train", "--data", data, "-o", tmp_path / "m.pt", *args))
    assert "step_0000002.png" in line and "not a sheet" in line
    assert mine.read_bytes() == kept and not (tmp_path / "m.pt").exists() and sorted(os.listdir(samples)) == [mine.name]
    line = one_error(run("train", "--data", data, "-o", tmp_path / "m.pt", *args, "--still-mask", mine, "--still-weight", "1"))
    assert mine.read_bytes() == kept
    mine.unlink()
    assert run("train", "--data", data, "-o", tmp_path / "m.pt", *args).exit_code == 0
    assert sorted(os.listdir(samples)) == ["step_0000001.png", "step_0000002.png"]
    # a sheet of that run used as the next run's mask is an input now: not replaced either
    sheet = samples / "step_0000001.png"
    before = sheet.read_bytes()
    line = one_error(run("train", "--data", data, "-o", tmp_path / "m.pt", *args, "--still-mask", sheet, "--still-weight", "1"))
    assert "inputs" in line and sheet.read_bytes() == before
    # sheets of an earlier run are replaced by the next run's
    assert run("train", "--data", data, "-o", tmp_path / "m.pt", *args, "--seed", "3").exit_code == 0
    assert sheet.read_bytes() != before


# --- 16. resume checks what it resumes ------------------------------------------------------

def test_resume_refuses_shape_changes_and_reports_others(tmp_path):
    data = _train_data(tmp_path / "data")
    ckpt = tmp_path / "m.pt"
    assert run("train", "--data", data, "-o", ckpt, *TRAIN).exit_code == 0
    saved = ckpt.read_bytes()
    for option, name in ((["--size", "16"], "--size"), (["--channels", "3"], "--channels"),
                         (["--solver", "euler"], "--solver")):
        args = [a for a in TRAIN if a not in ("--size", "8")] if name == "--size" else TRAIN
        line = one_error(run("train", "--data", data, "-o", ckpt, *args, *option, "--resume"))
        assert name in line
        assert ckpt.read_bytes() == saved
    line = one_error(run("train", "--data", data, "-o", ckpt, *[a if a != "--unpaired" else "--paired" for a in TRAIN], "--resume"))
    assert "--paired" in line
    more = [a if a != "2" else "3" for a in TRAIN]
    result = run("train", "--data", data, "-o", ckpt, *more, "--lr", "0.0005", "--resume")
    assert result.exit_code == 0, result.output
    assert "learning_rate 0.001 -> 0.0005" in result.stderr


# --- 15. the environment ----------------------------------------------------------------------

def _img2gif(args, tmp_path, **kwargs):
    return subprocess.run([sys.executable, "-m", "img2gif", *map(str, args)], env=kwargs.pop("env", child_env(tmp_path)),
                          timeout=120, **kwargs)


@pytest.fixture
def gif(tmp_path, images):
    a, b = images
    target = tmp_path / "é.gif"
    assert run("animate", a, b, "-o", target, *FAST).exit_code == 0
    return target


def test_inspect_on_an_ascii_terminal(tmp_path, gif):
    done = _img2gif(["inspect", gif], tmp_path, capture_output=True, env=child_env(tmp_path, PYTHONIOENCODING="ascii"))
    assert done.returncode == 0, done.stderr
    assert b"frames" in done.stdout and b"Traceback" not in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_inspect_to_a_full_stdout(tmp_path, gif):
    with open("/dev/full", "w") as full:
        done = _img2gif(["inspect", gif], tmp_path, stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: standard output"), done.stderr


def test_closed_stderr_after_a_complete_write_is_success(tmp_path, images):
    a, b = images
    target = tmp_path / "o.gif"
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads the messages
    done = _img2gif(["animate", a, b, "-o", target, *FAST], tmp_path, stderr=write_end, stdout=subprocess.DEVNULL)
    os.close(write_end)
    assert done.returncode == 0
    assert target.is_file()


def test_columns_zero_still_prints(tmp_path, gif):
    done = _img2gif(["inspect", gif], tmp_path, capture_output=True, text=True, env=child_env(tmp_path, COLUMNS="0"))
    assert done.returncode == 0 and "frames" in done.stdout


# --- 6. inspect on a tiny GIF with a huge canvas ------------------------------------------------

def _huge_canvas_gif(path: Path, frames: int) -> None:
    """A few KB: an 8000x8000 logical screen, ``frames`` 1x1 frames, each 5 cs."""
    out = bytearray(b"GIF89a" + (8000).to_bytes(2, "little") * 2 + bytes([0x80, 0, 0]) + bytes(6))
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00" + (5).to_bytes(2, "little") + b"\x00\x00"
        out += b"\x2c" + bytes(4) + (1).to_bytes(2, "little") * 2 + b"\x00" + b"\x02\x02\x44\x01\x00"
    out += b"\x3b"
    path.write_bytes(bytes(out))


def test_inspect_reads_a_huge_canvas_gif_without_decoding_it(tmp_path):
    path = tmp_path / "canvas.gif"
    _huge_canvas_gif(path, 3000)
    done = _img2gif(["inspect", path], tmp_path, capture_output=True, text=True)  # timeout=120: a hang fails
    assert done.returncode == 0, done.stderr
    assert "3000" in done.stdout and "8000x8000" in done.stdout and "150.000 s" in done.stdout


# --- the summary describes the file on disk ----------------------------------------------------

def test_summary_describes_the_file(tmp_path, images):
    a, b = images
    target = tmp_path / "pp.gif"
    result = run("animate", a, b, "-o", target, "--loop", "pingpong", "--hold-start", "1", "--hold-end", "1",
                 "--frames", "10", "--fps", "10", "--working-size", "32", "-q")
    assert result.exit_code == 0
    with Image.open(target) as im:
        seconds = sum(im.seek(k) or im.info["duration"] for k in range(im.n_frames)) / 1000
        frames = im.n_frames
    assert f"{seconds:.2f} s" in result.stderr and f"{frames} frames" in result.stderr
    same = run("animate", a, a, "-o", tmp_path / "same.gif", *FAST)  # nothing moves: one frame in the file
    assert same.exit_code == 0 and "1 frame " in same.stderr and "4 played" in same.stderr


# --- 18. SIGHUP -------------------------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sighup_leaves_no_temp_files(tmp_path):
    import signal
    import time

    a = tmp_path / "a.png"
    Image.fromarray(noise_image(256, 256)).save(a)
    target = previous_at(tmp_path / "big.gif")
    proc = subprocess.Popen([sys.executable, "-m", "img2gif", "animate", str(a), "--model", "digits", "-o", str(target),
                             "--frames", "400"], env=child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(p.name.startswith(".big.gif") for p in tmp_path.iterdir()):
        time.sleep(0.01)
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=120)
    assert proc.returncode in (130, 0)
    if proc.returncode == 130:
        assert_previous_intact(target)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    # a temp file from a killed writer (its process is gone) is removed by the next write
    stale = tmp_path / f".big.gif.{2**22 + 7}-{uuid.uuid4().hex[:8]}.part.gif"
    stale.write_bytes(b"left by a killed run")
    assert run("animate", a, "--model", "digits", "-o", target, "--frames", "2").exit_code == 0
    assert not stale.exists()
