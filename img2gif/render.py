"""Frames at requested times: ``blend`` (both images, exact ends) or ``warp-only`` (A alone)."""
from __future__ import annotations

import numpy as np
import torch

from .warp import resize_field, sample

MODES = ("blend", "warp-only")


def to_tensor(image: np.ndarray, device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def to_uint8(x: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) float -> B arrays (H, W, 3) uint8."""
    return list(x.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())


CHUNK_PIXELS = 2_000_000  # frames rendered at once: bounds memory at any image size


def chunk_size(height: int, width: int, most: int) -> int:
    """How many (height, width) frames to render at once: at most ``most``, >= 1."""
    return max(1, min(most, CHUNK_PIXELS // (height * width)))


@torch.no_grad()
def render(ode, a: torch.Tensor, b: torch.Tensor, times, field_size, mode: str = "blend", chunk: int | None = None):
    """Yield (H, W, 3) uint8 frames of the pair at ``times``.

    Args:
        ode: fitted WarpODE (velocity conditioned on a).
        a, b: (1, 3, H, W) images in [0, 1] at output size; b unused for warp-only.
        times: animation times (floats; 0 is A, 1 is B's side).
        field_size: (h, w) the fields are integrated at, then upsampled to (H, W).
        mode: 'blend': (1-t) A o phi_t + t B o phi_{t-1}, exact at t = 0 and 1
              (B o phi_{t-1} is B carried back to t, exact for stationary velocities);
              'warp-only': A o phi_t alone, the paper's rendering: no colour A lacks.
    """
    if mode not in MODES:
        raise ValueError(f"unknown render mode {mode!r}; choose one of {MODES}")
    times = [float(t) for t in times]
    height, width = a.shape[-2:]
    chunk = chunk or chunk_size(height, width, 8)
    for start in range(0, len(times), chunk):
        ts = torch.tensor(times[start:start + chunk], device=a.device, dtype=a.dtype)
        wanted = torch.cat([ts, ts - 1.0]) if mode == "blend" else ts
        phi = ode.fields(a, wanted, field_size)[:, 0]  # (T, 2, h, w)
        phi = resize_field(phi, height, width)
        # blend: bicubic keeps detail (the clamp removes its overshoot); warp-only: bilinear,
        # so every pixel is a convex mix of A's neighbouring pixels: no colour A lacks.
        forward = sample(a, phi[: len(ts)], mode="bicubic" if mode == "blend" else "bilinear").clamp_(0, 1)
        if mode == "blend":
            backward = sample(b, phi[len(ts):], mode="bicubic").clamp_(0, 1)
            w = ts.view(-1, 1, 1, 1)
            frames = forward.mul_(1 - w).add_(backward.mul_(w))
            # Exact endpoints: the first frame is A and the last is B, bit for bit.
            frames[ts == 0] = a
            frames[ts == 1] = b
        else:
            frames = forward
            frames[ts == 0] = a
        yield from to_uint8(frames)
