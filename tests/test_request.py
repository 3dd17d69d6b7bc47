"""The request (img2gif.request): what is animated, the one place options are refused, the
default output name, the seed given once; and the Python API and the CLI building the same."""
import numpy as np
import pytest

from conftest import cli, one_error
from img2gif.errors import OptionError
from img2gif.fit import FitSettings
from img2gif.request import MODEL_ALONE, PAIR, PATH, SAVED_PAIR, VIDEO, FitOptions, Request


@pytest.mark.parametrize("request_, kind", [
    (Request(inputs=("a.png", "b.png")), PAIR),
    (Request(inputs=("a.png", "b.png"), model="smile"), PAIR),
    (Request(inputs=("a.png",), model="smile"), MODEL_ALONE),
    (Request(inputs=("a.png", "b.png", "c.png")), PATH),
    (Request(pair="p.pt"), SAVED_PAIR),
    (Request(inputs=("clip.mp4",), video=True), VIDEO),
])
def test_kind_follows_the_inputs(request_, kind):
    assert request_.kind == kind


@pytest.mark.parametrize("request_, says", [
    (Request(inputs=("a.png", "b.png"), crop=(0, 0, 8, 8)), "--crop applies to A alone with --model"),
    (Request(inputs=("a.png", "b.png"), multiply=2), "--multiply applies to a video"),
    (Request(inputs=("clip.mp4",), video=True, frames=10), "--frames does not apply to a video"),
    (Request(inputs=("clip.mp4",), video=True, loop="pingpong"), "--loop pingpong does not apply to a video"),
    (Request(inputs=("a.png", "b.png", "c.png"), loop="pingpong"), "pingpong does not apply to a keyframe path"),
    (Request(inputs=("a.png", "b.png"), loop="closed"), "--loop closed needs three or more images"),
    (Request(inputs=("a.png", "b.png"), times=(0, 1)), "--times needs three or more images"),
    (Request(inputs=("a.png",)), "animate needs two images A and B"),
    (Request(inputs=("a.png",), pair="p.pt"), "give either images or --from pair.pt, not both"),
    (Request(inputs=("a.png",), model="smile", fit="pad"), "--fit sets how B is made A's size"),
    (Request(pair="p.pt", fit_options=FitOptions(keep_still="auto")), "--keep-still applies when A and B are fitted"),
    (Request(inputs=("a.png", "b.png"), fit_options=FitOptions(warm_steps=(1, 1, 1))), "--warm-steps applies to a video"),
    (Request(inputs=("a.png", "b.png"), mode="smear"), "unknown mode 'smear'"),
    (Request(inputs=("a.png", "b.png"), fit="squash"), "unknown --fit 'squash'"),
    (Request(inputs=("a.png", "b.png"), fit_options=FitOptions(estimator="blocks", match=False)), "--estimator replaces"),
    (Request(inputs=("a.png", "b.png"), settings=FitSettings(seed=1), fit_options=FitOptions(seed=2)),
     "the seed is given twice"),
    (Request(inputs=("a.png", "b.png"), settings=FitSettings(), fit_options=FitOptions(match=False)),
     "in settings or one by one"),
])
def test_check_refuses_what_does_not_apply(request_, says):
    """Refused from the options alone: no file named here exists."""
    with pytest.raises(OptionError, match=says):
        request_.check()


def test_the_seed_given_once_either_way_is_the_fits():
    assert Request(inputs=("a", "b"), fit_options=FitOptions(seed=7)).fit_settings().seed == 7
    assert Request(inputs=("a", "b"), settings=FitSettings(seed=7)).fit_settings().seed == 7
    agreed = Request(inputs=("a", "b"), settings=FitSettings(seed=7), fit_options=FitOptions(seed=7))
    assert agreed.fit_settings().seed == 7


@pytest.mark.parametrize("request_, name", [
    (Request(inputs=("x/a.png", "y/b.png")), "a_to_b.gif"),
    (Request(inputs=("a.png", "b.png", "c.png")), "a_path.gif"),
    (Request(inputs=("face.jpg",), model="smile"), "face_smile.gif"),
    (Request(pair="runs/p.pt"), "p.gif"),
    (Request(inputs=("clips/walk.mov",), video=True), "walk_smooth.mp4"),
    (Request(inputs=("sticker.webp",), video=True), "sticker_smooth.webp"),
    (Request(inputs=("a.png", "b.png"), output="given.mp4"), "given.mp4"),
])
def test_default_output_is_named_from_the_inputs(request_, name):
    assert request_.check().output == name


def test_the_python_api_refuses_a_seed_it_would_drop(image_files, tmp_path):
    """animate(seed=, settings=) used to drop the seed silently."""
    import img2gif

    a, b = image_files
    with pytest.raises(OptionError, match="the seed is given twice"):
        img2gif.animate(a, b, tmp_path / "x.gif", seed=3, settings=FitSettings(seed=0))
    assert not (tmp_path / "x.gif").exists()


def test_the_cli_and_the_api_write_the_same_frames(image_files, tmp_path):
    """One request either way: the same fit and the same file."""
    import img2gif

    a, b = image_files
    done = cli("animate", a, b, "-o", f"{tmp_path / 'cli'}/", "--frames", "3", "--working-size", "32", "--seed", "4", "-q")
    assert done.exit_code == 0, done.output
    img2gif.animate(a, b, f"{tmp_path / 'api'}/", frames=3, settings=FitSettings(working_size=32, seed=4))
    from PIL import Image

    for k in range(3):
        x, y = (np.asarray(Image.open(tmp_path / d / f"frame_{k:04d}.png")) for d in ("cli", "api"))
        assert np.array_equal(x, y)


def test_a_refusal_from_the_request_is_one_line_from_the_cli(image_files, tmp_path):
    a, b = image_files
    line = one_error(cli("animate", a, b, "--multiply", "2", "-o", tmp_path / "x.gif"))
    assert "--multiply applies to a video" in line and not (tmp_path / "x.gif").exists()
