"""The flow convention, in one place.

A displacement field ``phi`` has shape (B, 2, H, W):

* channel 0 is the x (width) displacement, channel 1 the y (height) displacement;
* units are **normalised coordinates** of ``torch.nn.functional.grid_sample`` with
  ``align_corners=True``: -1 and +1 are the centres of the first and last pixel, so one
  pixel is ``2 / (W - 1)`` in x and ``2 / (H - 1)`` in y. The same field therefore means
  the same motion at any resolution, and upsampling a field is plain interpolation;
* sampling is **backward** ("pull"): the warped image is
  ``warped(p) = image(p + phi(p))``, i.e. ``image o (id + phi)``.

The animation's map is ``phi_t`` with ``phi_0 = 0``; frame ``t`` is ``x0 o (id + phi_t)``.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def check_field(phi: torch.Tensor, name: str = "phi") -> None:
    """Raise ValueError unless ``phi`` is a (B, 2, H, W) floating tensor."""
    if not isinstance(phi, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(phi).__name__}")
    if phi.dim() != 4 or phi.shape[1] != 2:
        raise ValueError(f"{name} must have shape (B, 2, H, W), got {tuple(phi.shape)}")
    if not phi.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {phi.dtype}")


def check_image(x: torch.Tensor, name: str = "image") -> None:
    """Raise ValueError unless ``x`` is a (B, C, H, W) floating tensor."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {x.dtype}")


def identity_grid(height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """The identity map as a (1, 2, H, W) field of normalised (x, y) coordinates."""
    ys = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype) if height > 1 else torch.zeros(1, device=device, dtype=dtype)
    xs = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype) if width > 1 else torch.zeros(1, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy]).unsqueeze(0)


@functools.lru_cache(maxsize=8)
def _shared_identity(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``identity_grid``, built once per size: a fit samples at the same few sizes thousands of
    times. Shared, so read-only: callers add to it, never write into it."""
    return identity_grid(height, width, device=device, dtype=dtype)


def sample(x: torch.Tensor, phi: torch.Tensor, *, mode: str = "bilinear", padding_mode: str = "border") -> torch.Tensor:
    """Warp ``x`` (B, C, h, w) by ``phi`` (B, 2, H, W): returns ``x o (id + phi)``, (B, C, H, W).

    ``x`` and ``phi`` may have different resolutions (coordinates are normalised);
    ``phi`` with batch 1 is broadcast over ``x``'s batch and vice versa.
    """
    check_image(x, "x")
    check_field(phi)
    if x.shape[0] != phi.shape[0]:
        if phi.shape[0] == 1:
            phi = phi.expand(x.shape[0], -1, -1, -1)
        elif x.shape[0] == 1:
            x = x.expand(phi.shape[0], -1, -1, -1)
        else:
            raise ValueError(f"batch sizes differ: x {x.shape[0]}, phi {phi.shape[0]}")
    h, w = phi.shape[2], phi.shape[3]
    # small grids (a fit's working sizes) are shared; a large one is not worth holding in memory
    identity = _shared_identity(h, w, phi.device, phi.dtype) if h * w <= 1 << 20 else identity_grid(
        h, w, device=phi.device, dtype=phi.dtype)
    grid = identity + phi
    return F.grid_sample(x, grid.permute(0, 2, 3, 1), mode=mode, padding_mode=padding_mode, align_corners=True)


def compose(phi_outer: torch.Tensor, phi_inner: torch.Tensor) -> torch.Tensor:
    """Displacement of ``(id + phi_outer) o (id + phi_inner)``; both (B, 2, H, W).

    ``image o (id + compose(a, b)) == (image o (id + a)) o (id + b)`` up to interpolation.
    """
    check_field(phi_outer, "phi_outer")
    check_field(phi_inner, "phi_inner")
    return phi_inner + sample(phi_outer, phi_inner)


def resize_field(phi: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resample a field to (height, width); values need no rescaling (normalised units)."""
    check_field(phi)
    if phi.shape[-2:] == (height, width):
        return phi
    return F.interpolate(phi, size=(height, width), mode="bilinear", align_corners=True)


def resize_image(x: torch.Tensor, size) -> torch.Tensor:
    """Images (B, C, h, w) at ``size`` (height, width): averaged over areas when shrinking (no
    aliasing), bilinear when growing; ``x`` itself when it is that size already."""
    check_image(x, "x")
    if x.shape[-2:] == tuple(size):
        return x
    if x.shape[-1] > size[1]:
        return F.interpolate(x, size=tuple(size), mode="area")
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


def jacobian_determinant(phi: torch.Tensor) -> torch.Tensor:
    """det of d(id + phi)/dp per pixel, (B, 2, H, W) -> (B, H-1, W-1), in pixel units.

    Forward differences on the pixel lattice; 1 means no local change of area, <= 0 a fold.
    """
    check_field(phi)
    _, _, h, w = phi.shape
    if h < 2 or w < 2:
        raise ValueError(f"phi must be at least 2x2 to differentiate, got {h}x{w}")
    u = to_pixels(phi)  # so that the identity has det 1 at any resolution
    du_dx = u[:, :, :-1, 1:] - u[:, :, :-1, :-1]
    du_dy = u[:, :, 1:, :-1] - u[:, :, :-1, :-1]
    a = 1.0 + du_dx[:, 0]
    b = du_dy[:, 0]
    c = du_dx[:, 1]
    d = 1.0 + du_dy[:, 1]
    return a * d - b * c


def count_folds(phi: torch.Tensor) -> int:
    """Number of pixels whose Jacobian determinant is <= 0 (the warp folds there)."""
    with torch.no_grad():
        return int((jacobian_determinant(phi) <= 0).sum().item())


def to_pixels(phi: torch.Tensor) -> torch.Tensor:
    """A displacement (..., 2, H, W) in normalised units, in pixels of its own H x W grid."""
    if phi.dim() < 3 or phi.shape[-3] != 2:
        raise ValueError(f"phi must have shape (..., 2, H, W), got {tuple(phi.shape)}")
    h, w = phi.shape[-2:]
    return phi * phi.new_tensor([(w - 1) / 2.0, (h - 1) / 2.0]).view(2, 1, 1)


def pixels_to_normalised(shift_xy, height: int, width: int) -> tuple[float, float]:
    """Convert a pixel displacement (dx, dy) to normalised units for an HxW image."""
    dx, dy = shift_xy
    return dx * 2.0 / max(width - 1, 1), dy * 2.0 / max(height - 1, 1)
