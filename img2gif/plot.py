"""A picture of a fitted warp: deformed grid over A, flow as colour, Jacobian determinant."""
from __future__ import annotations

import colorsys

import numpy as np
import torch
from PIL import Image, ImageDraw

from .warp import identity_grid, jacobian_determinant, resize_field


def _flow_colour(phi: torch.Tensor) -> np.ndarray:
    """Direction as hue, length as saturation (relative to the longest vector)."""
    u, v = phi[0].numpy(), phi[1].numpy()
    mag = np.hypot(u, v)
    hue = (np.arctan2(v, u) / (2 * np.pi)) % 1.0
    sat = mag / max(float(mag.max()), 1e-8)
    rgb = np.vectorize(lambda h, s: colorsys.hsv_to_rgb(h, s, 1.0), otypes=[float, float, float])(hue, sat)
    return (np.stack(rgb, -1) * 255).astype(np.uint8)


def _det_map(det: np.ndarray) -> np.ndarray:
    """det 1 grey; < 1 (compression) blue, > 1 (expansion) orange; <= 0 (a fold) red."""
    out = np.zeros(det.shape + (3,), np.float64)
    grow = np.clip(det - 1.0, 0, 1)
    shrink = np.clip(1.0 - det, 0, 1)
    out[...] = 128
    out[..., 0] += 127 * grow - 100 * shrink
    out[..., 1] += 40 * grow - 60 * shrink
    out[..., 2] += -100 * grow + 127 * shrink
    out[det <= 0] = (255, 0, 0)
    return np.clip(out, 0, 255).astype(np.uint8)


def warp_figure(image: np.ndarray, phi: torch.Tensor, grid_step: int = 16) -> Image.Image:
    """Three panels side by side for ``image`` (H, W, 3) uint8 and its field ``phi`` (2, h, w)."""
    h, w = image.shape[:2]
    field = resize_field(phi.unsqueeze(0).float().cpu(), h, w)[0]
    pos = (identity_grid(h, w) + field.unsqueeze(0))[0]  # where each output pixel samples A
    px = ((pos[0] + 1) * (w - 1) / 2).numpy()
    py = ((pos[1] + 1) * (h - 1) / 2).numpy()

    grid_panel = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(grid_panel)
    for y in range(0, h, grid_step):
        draw.line(list(zip(px[y].tolist(), py[y].tolist())), fill=(255, 255, 0), width=1)
    for x in range(0, w, grid_step):
        draw.line(list(zip(px[:, x].tolist(), py[:, x].tolist())), fill=(255, 255, 0), width=1)

    colour_panel = Image.fromarray(_flow_colour(field))
    det = jacobian_determinant(field.unsqueeze(0))[0].numpy()
    det_panel = Image.fromarray(_det_map(np.pad(det, ((0, 1), (0, 1)), mode="edge")))

    sheet = Image.new("RGB", (3 * w + 20, h), (255, 255, 255))
    for k, panel in enumerate((grid_panel, colour_panel, det_panel)):
        sheet.paste(panel, (k * (w + 10), 0))
    return sheet
