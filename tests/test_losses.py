import pytest
import torch

from img2gif.losses.data import charbonnier, l2
from img2gif.losses.penalties import displacement, jacobian, outgrid, smoothness
from img2gif.warp import identity_grid


def test_data_losses_zero_on_equal_and_positive_otherwise():
    x = torch.rand(2, 3, 5, 5)
    for fn in (l2, charbonnier):
        assert fn(x, x) < 1e-6
        assert fn(x, x + 0.1) > 1e-3


def test_data_losses_reject_shape_mismatch():
    for fn in (l2, charbonnier):
        with pytest.raises(ValueError):
            fn(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))


def test_penalties_zero_for_identity_and_translation():
    phi = torch.zeros(1, 2, 8, 8)
    assert jacobian(phi) == 0 and outgrid(phi) == 0 and smoothness(phi) == 0
    shift = torch.full((1, 2, 8, 8), 0.01)
    assert jacobian(shift) == 0 and smoothness(shift) < 1e-10


def test_jacobian_penalises_folds_and_sums_over_times():
    g = identity_grid(8, 8)
    fold = torch.zeros(1, 2, 8, 8)
    fold[:, 0] = -2 * g[:, 0]
    one = jacobian(fold)
    assert one > 0
    assert torch.isclose(jacobian(torch.stack([fold, fold])), 2 * one)


def test_outgrid_penalises_leaving_frame():
    assert outgrid(torch.full((1, 2, 4, 4), 0.5)) > 0


def test_penalty_gradcheck():
    phi = (0.05 * torch.randn(1, 2, 5, 5, dtype=torch.float64)).requires_grad_()
    for fn in (smoothness, outgrid):
        assert torch.autograd.gradcheck(fn, (phi + 0.0,))
    assert torch.autograd.gradcheck(lambda p: charbonnier(p, torch.zeros_like(p)), (phi,))


def test_displacement_in_pixels_weighted_and_summed_over_times():
    phi = torch.zeros(1, 2, 9, 5)
    phi[:, 0] = 2 * 2 / (5 - 1)  # 2 px right
    assert torch.isclose(displacement(phi), torch.tensor(4.0))  # 4 px^2 everywhere
    assert torch.isclose(displacement(torch.stack([phi, phi])), torch.tensor(8.0))
    weight = torch.zeros(9, 5)
    weight[:, :2] = 1.0  # only the left two columns cost
    assert torch.isclose(displacement(phi, weight), torch.tensor(4.0 * 2 / 5))
    coarse = torch.zeros(1, 1, 9, 2)
    coarse[..., 0] = 1.0  # left half, at half the width: resized to (9, 5), weights 1, .75, .5, .25, 0
    assert torch.isclose(displacement(phi, coarse), torch.tensor(4.0 * 2.5 / 5))
    assert displacement(torch.zeros(1, 2, 4, 4)) == 0


def test_displacement_bad_weight_and_gradcheck():
    with pytest.raises(ValueError, match="weight must be"):
        displacement(torch.zeros(2, 2, 4, 4), torch.ones(3, 1, 4, 4))
    with pytest.raises(ValueError):
        displacement(torch.zeros(2, 3, 4, 4))
    phi = (0.05 * torch.randn(2, 2, 5, 5, dtype=torch.float64)).requires_grad_()
    weight = torch.rand(5, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: displacement(p, weight), (phi,))
