"""The encoders and their controls: APNG and WebP streamed, GIF palettes (gray, few colours),
--quality, --codec and play counts, each read back from the file written."""
import io

import numpy as np
import pytest
from PIL import Image

from img2gif import ffmpeg, timing
from img2gif.apng import ApngStream
from img2gif.encoding import Encoding, plays_of
from img2gif.errors import OptionError
from img2gif.gif import distinct_colours, palette_sample, read_blocks
from img2gif.sequence import FrameFeed
from img2gif.writers import write_animation

from conftest import blob_image


def moving(n=6, h=24, w=32):
    """A textured picture sliding right one pixel per frame (only part of it changes)."""
    base = blob_image(h, w + n)
    return [np.ascontiguousarray(base[:, k:k + w]) for k in range(n)]


def decoded(path):
    with Image.open(path) as im:
        out, delays = [], []
        for k in range(im.n_frames):
            im.seek(k)
            im.load()
            out.append(np.asarray(im.convert("RGB")).astype(int))
            delays.append(im.info.get("duration"))
        return out, delays, im.info.get("loop")


# --- APNG ---------------------------------------------------------------------------------

def test_apng_is_lossless_and_merges_repeats(tmp_path):
    fr = moving(5)
    fr = fr[:2] + [fr[1]] + fr[2:]  # a repeated frame: it lengthens the one before
    path = tmp_path / "a.png"
    written = write_animation(path, fr, timing.playback(len(fr), 10), fps=10)
    frames, delays, loop = decoded(path)
    assert written.frames == 5 and len(frames) == 5 and loop == 0
    for got, want in zip(frames, [fr[0], fr[1], fr[3], fr[4], fr[5]]):
        assert np.array_equal(got, want)
    assert delays == [100, 200, 100, 100, 100]


def test_apng_stream_crops_to_what_changed():
    a = np.zeros((20, 30, 3), np.uint8)
    b = a.copy()
    b[5:8, 10:14] = 200
    f = io.BytesIO()
    stream = ApngStream(f, plays=3)
    stream.add(a, 40)
    stream.add(b, 40)
    stream.close()
    data = f.getvalue()
    at = data.index(b"fcTL", data.index(b"IDAT"))  # the second frame's control chunk
    w, h, x, y = (int.from_bytes(data[at + 4 + 4 * k:at + 8 + 4 * k], "big") for k in range(1, 5))
    assert (w, h, x, y) == (4, 3, 10, 5)
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 2 and im.info["loop"] == 3
        im.seek(1)
        assert np.array_equal(np.asarray(im.convert("RGB")), b)


def test_apng_long_hold_uses_centiseconds(tmp_path):
    fr = moving(2)
    path = tmp_path / "hold.png"
    write_animation(path, fr, timing.playback(2, 1, hold_end=60.0), fps=1)  # 61 s: over 16-bit ms
    _, delays, _ = decoded(path)
    assert delays == [1000, 61000]


# --- WebP ---------------------------------------------------------------------------------

def test_webp_quality_100_is_lossless(tmp_path):
    fr = moving(4)
    path = tmp_path / "a.webp"
    write_animation(path, fr, timing.playback(4, 10), fps=10, encoding=Encoding(quality=100))
    frames, _, _ = decoded(path)
    assert len(frames) == 4 and all(np.array_equal(g, w) for g, w in zip(frames, fr))


def test_webp_quality_changes_size_and_plays_are_kept(tmp_path):
    fr = moving(6, 48, 64)
    sizes = {}
    for q in (30, 90):
        path = tmp_path / f"q{q}.webp"
        write_animation(path, fr, timing.playback(6, 10), fps=10, loop="2", encoding=Encoding(quality=q))
        sizes[q] = path.stat().st_size
        _, _, loop = decoded(path)
        assert loop == 2
    assert sizes[30] < sizes[90]


def test_webp_holds_merge_into_one_frame(tmp_path):
    fr = moving(3)
    path = tmp_path / "h.webp"
    written = write_animation(path, fr, timing.playback(3, 10, hold_start=0.5), fps=10)
    _, delays, _ = decoded(path)
    assert written.frames == 3 and delays == [600, 100, 100]


# --- GIF ----------------------------------------------------------------------------------

def test_gray_gif_is_exact_without_dither(tmp_path):
    ys, xs = np.mgrid[0:32, 0:48]
    fr = [np.repeat(((xs * 5 + ys + 9 * k) % 256).astype(np.uint8)[..., None], 3, axis=2) for k in range(4)]
    path = tmp_path / "g.gif"
    write_animation(path, fr, timing.playback(4, 10), fps=10)
    frames, _, _ = decoded(path)
    for got, want in zip(frames, fr):
        assert np.abs(got - want.astype(int)).max() <= 1  # 255 grays for 256 levels: half a level off


def test_gray_gif_with_its_own_levels_is_exact(tmp_path):
    ys, xs = np.mgrid[0:32, 0:48]
    fr = [np.repeat(((xs * 5 + ys + 9 * k) % 200 + 20).astype(np.uint8)[..., None], 3, axis=2) for k in range(4)]
    path = tmp_path / "g200.gif"
    write_animation(path, fr, timing.playback(4, 10), fps=10)
    frames, _, _ = decoded(path)
    assert all(np.array_equal(got, want) for got, want in zip(frames, fr))


@pytest.mark.parametrize("dither", ["auto", "floyd-steinberg", "bayer", "none"])
def test_dithers_all_write_the_picture(tmp_path, dither):
    fr = [blob_image(40, 56, shift=(k, 0)) for k in range(3)]
    path = tmp_path / f"{dither}.gif"
    write_animation(path, fr, timing.playback(3, 10), fps=10, encoding=Encoding(dither=dither))
    frames, _, _ = decoded(path)
    assert len(frames) == 3 and max(np.abs(g - w.astype(int)).mean() for g, w in zip(frames, fr)) < 6


def test_few_colours_are_not_dithered(tmp_path):
    colours = np.array([[100, 90, 120], [103, 90, 120], [106, 92, 120], [109, 92, 121]], np.uint8)  # close: dither would mix them
    fr = []
    for k in range(4):
        index = np.zeros((24, 32), int)
        index[:, 8 + 2 * k:20 + 2 * k] = 1 + k % 3
        fr.append(colours[index])
    assert distinct_colours(fr, 255) == 4
    path = tmp_path / "c.gif"
    write_animation(path, fr, timing.playback(4, 10), fps=10)
    frames, _, _ = decoded(path)
    for got, want in zip(frames, fr):
        assert np.array_equal(got, want)  # every colour in the palette: nothing dithered


def test_gif_play_count(tmp_path):
    path = tmp_path / "p.gif"
    write_animation(path, moving(3), timing.playback(3, 10), fps=10, loop="3")
    _, _, loop = read_blocks(path.read_bytes())
    assert loop == 2  # NETSCAPE counts the repeats after the first play


def test_lower_gif_quality_is_smaller_and_close(tmp_path):
    rng = np.random.default_rng(0)
    base = blob_image(64, 96).astype(int)
    fr = [np.clip(base + rng.integers(-6, 7, base.shape) + 3 * k, 0, 255).astype(np.uint8) for k in range(8)]
    sizes, errors = {}, {}
    for q in (90, 40):
        path = tmp_path / f"q{q}.gif"
        write_animation(path, fr, timing.playback(8, 10), fps=10, encoding=Encoding(quality=q))
        sizes[q] = path.stat().st_size
        frames, _, _ = decoded(path)
        errors[q] = max(np.abs(g - w.astype(int)).mean() for g, w in zip(frames, fr))
    assert sizes[40] < 0.8 * sizes[90]
    assert errors[40] < 25


def test_gif_read_back_refuses_a_cut_file(tmp_path):
    path = tmp_path / "a.gif"
    write_animation(path, moving(3), timing.playback(3, 10), fps=10)
    data = path.read_bytes()
    with pytest.raises(ValueError, match="cut off"):
        read_blocks(data[:-1], need_trailer=True)
    assert len(read_blocks(data, need_trailer=True)[1]) == 3


def test_palette_sample_is_spread():
    assert palette_sample(4) == [0, 1, 2, 3]
    sample = palette_sample(600)
    assert len(sample) <= 17 and sample[0] == 0 and sample[-1] > 500


# --- MP4 ----------------------------------------------------------------------------------

def test_mp4_plays_are_written_one_after_another(tmp_path):
    import imageio_ffmpeg

    path = tmp_path / "three.mp4"
    write_animation(path, moving(4), timing.playback(4, 10), fps=10, loop="3")
    count, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert count == 12


def test_mp4_quality_changes_size(tmp_path):
    fr = moving(6, 64, 96)
    sizes = []
    for q in (40, 95):
        path = tmp_path / f"q{q}.mp4"
        write_animation(path, fr, timing.playback(6, 10), fps=10, encoding=Encoding(quality=q))
        sizes.append(path.stat().st_size)
    assert sizes[0] < sizes[1]


@pytest.mark.skipif(not ffmpeg.has_encoder("libx265"), reason="this ffmpeg has no libx265")
def test_mp4_h265(tmp_path):
    import subprocess

    path = tmp_path / "h.mp4"
    write_animation(path, moving(4, 32, 48), timing.playback(4, 10), fps=10, encoding=Encoding(codec="h265"))
    probe = subprocess.run([ffmpeg.find(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    assert "hevc" in probe


# --- the settings themselves ----------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, 101, 2.5, True, "90"])
def test_quality_out_of_range_is_refused(bad):
    with pytest.raises(OptionError, match="--quality"):
        Encoding(quality=bad).check()


def test_codec_and_plays_checked():
    with pytest.raises(OptionError, match="--codec"):
        Encoding(codec="vp9").check()
    with pytest.raises(OptionError, match="--dither"):
        Encoding(dither="sierra").check()
    assert [plays_of(v) for v in ("forever", "pingpong", "once", "4")] == [0, 0, 1, 4]
    for bad in ("0", "-1", "twice", "70000"):
        with pytest.raises(OptionError, match="--loop"):
            plays_of(bad)


def test_auto_dither_is_floyd_steinberg_below_a_million_pixels():
    assert Encoding().gif_dither(256 * 256) == "floyd_steinberg"
    assert Encoding().gif_dither(1920 * 1080).startswith("bayer")
    assert Encoding(dither="none").gif_dither(64) == "none"


def test_quality_mapping_is_monotone():
    crfs = [Encoding(quality=q).mp4_crf() for q in range(1, 101)]
    tolerances = [Encoding(quality=q).gif_tolerance() for q in range(1, 101)]
    colours = [Encoding(quality=q).gif_colours() for q in range(1, 101)]
    assert crfs == sorted(crfs, reverse=True) and Encoding().mp4_crf() == 10 and crfs[-1] == 0
    assert tolerances == sorted(tolerances, reverse=True) and Encoding().gif_tolerance() == 0
    assert colours == sorted(colours) and colours[-1] == 256 and colours[0] >= 16
    assert Encoding(quality=100).webp()["lossless"] and not Encoding().webp()["lossless"]


def test_streamed_writers_render_each_frame_once(tmp_path):
    """APNG and WebP ask for frames as they encode them: each is rendered once, in order."""
    fr = moving(5)
    for name in ("s.png", "s.webp"):
        asked = []

        def render(times):
            for t in times:
                asked.append(t)
                yield fr[int(t)]

        source = FrameFeed(render, range(5), fr[0].shape, keep_bytes=0)
        write_animation(tmp_path / name, source, timing.playback(5, 10), fps=10)
        assert asked == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_merged_delays_past_16_bits_go_on_as_new_frames(tmp_path):
    """An unchanging picture held for 700 s: more than one GIF/APNG delay can hold."""
    still = [blob_image(20, 24)] * 2
    shown = [(0, 350.0), (1, 350.0)]  # identical frames: merged until the delay would overflow
    for name in ("long.gif", "long.png"):
        path = tmp_path / name
        written = write_animation(path, still, shown, fps=1)
        assert written.seconds == pytest.approx(700.0, abs=0.1)
        frames, delays, _ = decoded(path)
        assert sum(delays) == pytest.approx(700_000, abs=100) and len(frames) == 2
        error = max(np.abs(f - still[0].astype(int)).mean() for f in frames)
        assert error == 0 if name.endswith(".png") else error < 6  # the GIF is quantised
