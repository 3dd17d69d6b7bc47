"""Motion refined above the working size: a fit's fields made precise at the output's resolution.

A pair is fitted at a small working size (256 px on the longer side) and its fields are
upsampled to the image. On a large image that is the right motion but not a precise one: at
720p a working pixel is five image pixels, and the fine texture that real frames hold shows the
error (issue 27: 1.8 dB behind OpenCV's DIS at 720p, ahead of it at 256 px). Fitting on a
larger grid does not converge in the same time. What DIS does instead (Kroeger et al., ECCV
2016) is refine a coarse field level by level up to full size with a cheap local search, and
that is what this module does:

- levels: the image's size halved until it is no larger than the working size, coarse to fine,
  from the largest halving with at most ``MAX_PIXELS`` (640x360 for 720p, 960x540 for 1080p;
  the field is upsampled from there, as it was from the working size);
- at each level, a few Lucas-Kanade steps (Lucas and Kanade 1981) on the colour images: the
  residual of B against A carried by the field, linearised with the mean of both images'
  gradients (which converges in fewer steps than either alone), solved per pixel over a
  ``window`` x ``window`` neighbourhood, damped where the window holds no texture (there the
  fit's motion stays), each step clamped to a pixel and smoothed, and faded out around any pixel
  where it would fold the warp or squeeze it below a tenth of its area (``_without_folds``);
- still overlays (``img2gif.still``), which the fit leaves out, are left out here too (``weight``).

The refinement of a pair is a residual at each end, ``delta_1`` (A's side, Phi_1) and
``delta_-1`` (B's side, Phi_-1): the frame at t adds ``t delta_1`` to Phi_t on A's side and
``(1 - t) delta_-1`` to Phi_{t-1} on B's side (``with_residuals``), so both ends are refined
and each image is still shown exactly at its own time.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .warp import check_field, check_image, count_folds, jacobian_determinant, resize_field, resize_image, sample

MODES = ("off", "auto")
MAX_PIXELS = 1024 * 576    # the finest level: the image halved until it has at most this many pixels
ITERATIONS = 2             # Lucas-Kanade steps per level
WINDOW = 9                 # side of the square neighbourhood each pixel's step is solved over (odd)
SMOOTH = 5                 # side of the neighbourhood the step is averaged over (odd): no noise
DAMPING = 0.05             # of the mean gradient energy: a flat window keeps the fit's motion
MIN_DETERMINANT = 0.1      # a step may not squeeze a pixel below this share of its area ...
FOLD_TRIES = 3             # ... taken back around such pixels this many times at most


def check_mode(mode) -> None:
    """Refuse a refinement mode that is not in ``MODES`` (OptionError, naming the choices)."""
    from .errors import OptionError

    if mode not in MODES:
        raise OptionError(f"--refine must be one of {', '.join(MODES)}, got {mode!r}")


def levels(work: tuple[int, int], full: tuple[int, int]) -> list[tuple[int, int]]:
    """The (height, width) sizes refined at, coarse to fine: ``full`` halved until it has at most
    ``MAX_PIXELS``, then halved while larger than ``work``; empty when none is larger than ``work``.

    Why stop there: on video-hd (1280x720) refining at 640x360 and 320x180 gained 1.0 dB at
    G = 2 for no measurable time; refining at 1280x720 as well took 1.5x the time of the whole
    up-conversion for 0.05 dB more (BENCHMARKS.md, full-resolution refinement).
    """
    height, width = full
    while height * width > MAX_PIXELS and height > 1 and width > 1:
        height, width = height // 2, width // 2
    sizes = []
    while height > work[0] and width > work[1]:
        sizes.append((height, width))
        height, width = height // 2, width // 2
    return sizes[::-1]


def refine_field(a: torch.Tensor, b: torch.Tensor, phi: torch.Tensor, sizes,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """``phi`` refined so that ``a o (id + phi)`` matches ``b`` more closely, at ``sizes``.

    Args:
        a, b: (1, C, H, W) images in [0, 1], one size.
        phi: (1, 2, h, w) displacement at any size (normalised units, ``img2gif.warp``).
        sizes: (height, width) levels, coarse to fine (``levels``); empty: ``phi`` itself.
        weight: None or (1, 1, H, W) in [0, 1]: how much each pixel of ``b`` counts (0: left
            out, as still overlays are).
    Returns:
        (1, 2, height, width) at the last of ``sizes``.
    """
    _check(a, b, weight, phi)
    return _refine(_pyramid(a, sizes), _pyramid(b, sizes), phi, _pyramid(weight, sizes))


def _check(a: torch.Tensor, b: torch.Tensor, weight, *fields: torch.Tensor) -> None:
    """Refuse images that are not one (1, C, H, W) size, a weight that is not (1, 1, H, W), or
    fields that are not (1, 2, h, w)."""
    check_image(a, "a")
    check_image(b, "b")
    for phi in fields:
        check_field(phi)
    if a.shape != b.shape or a.shape[0] != 1 or any(phi.shape[0] != 1 for phi in fields):
        raise ValueError(f"a and b must be one (1, C, H, W) size and each field (1, 2, h, w), got "
                         f"{tuple(a.shape)}, {tuple(b.shape)} and {[tuple(phi.shape) for phi in fields]}")
    if weight is not None:
        check_image(weight, "weight")
        if tuple(weight.shape) != (1, 1, *a.shape[-2:]):
            raise ValueError(f"weight must be (1, 1, H, W) of the images' size, got {tuple(weight.shape)}")


def _pyramid(x: torch.Tensor | None, sizes) -> list:
    """``x`` at each of ``sizes`` (area averages); Nones for None."""
    return [None if x is None else resize_image(x, size) for size in sizes]


def _refine(a_levels: list, b_levels: list, phi: torch.Tensor, weights: list) -> torch.Tensor:
    """``refine_field`` on images (and weights, or Nones) already at each level's size."""
    for a, b, weight in zip(a_levels, b_levels, weights):
        phi = _lucas_kanade(a, b, resize_field(phi, *a.shape[-2:]), weight)
    return phi


def _box(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean over a k x k neighbourhood, per channel; at the border, of what is inside the image.
    Running sums: the cost does not grow with k (pooling's does, k per pixel and pass)."""
    for dim in (-1, -2):
        x = _running_mean(x, k // 2, dim)
    return x


def _running_mean(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Mean of ``x`` over ``radius`` each side along ``dim`` (what is inside the tensor): the
    difference of running sums at the window's two ends, over the window's length."""
    n = x.shape[dim]
    if radius == 0 or n == 1:
        return x
    shape = list(x.shape)
    shape[dim] = 1
    sums = torch.cat([x.new_zeros(shape), x.cumsum(dim)], dim)  # sums[i]: the first i values
    index = torch.arange(n, device=x.device)
    upper, lower = (index + radius + 1).clamp(max=n), (index - radius).clamp(min=0)
    view = [1] * x.dim()
    view[dim] = n
    count = (upper - lower).to(x.dtype).view(view)
    return (sums.index_select(dim, upper) - sums.index_select(dim, lower)).div_(count)


def _dilate(mask: torch.Tensor, k: int) -> torch.Tensor:
    """The largest value over a k x k neighbourhood (separable)."""
    mask = F.max_pool2d(mask, (1, k), stride=1, padding=(0, k // 2))
    return F.max_pool2d(mask, (k, 1), stride=1, padding=(k // 2, 0))


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences in x and y (replicated at the border), per channel."""
    gx = F.pad(x[..., :, 2:] - x[..., :, :-2], (1, 1, 0, 0), mode="replicate") * 0.5
    gy = F.pad(x[..., 2:, :] - x[..., :-2, :], (0, 0, 1, 1), mode="replicate") * 0.5
    return gx, gy


def _lucas_kanade(a: torch.Tensor, b: torch.Tensor, phi: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """``ITERATIONS`` windowed Lucas-Kanade steps of ``phi`` (at a's size) towards ``b``, each
    pixel's terms scaled by ``weight`` (None: all count)."""
    height, width = a.shape[-2:]
    to_normalised = phi.new_tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)]).view(1, 2, 1, 1)
    bx, by = _gradients(b)
    for _ in range(ITERATIONS):
        carried = sample(a, phi)
        ax, ay = _gradients(carried)
        gx, gy = (ax + bx) * 0.5, (ay + by) * 0.5
        change = b - carried
        products = torch.cat([(u * v).sum(1, keepdim=True)
                              for u, v in ((gx, gx), (gx, gy), (gy, gy), (gx, change), (gy, change))], 1)
        if weight is not None:
            products = products * weight
        sxx, sxy, syy, rx, ry = _box(products, WINDOW).unbind(1)
        damping = DAMPING * float((sxx + syy).mean()) + 1e-12
        sxx, syy = sxx + damping, syy + damping
        det = sxx * syy - sxy * sxy
        step = torch.stack([syy * rx - sxy * ry, sxx * ry - sxy * rx], 1).div_(det.unsqueeze(1)).clamp_(-1.0, 1.0)
        phi = _without_folds(phi, _box(step, SMOOTH) * to_normalised)
    return phi


def _without_folds(phi: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """``phi + step``, the step faded out (to a fifth or less) around any pixel where it would
    squeeze the warp's area below ``MIN_DETERMINANT``, up to ``FOLD_TRIES`` times; ``phi``
    itself if the step then still folds more pixels than ``phi`` does (on the video-hd pair
    looked at, one or two fades cleared every fold). A step near an occlusion can pull
    neighbours across each other: there the fit's motion is kept."""
    new = phi + step
    squeezed = jacobian_determinant(phi) <= MIN_DETERMINANT  # the fit's own: not the step's doing
    for _ in range(FOLD_TRIES):
        folded = (jacobian_determinant(new) <= MIN_DETERMINANT) & ~squeezed
        if not bool(folded.any()):
            return new
        near = _dilate(F.pad(folded.float().unsqueeze(1), (0, 1, 0, 1)), 2 * SMOOTH + 1)
        # faded out over some 10 px: a sharp edge in the step would fold the warp there instead
        step = step * (1 - 3 * _box(near, 4 * SMOOTH + 1)).clamp_(min=0.0)
        new = phi + step
    return new if count_folds(new) <= count_folds(phi) else phi


def residuals(a: torch.Tensor, b: torch.Tensor, forward: torch.Tensor, backward: torch.Tensor,
              sizes, weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(delta_1, delta_-1), each (1, 2, height, width) at the last of ``sizes``: what the
    refinement adds to Phi_1 (``forward``, B = A o (id + Phi_1)) and to Phi_-1 (``backward``);
    None when ``sizes`` is empty (nothing above the working size). ``weight``: as in
    ``refine_field``, (1, 1, H, W) over both images (still overlays are still in both)."""
    if not sizes:
        return None
    _check(a, b, weight, forward, backward)
    size = sizes[-1]
    a_levels, b_levels = _pyramid(a, sizes), _pyramid(b, sizes)  # made once for both ends
    weights = _pyramid(weight, sizes)
    delta_1 = _refine(a_levels, b_levels, forward, weights) - resize_field(forward, *size)
    delta_back = _refine(b_levels, a_levels, backward, weights) - resize_field(backward, *size)
    return delta_1, delta_back


def with_residuals(fields_at, deltas):
    """``fields_at`` (times -> (K, 2, h, w)) with the refinement's residuals added: ``t delta_1``
    at t >= 0, ``-t delta_-1`` at t < 0 (B's side); ``fields_at`` itself when ``deltas`` is None."""
    if deltas is None:
        return fields_at
    delta_1, delta_back = deltas

    def fields(ts: torch.Tensor) -> torch.Tensor:
        phi = resize_field(fields_at(ts), *delta_1.shape[-2:])
        t = ts.view(-1, 1, 1, 1).to(phi.dtype)
        return phi + torch.where(t >= 0, t * delta_1, -t * delta_back)

    return fields
