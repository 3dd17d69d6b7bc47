"""Frames at requested times, for pairs and learned models alike: one renderer, a table of modes.

A warp's fields live at a small working size; frames are wanted at the image's full size.
The renderer upsamples each field to the image and samples the image through it. Large
images are done in bands of rows, so memory per frame does not grow with the image beyond
the frame itself (an 8000x6000 frame is rendered 2 million pixels at a time).

Render modes (``MODES``), each a small class: which field times it needs for frame times
``ts``, how it mixes the sampled images, and at which times a frame is one of the images
exactly (copied, not warped). New modes are one more entry.
"""
from __future__ import annotations

from typing import Callable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from .errors import OptionError
from .still import composite
from .timing import time_from_b
from .warp import identity_grid, resize_field

CHUNK_PIXELS = 2_000_000  # frame pixels rendered at once (a batch of small frames) ...
BAND_PIXELS = 1 << 22     # ... and rows of one large frame at once: bounds memory at any size
                          # (a 1080p frame is one band: a band costs an extra field resample)


def to_tensor(image: np.ndarray, device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]; (H, W, 4) straight-alpha RGBA ->
    (1, 4, H, W) premultiplied (colour times alpha, then alpha).

    Why premultiplied: the colour under a fully transparent pixel is meaningless (often
    noise or leftovers). Premultiplied it is 0, so it cannot steer a fit, and sampling or
    blending near an edge mixes in no hidden colour.
    """
    if not image.flags.writeable:  # decoded frames are read-only buffers; torch wants its own
        image = np.array(image)
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    if x.shape[1] == 4:
        x[:, :3] *= x[:, 3:]
    return x


def to_uint8(x: torch.Tensor) -> list[np.ndarray]:
    """(B, C, H, W) float -> B arrays (H, W, C) uint8 (C = 4: premultiplied in, straight out)."""
    return list(_as_uint8(x.clone()).permute(0, 2, 3, 1).cpu().numpy())


def _as_uint8(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) float in [0, 1] -> uint8 of the same shape; works in place on ``x``.

    C = 4 is premultiplied RGBA: it comes out straight (colour divided by alpha), as PNG,
    WebP and GIF store it; where alpha rounds to 0 the colour is 0.
    """
    x.clamp_(0, 1)
    if x.shape[1] == 4:
        alpha = x[:, 3:]
        # bicubic sampling can leave colour above its alpha, which no real pixel has
        colour = torch.minimum(x[:, :3], alpha)
        visible = alpha.mul(255).round_() > 0
        x[:, :3] = torch.where(visible, colour / alpha.clamp_min(1e-12), torch.zeros_like(colour))
    return x.mul_(255).round_().to(torch.uint8)


def chunk_size(height: int, width: int, most: int) -> int:
    """How many (height, width) frames to render at once: at most ``most``, >= 1."""
    return max(1, min(most, CHUNK_PIXELS // (height * width)))


class Blend:
    """(1-t) A o phi_t + t B o phi_{t-1}: both images, exact at t = 0 (A) and t = 1 (B).

    B o phi_{t-1} is B carried back to t, exact for stationary velocities. Bicubic keeps
    detail (the clamp removes its overshoot).
    """

    name = "blend"
    needs_b = True

    def field_times(self, ts: torch.Tensor) -> torch.Tensor:
        return torch.cat([ts, time_from_b(ts)])

    def combine(self, a, b, ts, coords):
        n = len(ts)
        forward = _sample_at(a, coords[:n], "bicubic").clamp_(0, 1)
        backward = _sample_at(b, coords[n:], "bicubic").clamp_(0, 1)
        w = ts.view(-1, 1, 1, 1)
        return forward.mul_(1 - w).add_(backward.mul_(w))

    def exact_image(self, t: float, a, b):
        """The image frame ``t`` is exactly (no warp needed), or None."""
        return a if t == 0 else b if t == 1 else None

    def unwarped(self, a, b, ts):
        """Still pixels at times ``ts``: A and B mixed in place, (K, C, rows, W). They are the
        same in A and B, all but the anti-aliased rim of an overlay, where the scene behind
        shows through: there the mix fades between the two as the blend does."""
        w = ts.view(-1, 1, 1, 1)
        return a * (1 - w) + b * w


class WarpOnly:
    """A o phi_t alone, the paper's rendering: bilinear, so every pixel is a convex mix of
    A's neighbouring pixels: no colour A lacks. Exact at t = 0."""

    name = "warp-only"
    needs_b = False

    def field_times(self, ts: torch.Tensor) -> torch.Tensor:
        return ts

    def combine(self, a, b, ts, coords):
        return _sample_at(a, coords, "bilinear")

    def exact_image(self, t: float, a, b):
        return a if t == 0 else None

    def unwarped(self, a, b, ts):
        """Still pixels: A's, in place (only A is used)."""
        return a


MODES = {mode.name: mode for mode in (Blend(), WarpOnly())}


def check_mode(mode: str) -> None:
    """Refuse a render mode that is not in ``MODES`` (OptionError, naming the choices)."""
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


@runtime_checkable
class Renderable(Protocol):
    """What frames come from: a fitted ``Pair``, a ``KeyframePath``, a trained model applied to
    an image (``LearnedModel.on``). ``shape``: (H, W, C) of its frames (C = 4: straight-alpha
    RGBA); ``frame_renderer(mode)``: a callable, times -> iterator of (H, W, C) uint8 frames in
    that order (t = 0 is the first image; a path's times run over [0, 1])."""

    @property
    def shape(self) -> tuple:
        ...

    def frame_renderer(self, mode: str = "blend") -> Callable[[Sequence[float]], Iterator[np.ndarray]]:
        ...


def _sample_at(x: torch.Tensor, coords: torch.Tensor, mode: str) -> torch.Tensor:
    """x (1, C, H, W) sampled at absolute normalised coordinates (K, 2, rows, W)."""
    return F.grid_sample(x.expand(coords.shape[0], -1, -1, -1), coords.permute(0, 2, 3, 1), mode=mode,
                         padding_mode="border", align_corners=True)


def _coords(phi: torch.Tensor, grid: torch.Tensor, rows: slice) -> torch.Tensor:
    """Where rows ``rows`` of a frame sample the image: id + phi upsampled. ``grid``: the
    frame's identity grid (1, 2, H, W), made once per render."""
    height, width = grid.shape[-2:]
    if rows == slice(0, height):
        # the whole frame at once (every frame up to BAND_PIXELS): the plain upsample
        field = resize_field(phi, height, width)
        return field.add_(grid) if field is not phi else field + grid
    base = grid[:, :, rows]
    field = F.grid_sample(phi, base.expand(phi.shape[0], -1, -1, -1).permute(0, 2, 3, 1), mode="bilinear",
                          padding_mode="border", align_corners=True)
    return base + field


@torch.no_grad()
def render(fields_at, a: torch.Tensor, b: torch.Tensor | None, times, mode: str = "blend", chunk: int | None = None,
           still: torch.Tensor | None = None):
    """Yield (H, W, C) uint8 frames at ``times`` (C = 4: straight-alpha RGBA).

    Args:
        fields_at: callable, (K,) times tensor -> (K, 2, h, w) displacement fields (any h, w).
        a, b: (1, C, H, W) images in [0, 1] at output size (C = 4: premultiplied RGBA, as
            ``to_tensor`` makes it); ``b`` only for modes that use it.
        times: animation times (floats; 0 is A, 1 is B's side, negative runs backwards).
        mode: a key of ``MODES``.
        still: None or (1, 1, H, W) in [0, 1], how much of each pixel is drawn unwarped
            (``img2gif.still.soft_edge``; the mode's ``unwarped``): still overlays stay where
            they are and sharp.
    """
    if mode not in MODES:
        raise ValueError(f"unknown render mode {mode!r}; choose one of {tuple(MODES)}")
    kind = MODES[mode]
    if kind.needs_b and b is None:
        raise ValueError(f"render mode {mode!r} needs image b")
    times = [float(t) for t in times]
    height, width = a.shape[-2:]
    chunk = chunk or chunk_size(height, width, 8)
    grid = identity_grid(height, width, device=a.device, dtype=a.dtype)
    for start in range(0, len(times), chunk):
        ts = torch.tensor(times[start:start + chunk], device=a.device, dtype=a.dtype)
        n = len(ts)
        # a frame that is one of the images (a video's source frame, say) is copied, not sampled
        sources = [kind.exact_image(t, a, b) for t in ts.tolist()]
        warped = [i for i, image in enumerate(sources) if image is None]
        if warped:
            # the whole chunk's fields, copied frames' too: the solver reads some times off
            # others' chains, so asking for fewer would change the frames that are warped
            phi = fields_at(kind.field_times(ts))
            phi = phi.reshape(-1, n, *phi.shape[1:])[:, warped].flatten(0, 1)
        # the chunk's frames are put together where they are rendered (a GPU's memory) and
        # cross to the CPU once, as the writer needs them: not band by band
        frames = torch.empty(n, height, width, a.shape[1], dtype=torch.uint8, device=a.device)
        band = max(1, BAND_PIXELS // (n * width))
        for top in range(0, height, band):
            rows = slice(top, min(height, top + band))
            for i, image in enumerate(sources):
                if image is not None:
                    frames[i, rows] = _as_uint8(image[:, :, rows].clone())[0].permute(1, 2, 0)
            if warped:
                mixed = kind.combine(a, b, ts[warped], _coords(phi, grid, rows))
                if still is not None:
                    in_place = kind.unwarped(a[:, :, rows], None if b is None else b[:, :, rows], ts[warped])
                    mixed = composite(mixed, in_place, still[:, :, rows])
                frames[warped, rows] = _as_uint8(mixed).permute(0, 2, 3, 1)
        yield from frames.cpu().numpy()


def ode_fields(ode, a: torch.Tensor, field_size):
    """``fields_at`` for a fitted pair: integrate ``ode`` (conditioned on a) at the times asked."""
    return lambda wanted: ode.fields(a, wanted, field_size)[:, 0]
