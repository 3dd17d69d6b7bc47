"""--crop: a model warps one box of a larger image (a face in a portrait), the rest untouched."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import invoke, stderr_error
from img2gif.errors import InputError, OptionError
from img2gif.learned import load_model
from img2gif.region import FADE_PER_PIXEL, MIN_MARGIN, Region, as_region, fade_margins, paste_field
from img2gif.warp import count_folds

FACE = Path(__file__).resolve().parent.parent / "examples" / "face_neutral.png"


def portrait(width=400, height=300, box=(120, 30, 200, 200)) -> np.ndarray:
    """The example face pasted into a wider, textured photo: (H, W, 3) uint8."""
    rng = np.random.default_rng(0)
    photo = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    face = np.asarray(Image.open(FACE).convert("RGB").resize(box[2:], Image.Resampling.LANCZOS))
    x, y, w, h = box
    photo[y:y + h, x:x + w] = face
    return photo


# --- as_region -------------------------------------------------------------------------------

def test_as_region_reads_text_tuples_and_regions():
    assert as_region("10,20,64,80") == Region(10, 20, 64, 80)
    assert as_region(" 10, 20 ,64,80 ") == Region(10, 20, 64, 80)
    assert as_region((0, 0, 8, 8)) == Region(0, 0, 8, 8)
    assert as_region(Region(1, 2, 30, 40)) == Region(1, 2, 30, 40)
    assert as_region(None) is None


@pytest.mark.parametrize("bad", ["10,20,64", "a,b,c,d", "10,20,64,64,1", "-1,0,64,64", "1.5,0,64,64", "0,0,4,64",
                                 (0, 0, 64), (0, 0, 64.0, 64), (True, 0, 64, 64), (-1, 0, 64, 64)])
def test_as_region_refuses_what_is_not_a_box(bad):
    with pytest.raises(OptionError):
        as_region(bad)


def test_region_outside_the_image_names_the_file():
    with pytest.raises(InputError, match=r"^face\.png: --crop 300,0,120,100 reaches beyond the 400x300 image"):
        Region(300, 0, 120, 100).check_inside(400, 300, "face.png")
    Region(280, 200, 120, 100).check_inside(400, 300, "face.png")  # touching the corner is inside


def test_scaled_box_follows_a_resized_image():
    assert Region(100, 50, 200, 100).scaled(0.5, 0.5) == Region(50, 25, 100, 50)
    assert Region(0, 0, 10, 10).scaled(0.1, 0.1).width == 8  # never below the smallest box


# --- paste_field -----------------------------------------------------------------------------

def test_paste_field_is_the_box_s_field_inside_and_fades_to_zero_over_its_margins():
    box = Region(20, 15, 41, 31)
    phi = torch.zeros(2, 2, 8, 8)
    phi[:, 0] = 3 * 2 / (box.width - 1)    # 3 px right in the box's normalised units
    phi[:, 1] = -2 * 2 / (box.height - 1)  # 2 px up
    margins = fade_margins(phi, box)
    assert margins == (max(MIN_MARGIN, int(np.ceil(FADE_PER_PIXEL * np.hypot(3, 2)))),) * 4
    out = paste_field(phi, box, 70, 100)
    assert out.shape == (2, 2, 70, 100)
    px = out[:, 0] * (100 - 1) / 2, out[:, 1] * (70 - 1) / 2  # image pixels
    inside = (slice(None), slice(box.y, box.y + box.height), slice(box.x, box.x + box.width))
    assert torch.allclose(px[0][inside], torch.tensor(3.0), atol=1e-5)
    assert torch.allclose(px[1][inside], torch.tensor(-2.0), atol=1e-5)
    m = margins[0]
    reach = torch.zeros(70, 100, dtype=torch.bool)
    reach[box.y - m:box.y + box.height + m, box.x - m:box.x + box.width + m] = True
    assert out[:, :, ~reach].abs().max() == 0
    # beyond the box the displacement falls off steadily: strictly between 0 and its edge value
    row = px[0][0, box.y + 5, box.x - m:box.x]
    assert (row > 0).all() and (row < 3.0).all() and (row[1:] >= row[:-1]).all()


def test_paste_field_at_the_image_edge_keeps_what_fits():
    phi = torch.full((1, 2, 8, 8), 0.1)
    out = paste_field(phi, Region(0, 0, 20, 16), 30, 40)
    assert out[0, 0, 0, 0] > 0 and out.shape == (1, 2, 30, 40)  # no margin beyond the image: the box reaches it


def test_paste_field_is_differentiable():
    phi = torch.rand(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: paste_field(p, Region(2, 1, 9, 8), 14, 16, (2, 2, 2, 2)), (phi,))


def test_paste_field_refuses_bad_shapes_and_boxes():
    with pytest.raises(ValueError, match="must be"):
        paste_field(torch.zeros(2, 16, 16), Region(0, 0, 8, 8), 20, 20)
    with pytest.raises(ValueError, match="must be"):
        fade_margins(torch.zeros(1, 3, 8, 8), Region(0, 0, 8, 8))
    with pytest.raises(InputError):
        paste_field(torch.zeros(1, 2, 8, 8), Region(15, 0, 8, 8), 20, 20)


# --- a model in a box ------------------------------------------------------------------------

def test_smile_model_in_a_box_leaves_the_rest_of_the_photo_exactly_and_does_not_fold():
    model = load_model("smile", device="cpu")
    box = Region(120, 30, 200, 200)
    photo = portrait()
    times = [0.5, 1.0, -1.0]
    frames = model.frames(photo, times, region=box)
    phi = model.fields(photo, times, box)
    top, bottom, left, right = fade_margins(phi, box)
    assert max(top, bottom, left, right) < box.height // 3  # the margin stays near the box
    untouched = np.ones(photo.shape[:2], dtype=bool)
    untouched[max(0, box.y - top):box.y + box.height + bottom, max(0, box.x - left):box.x + box.width + right] = False
    for frame in frames:
        assert frame.shape == photo.shape
        assert np.array_equal(frame[untouched], photo[untouched])
    face = np.zeros(photo.shape[:2], dtype=bool)
    face[box.y:box.y + box.height, box.x:box.x + box.width] = True
    changed = np.abs(frames[1].astype(int) - photo.astype(int)).max(axis=2) > 8
    assert changed[face].sum() > 200  # the face itself moves
    assert count_folds(paste_field(phi, box, *photo.shape[:2])) == 0


def test_smile_model_in_a_box_moves_the_face_as_it_moves_the_crop_alone():
    """Inside the box the warp is the model's on the crop itself (the edge aside, where the
    crop alone repeats its border and the photo has more to show)."""
    model = load_model("smile", device="cpu")
    box = Region(120, 30, 200, 200)
    photo = portrait()
    whole = model.frames(photo, [1.0], region=box)[0]
    alone = model.frames(box.crop(photo).copy(), [1.0])[0]
    band = 12
    middle = (slice(box.y + band, box.y + box.height - band), slice(box.x + band, box.x + box.width - band))
    inner = alone[band:box.height - band, band:box.width - band]
    assert np.abs(whole[middle].astype(int) - inner.astype(int)).max() <= 1
    # without the box the model squeezes the whole photo into its square: a different warp
    squeezed = model.frames(photo, [1.0])[0]
    assert np.abs(squeezed[middle].astype(int) - inner.astype(int)).mean() > 2 * np.abs(
        whole[middle].astype(int) - inner.astype(int)).mean() + 0.5


def test_cli_crop_animates_and_reverses_a_face_in_a_photo(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(portrait()).save(photo)
    out = tmp_path / "smile.gif"
    result = invoke("animate", photo, "--model", "smile", "--crop", "120,30,200,200", "--frames", "4", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    back = tmp_path / "back.png"
    result = invoke("reverse", photo, "--model", "smile", "--crop", "120,30,200,200", "--frames", "3", "-o", back, "-q")
    assert result.exit_code == 0, result.output
    with Image.open(back) as im:
        assert im.size == (400, 300) and getattr(im, "n_frames", 1) == 3


def test_cli_crop_with_size_scales_the_box(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(portrait()).save(photo)
    out = tmp_path / "small.png"
    result = invoke("animate", photo, "--model", "smile", "--crop", "120,30,200,200", "--size", "200", "--frames", "2",
                    "-o", out, "-q")
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        im.seek(1)
        last = np.asarray(im.convert("RGB"))
    assert last.shape == (150, 200, 3)


@pytest.mark.parametrize("args, message", [
    (["--crop", "300,0,120,100"], "photo.png: --crop 300,0,120,100 reaches beyond the 400x300 image"),
    (["--crop", "10,10,64"], "--crop must be X,Y,W,H"),
    (["--crop", "0,0,4,4"], "at least 8x8"),
])
def test_cli_bad_crop_is_one_line_and_writes_nothing(tmp_path, args, message):
    photo = tmp_path / "photo.png"
    Image.fromarray(portrait()).save(photo)
    out = tmp_path / "smile.gif"
    for command in (["animate", photo, "--model", "smile"], ["reverse", photo, "--model", "smile"]):
        result = invoke(*command, *args, "-o", out, "-q")
        assert message in stderr_error(result)
        assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_cli_crop_without_a_model_is_refused(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(portrait()).save(photo)
    for extra in ([photo], [photo, photo], [photo, "--model", "smile", photo]):
        result = invoke("animate", *extra, "--crop", "0,0,64,64", "-o", tmp_path / "x.gif", "-q")
        assert "--crop applies to A alone with --model" in stderr_error(result)
