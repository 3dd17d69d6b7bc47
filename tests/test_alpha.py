"""Transparency (issue 29, item 1): an RGBA pair is fitted and rendered premultiplied, and
written with its alpha to APNG, WebP, GIF and PNG frames; MP4 is refused unless a
--background is given; bad options are one line, exit 2, nothing written."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from conftest import blob_image, invoke, stderr_error
from img2gif.encoding import Encoding
from img2gif.fit import FitSettings
from img2gif.pair import Pair, fit_pair
from img2gif.render import to_tensor, to_uint8
from img2gif.writers import write_animation

SIZE = 40
RADIUS = 9.0
A_AT, B_AT = (13.0, 16.0), (25.0, 21.0)   # the sticker's centre (x, y) in A and in B
SETTINGS = FitSettings(working_size=SIZE, steps=(40, 30, 20))
FAST = ["--frames", "5", "--working-size", "32", "-q"]


def sticker(centre, seed=0, size=SIZE) -> np.ndarray:
    """(size, size, 4) straight-alpha RGBA: a textured disc with an antialiased rim at
    ``centre`` (x, y); the colour under its fully transparent pixels is noise from ``seed``."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dx, dy = xs - centre[0], ys - centre[1]
    alpha = np.round(np.clip(RADIUS - np.hypot(dx, dy) + 0.5, 0.0, 1.0) * 255).astype(np.uint8)
    colour = np.stack([0.55 + 0.4 * np.sin(dx / 3.0), 0.45 + 0.4 * np.cos(dy / 2.5), 0.5 + 0.4 * np.sin((dx + dy) / 4.0)], 2)
    rgb = np.round(colour * 255).astype(np.uint8)
    noise = np.random.default_rng(seed).integers(0, 256, rgb.shape, dtype=np.uint8)
    return np.dstack([np.where(alpha[..., None] == 0, noise, rgb), alpha])


def centroid(alpha: np.ndarray) -> np.ndarray:
    """(x, y) of the alpha-weighted centre of an (H, W) alpha plane."""
    ys, xs = np.mgrid[0:alpha.shape[0], 0:alpha.shape[1]] + 0.5
    w = alpha.astype(np.float64)
    return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])


run, error_line = invoke, stderr_error


@pytest.fixture(scope="module")
def fitted():
    return fit_pair(sticker(A_AT, seed=1), sticker(B_AT, seed=2), SETTINGS, device="cpu")


@pytest.fixture
def files(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    Image.fromarray(sticker(A_AT, seed=1), "RGBA").save(src / "a.png")
    Image.fromarray(sticker(B_AT, seed=2), "RGBA").save(src / "b.png")
    return src, out


# --- the fit and the frames ----------------------------------------------------------------

def test_premultiplied_round_trip_is_exact_where_visible():
    image = np.random.default_rng(0).integers(0, 256, (7, 9, 4), dtype=np.uint8)
    back = to_uint8(to_tensor(image, "cpu"))[0]
    visible = image[..., 3] > 0
    assert np.array_equal(back[visible], image[visible])
    assert (back[~visible] == 0).all()  # no hidden colour comes out either


def test_alpha_moves_with_the_sticker(fitted):
    middle = fitted.frames([0.5])[0]
    assert middle.shape == (SIZE, SIZE, 4)
    found = centroid(middle[..., 3])
    half_way = (np.array(A_AT) + np.array(B_AT)) / 2
    assert np.abs(found - half_way).max() < 1.0, (found, half_way)
    truth = sticker(half_way)[..., 3].astype(int)
    assert np.abs(middle[..., 3].astype(int) - truth).mean() < 3.0  # levels; a crossfade gives over 15
    assert middle[..., 3].max() == 255 and middle[0, 0, 3] == 0  # still opaque inside, clear outside


def test_the_fit_sees_alpha():
    """A black disc: premultiplied, its colour is 0 like the transparency around it, so
    only the alpha says where it is. It must still be moved, not crossfaded."""
    a, b = sticker(A_AT), sticker(B_AT)
    a[..., :3], b[..., :3] = 0, 0
    middle = fit_pair(a, b, SETTINGS, device="cpu").frames([0.5])[0]
    half_way = (np.array(A_AT) + np.array(B_AT)) / 2
    truth = sticker(half_way)[..., 3].astype(int)
    crossfade = (a[..., 3].astype(int) + b[..., 3]) / 2  # same centroid: the shape tells them apart
    assert np.abs(crossfade - truth).mean() > 15
    assert np.abs(middle[..., 3].astype(int) - truth).mean() < 3.0
    assert np.abs(centroid(middle[..., 3]) - half_way).max() < 1.0


def test_endpoints_are_the_images(fitted):
    first, last = fitted.frames([0.0, 1.0])
    for frame, image in ((first, fitted.a), (last, fitted.b)):
        visible = image[..., 3] > 0
        assert np.array_equal(frame[..., 3], image[..., 3])
        assert np.array_equal(frame[visible], image[visible])


def test_hidden_colour_does_not_leak():
    """Only the colour under fully transparent pixels differs: every frame is the same."""
    times = [0.25, 0.5, 0.75]
    one = fit_pair(sticker(A_AT, seed=1), sticker(B_AT, seed=2), SETTINGS, device="cpu").frames(times)
    other = fit_pair(sticker(A_AT, seed=7), sticker(B_AT, seed=8), SETTINGS, device="cpu").frames(times)
    for x, y in zip(one, other):
        assert np.array_equal(x, y)


def test_rgba_pair_file_round_trip(tmp_path, fitted):
    fitted.save(tmp_path / "p.pt")
    loaded = Pair.load(tmp_path / "p.pt")
    assert loaded.a.shape == (SIZE, SIZE, 4)
    assert np.array_equal(loaded.frames([0.5])[0], fitted.frames([0.5])[0])


# --- writers -------------------------------------------------------------------------------

def _frames():
    """Three RGBA frames: a bar moving right over transparency, with a half-transparent edge."""
    out = []
    for k in range(3):
        f = np.zeros((20, 30, 4), np.uint8)
        f[..., :3] = (200, 30, 60)
        f[5:15, 3 + 6 * k:13 + 6 * k, 3] = 255
        f[5:15, 13 + 6 * k, 3] = 100
        out.append(f)
    return out


def _read_rgba(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        frames = []
        for k in range(getattr(im, "n_frames", 1)):
            im.seek(k)
            frames.append(np.array(im.convert("RGBA")))
        return frames


@pytest.mark.parametrize("name,quality", [("x.png", 90), ("x.webp", 100), ("x.webp", 90)])
def test_writers_keep_alpha(tmp_path, name, quality):
    frames = _frames()
    write_animation(tmp_path / name, frames, [(i, 0.1) for i in range(3)], fps=10, encoding=Encoding(quality=quality))
    back = _read_rgba(tmp_path / name)
    assert len(back) == 3
    for got, want in zip(back, frames):
        assert np.array_equal(got[..., 3], want[..., 3])  # alpha is stored losslessly by all three
        visible = want[..., 3] > 0
        assert np.abs(got[visible][:, :3].astype(int) - want[visible][:, :3]).max() <= (0 if quality == 100 else 8)


def test_frames_folder_is_rgba_png(tmp_path):
    frames = _frames()
    write_animation(f"{tmp_path}/f/", frames, [(i, 0.1) for i in range(3)], fps=10)
    for k, want in enumerate(frames):
        with Image.open(tmp_path / "f" / f"frame_{k:04d}.png") as im:
            assert im.mode == "RGBA"
            assert np.array_equal(np.array(im), want)


@pytest.mark.parametrize("threshold", [128, 50])
def test_gif_transparency_threshold(tmp_path, threshold):
    frames = _frames()
    write_animation(tmp_path / "x.gif", frames, [(i, 0.1) for i in range(3)], fps=10,
                    encoding=Encoding(alpha_threshold=threshold))
    back = _read_rgba(tmp_path / "x.gif")
    assert len(back) == 3
    for got, want in zip(back, frames):
        # a pixel that was opaque in the frame before and is transparent now is transparent
        # (the frame before is cleared, not drawn over)
        assert np.array_equal(got[..., 3] > 0, want[..., 3] >= threshold)
        shown = want[..., 3] >= threshold
        assert (got[shown][:, :3] == (200, 30, 60)).all()


def test_gif_threshold_is_for_gif_only_and_in_range():
    for bad in (0, 256, True):
        with pytest.raises(Exception, match="alpha-threshold"):
            Encoding(alpha_threshold=bad).check()


# --- the command line ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["x.png", "x.webp", "x.gif", "frames/"])
def test_cli_keeps_alpha(files, name):
    src, out = files
    result = run("animate", src / "a.png", src / "b.png", "-o", f"{out}/{name}", *FAST)  # a Path drops the "/"
    assert result.exit_code == 0, result.output
    assert "flattened" not in result.stderr
    if name.endswith("/"):
        back = [np.array(Image.open(p)) for p in sorted((out / name).glob("frame_*.png"))]
    else:
        back = _read_rgba(out / name)
    assert len(back) == 5 and all(f.shape == (SIZE, SIZE, 4) for f in back)
    assert back[0][0, 0, 3] == 0 and back[2][..., 3].max() == 255  # transparent corner, opaque sticker
    centres = [centroid(f[..., 3]) for f in back]
    assert centres[0][0] < centres[2][0] < centres[4][0]  # it moves right, through the middle


def test_mp4_refused_with_a_hint_and_nothing_written(files):
    src, out = files
    line = error_line(run("animate", src / "a.png", src / "b.png", "-o", out / "x.mp4", *FAST))
    assert str(src / "a.png") in line and "transparency" in line and "--background" in line
    assert os.listdir(out) == []


def test_background_composites(files):
    src, out = files
    result = run("animate", src / "a.png", src / "b.png", "-o", out / "x.png", "--background", "#ff0000", *FAST)
    assert result.exit_code == 0, result.output
    with Image.open(out / "x.png") as im:
        assert im.mode == "RGB"  # flattened: nothing transparent left
        im.seek(2)
        middle = np.array(im.convert("RGB"))
    assert tuple(middle[0, 0]) == (255, 0, 0)
    assert tuple(middle[SIZE // 2 + 2, SIZE // 2]) != (255, 0, 0)  # the sticker is drawn over it
    result = run("animate", src / "a.png", src / "b.png", "-o", out / "x.mp4", "--background", "white", *FAST)
    assert result.exit_code == 0, result.output


def test_rgb_a_with_rgba_b_keeps_b_transparency(files):
    src, out = files
    Image.fromarray(blob_image(SIZE, SIZE)).save(src / "rgb.png")
    result = run("animate", src / "rgb.png", src / "b.png", "-o", out / "x.gif", *FAST)
    assert result.exit_code == 0, result.output
    back = _read_rgba(out / "x.gif")
    assert back[0][..., 3].min() == 255 and back[-1][0, 0, 3] == 0


def test_keyframe_path_keeps_alpha(files):
    src, out = files
    Image.fromarray(sticker((28.0, 12.0), seed=3), "RGBA").save(src / "c.png")
    result = run("animate", src / "a.png", src / "b.png", src / "c.png", "-o", out / "x.webp",
                 "--quality", "100", *FAST)
    assert result.exit_code == 0, result.output
    back = _read_rgba(out / "x.webp")
    assert len(back) == 5
    for index, name in ((0, "a.png"), (2, "b.png"), (4, "c.png")):  # keyframes fall on frames 0, 2, 4
        want = np.array(Image.open(src / name))
        assert np.array_equal(back[index][..., 3], want[..., 3])


def test_pair_file_keeps_alpha_and_mp4_is_refused(files):
    src, out = files
    pair = src / "p.pt"
    assert run("fit-pair", src / "a.png", src / "b.png", "-o", pair, "--working-size", "32", "-q").exit_code == 0
    line = error_line(run("animate", "--from", pair, "-o", out / "x.mp4", "--frames", "3", "-q"))
    assert str(pair) in line and "transparency" in line
    assert os.listdir(out) == []
    assert run("animate", "--from", pair, "-o", out / "x.png", "--frames", "3", "-q").exit_code == 0
    assert _read_rgba(out / "x.png")[1][0, 0, 3] == 0


@pytest.mark.parametrize("extra,words", [
    (["-o", "x.gif", "--alpha-threshold", "0"], "--alpha-threshold must be a whole number from 1 to 255"),
    (["-o", "x.gif", "--alpha-threshold", "256"], "--alpha-threshold must be a whole number from 1 to 255"),
    (["-o", "x.webp", "--alpha-threshold", "100"], "applies to GIF only"),
    (["-o", "x.gif", "--background", "not-a-colour"], "is not a colour"),
    (["-o", "x.gif", "--background", "#ff000080"], "is not opaque"),
    (["-o", "x.gif", "--background", "white", "--alpha-threshold", "9"], "exclude each other"),
])
def test_bad_options_one_line_nothing_written(files, extra, words):
    src, out = files
    args = [a if a not in ("x.gif", "x.webp") else out / a for a in extra]
    line = error_line(run("animate", src / "a.png", src / "b.png", *args, *FAST))
    assert words in line, line
    assert os.listdir(out) == []


def test_help_explains_the_options():
    text = run("animate", "--help").output
    assert "--background" in text and "--alpha-threshold" in text


# --- video input: a folder of RGBA frames --------------------------------------------------

@pytest.fixture
def rgba_folder(tmp_path):
    folder, out = tmp_path / "clip", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    for k, x in enumerate((12.0, 17.0, 22.0)):
        Image.fromarray(sticker((x, 18.0), seed=k), "RGBA").save(folder / f"frame_{k:04d}.png")
    return folder, out


def test_rgba_frames_folder_keeps_alpha(rgba_folder):
    folder, out = rgba_folder
    result = run("animate", folder, "--source-fps", "10", "--multiply", "2", "-o", out / "x.png", "--working-size", "32", "-q")
    assert result.exit_code == 0, result.output
    back = _read_rgba(out / "x.png")
    assert len(back) == 5
    for index, k in ((0, 0), (2, 1), (4, 2)):  # source frames are output frames 0, 2, 4
        assert np.array_equal(back[index][..., 3], np.array(Image.open(folder / f"frame_{k:04d}.png"))[..., 3])
    x = [centroid(f[..., 3])[0] for f in back]
    assert x[0] < x[1] < x[2] < x[3] < x[4] and abs(x[1] - 14.5) < 1.0  # the in-between frames move too


def test_rgba_frames_folder_to_mp4(rgba_folder):
    folder, out = rgba_folder
    args = ["animate", folder, "--source-fps", "10", "--multiply", "2", "--working-size", "32", "-q"]
    line = error_line(run(*args, "-o", out / "x.mp4"))
    assert str(folder) in line and "--background" in line
    assert os.listdir(out) == []
    assert run(*args, "-o", out / "x.mp4", "--background", "black").exit_code == 0


@pytest.mark.parametrize("name", ["clip.png", "clip.webp"])
def test_animated_png_and_webp_are_videos_with_alpha(tmp_path, name):
    frames = [Image.fromarray(sticker((x, 18.0), seed=k), "RGBA") for k, x in enumerate((12.0, 17.0, 22.0))]
    extra = {"lossless": True} if name.endswith(".webp") else {}
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)
    out = tmp_path / "out"
    out.mkdir()
    result = run("animate", tmp_path / name, "--multiply", "2", "-o", out / name, "--working-size", "32", "-q")
    assert result.exit_code == 0, result.output
    back = _read_rgba(out / name)
    assert len(back) == 5
    for index, k in ((0, 0), (2, 1), (4, 2)):
        assert np.array_equal(back[index][..., 3], np.array(frames[k])[..., 3])
    assert abs(centroid(back[1][..., 3])[0] - 14.5) < 1.0
    with Image.open(out / name) as im:  # the source's 10 fps, doubled
        im.seek(1)
        im.load()
        assert im.info["duration"] == 50
    line = error_line(run("animate", tmp_path / name, "--multiply", "2", "-o", out / "x.mp4", "--working-size", "32", "-q"))
    assert "transparency" in line and "--background" in line
    assert not (out / "x.mp4").exists()


def test_webp_without_ffmpeg_keeps_alpha(tmp_path, monkeypatch):
    import img2gif.ffmpeg

    monkeypatch.setattr(img2gif.ffmpeg, "has_encoder", lambda name: False)  # Pillow's writer
    frames = _frames()
    write_animation(tmp_path / "x.webp", frames, [(i, 0.1) for i in range(3)], fps=10, encoding=Encoding(quality=100))
    for got, want in zip(_read_rgba(tmp_path / "x.webp"), frames):
        assert np.array_equal(got[..., 3], want[..., 3])


def test_gif_frames_are_cropped_to_what_shows(tmp_path):
    """Each frame of a transparent GIF holds only its visible box (the file stays small)."""
    frames = _frames()
    write_animation(tmp_path / "x.gif", frames, [(i, 0.1) for i in range(3)], fps=10)
    with Image.open(tmp_path / "x.gif") as im:
        for k in range(3):
            im.seek(k)
            left, top, right, bottom = im.tile[0][1] if im.tile else im.dispose_extent
            assert (right - left, bottom - top) == (10, 10)  # the opaque 10 x 10 bar (its 100-alpha edge is below 128)


def test_cut_animated_png_is_one_line(tmp_path):
    frames = [Image.fromarray(sticker((x, 18.0), seed=k), "RGBA") for k, x in enumerate((12.0, 17.0, 22.0))]
    frames[0].save(tmp_path / "clip.png", save_all=True, append_images=frames[1:], duration=100)
    data = (tmp_path / "clip.png").read_bytes()
    (tmp_path / "clip.png").write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "out"
    out.mkdir()
    line = error_line(run("animate", tmp_path / "clip.png", "--multiply", "2", "-o", out / "x.webp", "-q"))
    assert str(tmp_path / "clip.png") in line
    assert os.listdir(out) == []
