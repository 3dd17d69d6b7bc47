import pytest
import torch

from img2gif.warp import compose, count_folds, identity_grid, jacobian_determinant, resize_field, sample


def test_identity_grid_corners():
    g = identity_grid(3, 5)
    assert g.shape == (1, 2, 3, 5)
    assert g[0, 0, 0, 0] == -1 and g[0, 0, 0, -1] == 1  # x runs along width
    assert g[0, 1, 0, 0] == -1 and g[0, 1, -1, 0] == 1  # y runs along height


def test_sample_zero_field_is_identity():
    x = torch.rand(2, 3, 8, 10)
    assert torch.allclose(sample(x, torch.zeros(2, 2, 8, 10)), x, atol=1e-6)


def test_sample_pulls_from_displaced_position():
    # phi = +1 px in x: warped(p) = x(p + 1px), so content moves left by one pixel
    x = torch.arange(10.0).view(1, 1, 1, 10).expand(1, 1, 4, 10).contiguous()
    phi = torch.zeros(1, 2, 4, 10)
    phi[:, 0] = 2.0 / 9
    out = sample(x, phi)
    assert torch.allclose(out[0, 0, 0, :9], x[0, 0, 0, 1:], atol=1e-5)


def test_sample_shapes_and_broadcast():
    x = torch.rand(3, 4, 8, 8)
    out = sample(x, torch.zeros(1, 2, 5, 6))
    assert out.shape == (3, 4, 5, 6)


@pytest.mark.parametrize("bad", [torch.zeros(1, 3, 4, 4), torch.zeros(2, 4, 4), torch.zeros(1, 2, 4, 4, dtype=torch.int64)])
def test_sample_rejects_bad_field(bad):
    with pytest.raises(ValueError):
        sample(torch.rand(1, 1, 4, 4), bad)


def test_compose_of_translations_adds():
    a = torch.full((1, 2, 6, 6), 0.1)
    b = torch.full((1, 2, 6, 6), -0.05)
    assert torch.allclose(compose(a, b), torch.full((1, 2, 6, 6), 0.05), atol=1e-6)


def test_jacobian_determinant_matches_finite_differences():
    torch.manual_seed(0)
    h, w = 9, 11
    phi = 0.05 * torch.randn(1, 2, h, w, dtype=torch.float64)
    det = jacobian_determinant(phi)
    # independent computation in pixel units with explicit loops
    ux = phi[0, 0] * (w - 1) / 2
    uy = phi[0, 1] * (h - 1) / 2
    i, j = 4, 5
    dxx = 1 + ux[i, j + 1] - ux[i, j]
    dxy = ux[i + 1, j] - ux[i, j]
    dyx = uy[i, j + 1] - uy[i, j]
    dyy = 1 + uy[i + 1, j] - uy[i, j]
    assert torch.isclose(det[0, i, j], dxx * dyy - dxy * dyx)


def test_jacobian_of_scaling_and_fold():
    h = w = 9
    g = identity_grid(h, w, dtype=torch.float64)
    assert torch.allclose(jacobian_determinant(g * 1.0), torch.full((1, h - 1, w - 1), 4.0, dtype=torch.float64))  # (id+id)=2x
    mirror = torch.zeros(1, 2, h, w, dtype=torch.float64)
    mirror[:, 0] = -2 * g[:, 0]  # x -> -x: a fold everywhere
    assert count_folds(mirror) == (h - 1) * (w - 1)
    assert count_folds(torch.zeros(1, 2, h, w)) == 0


def test_jacobian_gradcheck():
    phi = (0.05 * torch.randn(1, 2, 5, 6, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: jacobian_determinant(p).sum(), (phi,))


def test_sample_gradcheck_wrt_field():
    x = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    phi = (0.03 * torch.randn(1, 2, 6, 6, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: sample(x, p), (phi,), atol=1e-5)


def test_resize_field_keeps_values():
    phi = torch.full((1, 2, 4, 4), 0.3)
    assert torch.allclose(resize_field(phi, 16, 12), torch.full((1, 2, 16, 12), 0.3))


def test_shared_identity_grid_is_not_changed_by_sampling():
    """sample() adds the field to a shared identity grid: it must never write into it."""
    from img2gif.warp import _shared_identity, identity_grid, sample

    x = torch.rand(1, 3, 9, 11)
    phi = torch.full((1, 2, 9, 11), 0.1, requires_grad=True)
    first = sample(x, phi)
    first.sum().backward()
    assert torch.equal(_shared_identity(9, 11, phi.device, phi.dtype), identity_grid(9, 11))
    assert torch.equal(sample(x, phi.detach()), first.detach())


def test_to_pixels_shapes_and_units():
    from img2gif.warp import to_pixels

    phi = torch.zeros(3, 1, 2, 5, 9)
    phi[:, :, 0] = 2.0 / 8   # one pixel right on a 9-wide grid
    phi[:, :, 1] = -2.0 / 4  # one pixel up on a 5-high grid
    u = to_pixels(phi)
    assert u.shape == phi.shape
    assert torch.allclose(u[:, :, 0], torch.ones(3, 1, 5, 9)) and torch.allclose(u[:, :, 1], -torch.ones(3, 1, 5, 9))
    with pytest.raises(ValueError, match="2, H, W"):
        to_pixels(torch.zeros(1, 3, 4, 4))


def test_resize_image_shapes_and_kinds():
    from img2gif.warp import resize_image

    x = torch.rand(2, 3, 16, 24)
    assert resize_image(x, (16, 24)) is x
    small = resize_image(x, (8, 12))
    assert small.shape == (2, 3, 8, 12)
    # shrinking by two averages each 2x2 block (no aliasing)
    assert torch.allclose(small[0, 0, 0, 0], x[0, 0, :2, :2].mean())
    big = resize_image(x, (31, 47))
    assert big.shape == (2, 3, 31, 47)
    assert torch.allclose(big[..., 0, 0], x[..., 0, 0]) and torch.allclose(big[..., -1, -1], x[..., -1, -1])


def test_resize_image_bad_input_and_gradient():
    from img2gif.warp import resize_image

    with pytest.raises(ValueError, match="B, C, H, W"):
        resize_image(torch.rand(3, 16, 16), (8, 8))
    with pytest.raises(ValueError, match="floating"):
        resize_image(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), (8, 8))
    x = torch.rand(1, 1, 6, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: resize_image(t, (3, 4)), (x,))
    assert torch.autograd.gradcheck(lambda t: resize_image(t, (9, 11)), (x,))
