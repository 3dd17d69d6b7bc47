"""Block matching (img2gif.correspondence): shapes, a part that moves on its own, bad input,
and what it does for a pair fit."""
import pytest
import torch

from img2gif.correspondence import match_blocks
from img2gif.fit import FitSettings, fit_pair_tensors, working_shape
from img2gif.warp import sample, to_pixels


def _texture(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def _moving_square(shift=12, h=96, w=128, side=48):
    """A still background and a textured square that moves ``shift`` px right from A to B."""
    background, square = _texture(h, w, 1), _texture(side, side, 2)
    a, b = background.clone(), background.clone()
    y0, x0 = 32, 24
    a[..., y0:y0 + side, x0:x0 + side] = square
    b[..., y0:y0 + side, x0 + shift:x0 + shift + side] = square
    return a, b, (y0, x0, side)


def test_shape_is_the_finest_searched_level():
    a = _texture(96, 128, 0)
    assert match_blocks(a, a).shape == (1, 2, 48, 64)
    assert match_blocks(a, a, finest=0).shape == (1, 2, 96, 128)


def test_a_part_that_moves_on_its_own_gets_its_own_motion():
    a, b, (y0, x0, side) = _moving_square(shift=12)
    px = to_pixels(match_blocks(a, b, finest=0))[0]
    # B's square at x0 + 12 .. comes from A's square: phi_x = -12 there, the background stays
    inside = px[:, y0 + 8:y0 + side - 8, x0 + 12 + 8:x0 + 12 + side - 8]
    assert torch.allclose(inside[0].median(), torch.tensor(-12.0), atol=1.0)
    assert inside[1].abs().median() < 1.0
    assert px[:, :, :16].abs().max() < 1.0  # a still strip, far from the square


def test_identical_and_flat_images_do_not_move():
    a = _texture(64, 64, 3)
    assert match_blocks(a, a).abs().max() == 0
    flat = torch.full((1, 3, 64, 64), 0.5)
    assert match_blocks(flat, flat * 1.0).abs().max() == 0


def test_the_search_starts_from_the_given_field():
    # a shift beyond the pyramid's reach is found when the start carries it
    a = _texture(64, 64, 4)
    shift = torch.tensor([0.8, 0.0]).view(1, 2, 1, 1)  # 25 px in x, beyond the search's reach
    b = sample(a, shift.expand(1, 2, 64, 64))
    near = to_pixels(match_blocks(a, b, start=shift * 0.9))[0]
    far = to_pixels(match_blocks(a, b))[0]
    centre = (slice(None), slice(12, 20), slice(4, 12))  # inside the frame in A and in B
    true_px = 0.8 * 31 / 2  # in pixels of the 32 x 32 result
    assert abs(float(near[centre][0].median()) - true_px) < 0.5
    assert abs(float(far[centre][0].median()) - true_px) > 5  # reach about 6 px
    assert far.abs().max() <= 6.5  # 2 coarse pixels (2.07 of these) + 2 fine ones


@pytest.mark.parametrize("kwargs, message", [
    ({"b": torch.zeros(1, 3, 32, 30)}, "one size"),
    ({"patch": 4}, "odd patch"),
    ({"radius": 0}, "radius"),
    ({"start": torch.zeros(1, 3, 4, 4)}, "start"),
])
def test_bad_input_is_refused(kwargs, message):
    args = {"a": torch.zeros(1, 3, 32, 32), "b": torch.zeros(1, 3, 32, 32)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        match_blocks(**args)


def test_a_fit_started_by_matching_follows_the_moving_part():
    a, b, (y0, x0, side) = _moving_square(shift=16)
    errors = {}
    for match in (False, True):
        ode = fit_pair_tensors(a, b, FitSettings(match=match, steps=(40, 20, 10)))
        phi = ode.fields(a, torch.tensor([1.0]), working_shape(*a.shape[-2:], 256))[:, 0]
        inside = (..., slice(y0 + 4, y0 + side - 4), slice(x0 + 16 + 4, x0 + 16 + side - 4))  # B's square
        errors[match] = float((sample(a, phi) - b)[inside].abs().mean().detach())
        px = to_pixels(phi)[0]
        if match:
            assert px[0, y0 + 12:y0 + side - 12, x0 + 16 + 12:x0 + 16 + side - 12].median() < -12
    assert errors[True] < 0.75 * errors[False], errors


def test_match_is_on_by_default_and_refused_where_it_cannot_start_the_fit(tmp_path):
    from conftest import blob_image, cli, one_error
    from PIL import Image

    assert FitSettings().match is True and FitSettings.from_dict({}).match is False  # a record from before it
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(blob_image(32, 32)).save(a)
    Image.fromarray(blob_image(32, 32, shift=(2, 0))).save(b)
    result = cli("fit-pair", a, b, "-o", tmp_path / "p.pt", "--velocity", "unet", "--match")
    assert result.exit_code == 2 and "--match needs a velocity that can start from a field" in one_error(result)
    assert not (tmp_path / "p.pt").exists()


def test_match_refines_a_given_start_field():
    # a start field that already holds the square's motion: matching keeps it (and does not
    # fall back to the whole frame's shift, which is zero here)
    a, b, (y0, x0, side) = _moving_square(shift=16)
    start = torch.zeros(1, 2, *a.shape[-2:])
    start[:, 0, y0:y0 + side, x0 + 16:x0 + 16 + side] = -16 * 2 / (a.shape[-1] - 1)
    ode = fit_pair_tensors(a, b, FitSettings(match=True, steps=(10, 5, 5)), initial_field=start[0])
    px = to_pixels(ode.fields(a, torch.tensor([1.0]), working_shape(*a.shape[-2:], 256))[:, 0])[0]
    assert px[0, y0 + 12:y0 + side - 12, x0 + 16 + 12:x0 + 16 + side - 12].median() < -12
