"""Keyframe paths: times checked, keyframes exact, motion carried through keyframes, no folds."""
import numpy as np
import pytest
import torch
from PIL import Image

from img2gif.errors import OptionError
from img2gif.fit import FitSettings
from img2gif.path import fit_path
from img2gif.timing import keyframe_times as check_times, parse_times

from conftest import blob_image, cli, one_error

FAST = FitSettings(working_size=32)


def disc_scene(cx, cy, size=64, radius=8.0):
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    background = blob_image(size, size, seed=3).astype(np.float64) * 0.5
    inside = np.clip(radius + 0.5 - np.hypot(xs - cx, ys - cy), 0, 1)[..., None]
    return np.round(background * (1 - inside) + 230 * inside).astype(np.uint8)


def centre(frame, background):
    diff = np.abs(frame.astype(float) - background).sum(axis=2)
    diff[diff < 40] = 0
    ys, xs = np.mgrid[0:frame.shape[0], 0:frame.shape[1]]
    return np.array([(xs * diff).sum() / diff.sum(), (ys * diff).sum() / diff.sum()])


# --- times ----------------------------------------------------------------------------------

def test_times_default_evenly_spaced():
    assert check_times(None, 4, closed=False) == [0, 1 / 3, 2 / 3, 1]
    assert check_times(None, 4, closed=True) == [0, 0.25, 0.5, 0.75]
    assert parse_times("0,0.2,1") == [0.0, 0.2, 1.0] and parse_times(None) is None


@pytest.mark.parametrize("times, closed, words", [
    ([0, 0.5], False, "2 values for 3 images"),
    ([0, 0.5, 0.4], False, "strictly increasing"),
    ([0.1, 0.5, 1], False, "start at 0"),
    ([0, 0.5, 0.9], False, "end at 1"),
    ([0, 0.5, 1], True, "below 1"),
    ([0, float("nan"), 1], False, "finite"),
    ([0, 1e-40, 1], False, "at least 1e-06"),
    ([0, 1 - 1e-9, 1], False, "at least 1e-06"),
    ([0, 0.5, 1 - 1e-12], True, "at least 1e-06"),
])
def test_bad_times_are_refused(times, closed, words):
    with pytest.raises(OptionError, match=words):
        check_times(times, 3, closed)


def test_too_few_keyframes_and_bad_text():
    with pytest.raises(OptionError, match="at least 3"):
        check_times(None, 2, False)
    with pytest.raises(OptionError, match="commas"):
        parse_times("0;1")


# --- the path -------------------------------------------------------------------------------

def test_keyframes_are_shown_exactly_and_nothing_folds():
    images = [blob_image(40, 48, shift=(2 * k, (k % 2) * 2)) for k in range(4)]
    path = fit_path(images, None, False, FAST, device="cpu")
    times = [k / 9 for k in range(10)]  # keyframes at frames 0, 3, 6, 9
    frames = list(path.frame_renderer()(times))
    assert len(frames) == 10
    for k, index in enumerate((0, 3, 6, 9)):
        assert np.array_equal(frames[index], images[k])
    assert path.folds() == 0


def test_uneven_times_place_each_keyframe():
    images = [blob_image(40, 48, shift=(s, 0)) for s in (0, 1, 4)]
    path = fit_path(images, [0, 0.25, 1], False, FAST, device="cpu")
    assert path.locate(0.25) == (1, 0.0) and path.locate(0.625) == (1, 0.5) and path.locate(1.0) == (1, 1.0)
    frame = next(path.frame_renderer()([0.25]))
    assert np.array_equal(frame, images[1])


def test_gaps_too_short_for_float32_do_not_give_black_frames():
    """Times that passed no check (the Python API's KeyframePath): a gap of 1e-40 makes the bend
    overflow float32; the keyframe is then not bent, and every frame is an image, not black."""
    from img2gif.path import KeyframePath

    images = [blob_image(40, 48, shift=(s, 0)) for s in (0, 1, 4)]
    fitted = fit_path(images, None, False, FAST, device="cpu")
    path = KeyframePath(images, [0.0, 1e-40, 1.0], fitted.pairs, False)
    assert path.accelerations[1] is None
    for frame in path.frame_renderer()([0.0, 0.3, 0.6, 0.9]):
        assert np.isfinite(frame).all() and abs(float(frame.mean()) - float(images[1].mean())) < 10


def test_steady_motion_is_not_bent():
    """Constant velocity along a line: the neighbours' acceleration is ~0, frames barely change."""
    images = [blob_image(40, 48, shift=(2 * k, 0)) for k in range(4)]
    path = fit_path(images, None, False, FAST, device="cpu")
    inner = [a for a in path.accelerations if a is not None]
    assert len(inner) == 2 and path.accelerations[0] is None and path.accelerations[-1] is None
    f_plus = path.pairs[1].fields([-1.0])[0]
    for accel in inner:
        # the bend at mid-gap is a_k h^2 / 8: small against one gap's motion
        assert (accel.abs().max() * path.gaps[1].duration ** 2 / 8) < 0.25 * f_plus.abs().max()


def test_a_corner_is_turned_smoothly():
    """Right then down: with the neighbours the step direction changes far less at the corner."""
    size = 64
    spots = [(20, 20), (32, 20), (32, 32)]
    images = [disc_scene(x, y, size) for x, y in spots]
    background = blob_image(size, size, seed=3).astype(np.float64) * 0.5
    path = fit_path(images, None, False, FitSettings(working_size=64), device="cpu")
    times = [k / 20 for k in range(21)]

    def turn(frames):
        c = [centre(f, background) for f in frames]
        before, after = c[10] - c[9], c[11] - c[10]
        return np.degrees(np.arccos(np.dot(before, after) / (np.linalg.norm(before) * np.linalg.norm(after))))

    bent = turn(list(path.frame_renderer()(times)))
    saved = path.accelerations
    path.accelerations = [None] * len(saved)
    straight = turn(list(path.frame_renderer()(times)))
    path.accelerations = saved
    assert bent < 0.6 * straight
    assert path.folds() == 0


def test_closed_path_returns_to_the_first_keyframe():
    images = [blob_image(40, 48, shift=s) for s in ((0, 0), (3, 0), (3, 3))]
    path = fit_path(images, None, True, FAST, device="cpu")
    assert len(path.gaps) == 3 and path.gaps[-1].end == 0
    assert all(a is not None for a in path.accelerations)  # every keyframe has two neighbours
    frames = list(path.frame_renderer()([0.0, 1 / 3, 2 / 3, 1.0]))
    assert np.array_equal(frames[-1], images[0]) and np.array_equal(frames[1], images[1])


def test_keyframes_of_different_sizes_are_refused():
    with pytest.raises(OptionError, match="one size"):
        fit_path([blob_image(40, 48), blob_image(40, 48), blob_image(30, 48)], settings=FAST, device="cpu")


# --- from the command line ------------------------------------------------------------------



@pytest.fixture
def keyframe_files(tmp_path):
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"k{k}.png")
        Image.fromarray(blob_image(32, 40, shift=(2 * k, k))).save(paths[-1])
    return paths


def test_cli_path_and_closed_loop(tmp_path, keyframe_files):
    out = tmp_path / "path.gif"
    result = cli("animate", *keyframe_files, "-o", out, "--frames", "9", "--working-size", "32", "-q")
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        assert im.n_frames == 9
    out = tmp_path / "loop.gif"
    result = cli("animate", *keyframe_files, "-o", out, "--frames", "9", "--loop", "closed", "--working-size", "32", "-q")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("extra, words", [
    (["--times", "0,1"], "2 values for 3 images"),
    (["--times", "0,0.7,0.5"], "strictly increasing"),
    (["--loop", "pingpong"], "pingpong does not apply"),
    (["--model", "digits"], "--model and --from do not apply"),
])
def test_cli_path_errors(tmp_path, keyframe_files, extra, words, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert words in one_error(cli("animate", *keyframe_files, "-o", "x.gif", *extra, "-q"))
    assert not (tmp_path / "x.gif").exists()


def test_cli_closed_and_times_need_a_path(tmp_path, keyframe_files, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for extra, words in ((["--loop", "closed"], "three or more images"), (["--times", "0,1"], "three or more images")):
        result = cli("animate", *keyframe_files[:2], "-o", "x.gif", *extra, "-q")
        assert result.exit_code == 2 and words in result.output


def test_api_takes_a_list(tmp_path):
    import img2gif

    images = [blob_image(32, 40, shift=(2 * k, 0)) for k in range(3)]
    result = img2gif.animate(images, output=tmp_path / "api.mp4", frames=9,
                             settings=FitSettings(working_size=32), device="cpu")
    assert result.frames_written == 9 and result.format == "mp4"
    torch.manual_seed(0)


# --- a later gap's fit continues from the gap before ----------------------------------------

def test_later_gaps_fit_with_warm_steps_and_progress_stays_in_order():
    images = [disc_scene(20 + 6 * k, 30) for k in range(4)]
    settings = FitSettings(working_size=32, steps=(6, 4, 4), warm_steps=(0, 2, 3))
    seen = []
    path = fit_path(images, None, False, settings, device="cpu", progress=lambda done, total, loss: seen.append((done, total)))
    assert path.pairs[0].settings.steps == (6, 4, 4)  # the first gap starts from the shift search
    assert [p.settings.steps for p in path.pairs[1:]] == [(0, 2, 3)] * 2
    assert len(seen) == 14 + 5 + 5  # one report per optimiser step: the warm gaps did fewer
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and seen[-1][0] == seen[-1][1] and len({t for _, t in seen}) == 1


@pytest.mark.parametrize("warm", [(), (0, 0, 0), (5, -1, 5)])
def test_warm_steps_refused_when_they_cannot_fit(warm):
    with pytest.raises(OptionError, match="warm_steps"):
        FitSettings(warm_steps=warm).check()


def test_warm_steps_refused_when_the_levels_fitted_get_none():
    # a one-level fit runs only the first count: 0 would fit nothing
    with pytest.raises(OptionError, match="runs no steps on 1 pyramid level"):
        FitSettings(pyramid_levels=1, warm_steps=(0, 20, 0)).check()
    FitSettings(pyramid_levels=1).check()  # the default's first count is not 0
    FitSettings(pyramid_levels=1, warm_steps=(20,)).check()
    FitSettings(pyramid_levels=4, warm_steps=(0, 0, 5)).check()  # the last count repeats


def test_warm_steps_only_for_a_velocity_that_starts_from_the_gap_before():
    assert FitSettings(warm_steps=(0, 5, 5)).warm().steps == (0, 5, 5)
    # unet cannot start from a field: its later gaps start afresh, with the full schedule
    assert FitSettings(velocity="unet", warm_steps=(0, 5, 5)).warm().steps == FitSettings().steps


def test_warm_steps_survive_the_settings_record():
    settings = FitSettings(warm_steps=(0, 15, 15))
    again = FitSettings.from_dict(settings.to_dict())
    assert again.warm_steps == (0, 15, 15) and again.warm().steps == (0, 15, 15) and again.steps == settings.steps
