"""Writers: every format, real timing read back, shared GIF palette, nothing partial."""
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2gif import timing
from img2gif.errors import OutputError
from img2gif.writers import output_format, write_animation


def frames(n=6, h=20, w=30):
    ys, xs = np.mgrid[0:h, 0:w]
    return [np.stack([(xs * 4 + 20 * k) % 256, ys * 6 % 256, np.full_like(xs, 30 * k % 256)], -1).astype(np.uint8) for k in range(n)]


def test_output_format_from_extension(tmp_path):
    assert output_format("a.GIF") == "gif" and output_format("a.png") == "apng" and output_format("a.mp4") == "mp4"
    assert output_format("out/") == "frames" and output_format(tmp_path) == "frames"
    with pytest.raises(OutputError, match=r"\.xyz.*\.gif"):
        output_format("a.xyz")


@pytest.mark.parametrize("fps", [24, 30, 50])
def test_gif_timing_read_back(tmp_path, fps):
    fr = frames(12)
    shown = timing.playback(len(fr), fps)
    path = tmp_path / "a.gif"
    write_animation(path, fr, shown, fps=fps)
    with Image.open(path) as im:
        assert im.n_frames == 12 and im.info.get("loop") == 0
        delays = []
        for k in range(im.n_frames):
            im.seek(k)
            delays.append(im.info["duration"])
    assert delays == [10 * d for d in timing.gif_delays_cs([s for _, s in shown])]
    assert sum(delays) == round(1000 * 12 / fps, -1)


def test_gif_shared_palette_and_loop_once(tmp_path, monkeypatch):
    from PIL import GifImagePlugin

    # Pillow then keeps frames in P mode exactly when they share the first frame's palette
    monkeypatch.setattr(GifImagePlugin, "LOADING_STRATEGY", GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY)
    fr = frames(5)
    path = tmp_path / "once.gif"
    write_animation(path, fr, timing.playback(5, 10), fps=10, loop="once")
    with Image.open(path) as im:
        assert "loop" not in im.info  # no NETSCAPE block: plays once
        for k in range(im.n_frames):
            im.seek(k)
            assert im.mode == "P"
            err = np.abs(np.asarray(im.convert("RGB")).astype(int) - fr[k].astype(int)).mean()
            assert err < 12  # quantised, dithered, but the same picture


def test_pingpong_and_holds_in_gif(tmp_path):
    fr = frames(4)
    path = tmp_path / "pp.gif"
    write_animation(path, fr, timing.playback(4, 10, "pingpong", hold_start=0.5, hold_end=0.3), fps=10)
    with Image.open(path) as im:
        delays = []
        for k in range(im.n_frames):
            im.seek(k)
            delays.append(im.info["duration"])
    assert delays == [600, 100, 100, 400, 100, 100]


@pytest.mark.parametrize("name, fmt", [("a.webp", "WEBP"), ("a.png", "PNG")])
def test_webp_and_apng(tmp_path, name, fmt):
    fr = frames(5)
    path = tmp_path / name
    write_animation(path, fr, timing.playback(5, 60), fps=60)
    with Image.open(path) as im:
        assert im.format == fmt and im.n_frames == 5
        total = 0
        for k in range(im.n_frames):
            im.seek(k)
            im.load()  # WebP reports a frame's duration once it is decoded
            total += im.info["duration"]
        assert total == pytest.approx(1000 * 5 / 60, abs=1)


def test_mp4_frames_and_odd_size(tmp_path):
    import imageio_ffmpeg

    fr = frames(8, h=21, w=31)
    path = tmp_path / "a.mp4"
    write_animation(path, fr, timing.playback(8, 24, hold_end=0.5), fps=24)
    count, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert count == 8 + 12  # the hold becomes 12 repeated frames at 24 fps


def test_frames_directory(tmp_path):
    fr = frames(3)
    out = tmp_path / "seq"
    write_animation(str(out) + "/", fr, timing.playback(3, 10), fps=10)
    names = sorted(n for n in os.listdir(out) if n != ".img2gif-frames")  # the marker: what img2gif wrote
    assert names == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    assert np.array_equal(np.asarray(Image.open(out / names[1])), fr[1])


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "a.gif"
    path.write_bytes(b"previous")
    import img2gif.writers.gif  # noqa: F401  (the GIF writer, patched below)
    import img2gif.writers as writers

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.gif.GifWriter, "write", boom)
    with pytest.raises(OutputError, match="No space left"):
        write_animation(path, frames(3), timing.playback(3, 10), fps=10)
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["a.gif"]


def test_pillow_palette_fallback(tmp_path, monkeypatch):
    import img2gif.ffmpeg

    monkeypatch.setattr(img2gif.ffmpeg, "find", lambda: None)
    fr = frames(4)
    path = tmp_path / "p.gif"
    write_animation(path, fr, timing.playback(4, 10), fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 4
        im.seek(2)
        assert np.abs(np.asarray(im.convert("RGB")).astype(int) - fr[2].astype(int)).mean() < 15


def test_output_has_normal_permissions(tmp_path):
    path = tmp_path / "perm.gif"
    write_animation(path, frames(2), timing.playback(2, 10), fps=10)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_ffmpeg_palette_path_is_taken_for_long_animations(tmp_path):
    import warnings

    from img2gif.imagefile import Img2GifWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", Img2GifWarning)  # a fallback to Pillow would warn
        write_animation(tmp_path / "long.gif", frames(40), timing.playback(40, 25), fps=25)
    with Image.open(tmp_path / "long.gif") as im:
        assert im.n_frames == 40


def test_remove_stale_temp_files_only_touches_this_targets_temps(tmp_path):
    from img2gif.writers import remove_stale_temp_files

    target = tmp_path / "m.pt"
    target.write_bytes(b"good")
    for name in (".m.pt.abc123.part.pt", ".m.pt.zz.part.pt", ".other.pt.x.part.pt", "m.pt.part.pt", ".m.pt.x.part.gif"):
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale_temp_files(target)
    assert sorted(p.name for p in removed) == [".m.pt.abc123.part.pt", ".m.pt.zz.part.pt"]
    assert sorted(os.listdir(tmp_path)) == [".m.pt.x.part.gif", ".other.pt.x.part.pt", "m.pt", "m.pt.part.pt"]


def test_many_small_gif_frames_stream_without_stalling(tmp_path):
    """paletteuse is fed a window of frames ahead of what is read back: with tiny frames
    ffmpeg's own output buffer must not deadlock it (the window is soft, and -flush_packets)."""
    rng = np.random.default_rng(0)
    fr = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(400)]
    written = write_animation(tmp_path / "many.gif", fr, timing.playback(400, 25), fps=25)
    assert written.frames == 400 and written.seconds == pytest.approx(16.0)


@pytest.mark.parametrize("ext", ["gif", "png", "webp"])
@pytest.mark.parametrize("loop, shown_as", [("once", "once"), ("2", "2 times"), ("5", "5 times"), ("forever", "forever")])
def test_inspect_reads_back_the_play_count_written(tmp_path, ext, loop, shown_as):
    """GIF counts repeats after the first play, APNG and WebP count plays: inspect says what plays."""
    from typer.testing import CliRunner

    from img2gif.cli import app

    path = tmp_path / f"a.{ext}"
    fr = frames(4)
    write_animation(path, fr, timing.playback(len(fr), 10), fps=10, loop=loop)
    shown = CliRunner().invoke(app, ["inspect", str(path)], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if "loop" in line)
    assert row.split("loop", 1)[1].strip(" │|") == shown_as, row


def test_a_writer_plugin_is_one_file_and_one_entry_point(tmp_path, image_files, install_plugin, monkeypatch):
    """The example writer plugin (plugins/img2gif-y4m), declared by its own pyproject: chosen by
    its extension, checked against its capabilities before any work, listed by inspect."""
    tomllib = pytest.importorskip("tomllib")

    from conftest import cli, one_error
    from img2gif import writers

    plugin = Path(__file__).resolve().parents[1] / "plugins" / "img2gif-y4m"
    table = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]["entry-points"]
    assert list(table) == ["img2gif.writers"] and len(list((plugin / "img2gif_y4m").glob("*.py"))) == 1
    monkeypatch.syspath_prepend(str(plugin))
    install_plugin("img2gif-y4m", table, {})
    assert writers.output_format(tmp_path / "x.Y4M") == "y4m"
    from img2gif_y4m import read_frames

    a, b = image_files
    out = tmp_path / "out.y4m"
    done = cli("animate", a, b, "-o", out, "--frames", "4", "--fps", "10", "--working-size", "32", "-q")
    assert done.exit_code == 0, done.output
    frames = read_frames(out)
    first = np.asarray(Image.open(a).convert("RGB"))
    assert len(frames) == 4 and frames[0].shape == first.shape
    assert np.abs(frames[0].astype(int) - first).max() <= 2  # 8-bit YCbCr there and back
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([first, np.full(first.shape[:2], 128, np.uint8)])).save(rgba)
    line = one_error(cli("animate", rgba, b, "-o", tmp_path / "t.y4m", "--frames", "3", "-q"))
    assert "Y4M cannot hold" in line and "--background" in line and not (tmp_path / "t.y4m").exists()
    listed = cli("inspect")
    assert "y4m" in listed.output and "img2gif-y4m" in listed.output


@pytest.mark.parametrize("name, warned", [("big.gif", True), ("big.mp4", False), ("big.webp", False)])
def test_a_large_output_that_stores_every_pixel_is_warned_about_before_any_work(tmp_path, name, warned):
    """A writer that stores every frame's pixels (GIF) says so before 30 frames of 2000x2000
    (120 million pixels) are made; a format that codes motion does not."""
    import warnings

    from img2gif.imagefile import Img2GifWarning
    from img2gif.pipeline import OutputPlan
    from img2gif.writers import capabilities

    fmt = output_format(str(tmp_path / name))
    plan = OutputPlan(str(tmp_path / name), fmt, timing.FramePlan(30, 30.0), "forever", 0.0, 0.0, "linear")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan.check_memory(np.zeros((2000, 2000, 3), np.uint8), "a.png")
    said = [str(w.message) for w in caught if issubclass(w.category, Img2GifWarning)]
    assert capabilities(fmt).stores_every_pixel is warned
    assert bool(said) is warned
    if warned:
        assert "30 frames of 2000x2000 make a GIF of up to 120 MB" in said[0]
    assert not (tmp_path / name).exists()
