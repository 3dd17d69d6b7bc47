"""A picture of a fitted warp that reads on its own: three titled panels (the deformed grid over
A, the flow as colour, the Jacobian determinant), a colour wheel for the flow with its scale
in pixels, a colour bar for the determinant with folds marked, and a caption with the largest
and median displacement."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .warp import identity_grid, jacobian_determinant, resize_field, to_pixels

MIN_PANEL = 256      # panels are drawn at least this wide, so the text and the grid read
GAP = 12
TITLE_H = 22
LEGEND_H = 104
CAPTION_H = 22
WHEEL = 80           # colour wheel diameter
BAR_MAX = 2.0        # the determinant colour bar spans 0 ... 2
BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)


def _nice_scale(pixels: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above ``pixels`` (at least 0.1 px): the flow's scale."""
    if pixels <= 0.1:
        return 0.1
    base = 10 ** np.floor(np.log10(pixels))
    for step in (1, 2, 5, 10):
        if step * base >= pixels - 1e-9:
            return float(step * base)
    return float(10 * base)


def _hsv_to_rgb(hue: np.ndarray, sat: np.ndarray) -> np.ndarray:
    """Vectorised HSV (value 1) -> RGB floats in [0, 1]; hue and sat in [0, 1]."""
    h6 = (hue % 1.0) * 6.0
    k = np.stack([(5 + h6) % 6, (3 + h6) % 6, (1 + h6) % 6], axis=-1)
    return 1.0 - sat[..., None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def flow_colour(dx: np.ndarray, dy: np.ndarray, scale: float) -> np.ndarray:
    """Direction as hue, length as saturation: white is still, full colour is ``scale`` px or more."""
    hue = np.arctan2(dy, dx) / (2 * np.pi)
    sat = np.clip(np.hypot(dx, dy) / scale, 0, 1)
    return (_hsv_to_rgb(hue, sat) * 255).round().astype(np.uint8)


def det_colour(det: np.ndarray) -> np.ndarray:
    """det 1 grey; < 1 (compression) blue, > 1 (expansion) orange; <= 0 (a fold) red."""
    out = np.full(det.shape + (3,), 128.0)
    grow = np.clip(det - 1.0, 0, 1)
    shrink = np.clip(1.0 - det, 0, 1)
    out[..., 0] += 127 * grow - 100 * shrink
    out[..., 1] += 40 * grow - 60 * shrink
    out[..., 2] += -100 * grow + 127 * shrink
    out[det <= 0] = (255, 0, 0)
    return np.clip(out, 0, 255).astype(np.uint8)


def _wheel(scale: float) -> Image.Image:
    r = WHEEL / 2
    ys, xs = np.mgrid[0:WHEEL, 0:WHEEL].astype(np.float64) + 0.5 - r
    rgb = flow_colour(xs, ys, r)  # y grows downwards, as in the image
    rgb[np.hypot(xs, ys) > r] = BACKGROUND
    return Image.fromarray(rgb)


def _bar(width: int, height: int = 14) -> Image.Image:
    det = np.linspace(0.0, BAR_MAX, width)[None, :].repeat(height, axis=0)
    det[:, 0] = 0.0  # the fold colour at its end
    return Image.fromarray(det_colour(det))


def warp_figure(image: np.ndarray, phi: torch.Tensor, grid_step: int = 16) -> Image.Image:
    """The figure for ``image`` (H, W, 3) uint8 and its field ``phi`` (2, h, w) in normalised units."""
    if image.ndim != 3 or image.shape[2] != 3 or phi.ndim != 3 or phi.shape[0] != 2:
        raise ValueError(f"warp_figure: image (H, W, 3) and phi (2, h, w), got {tuple(image.shape)} and {tuple(phi.shape)}")
    h, w = image.shape[:2]
    field = resize_field(phi.unsqueeze(0).float().cpu(), h, w)[0]
    # displacement in pixels of A
    dx, dy = to_pixels(field).numpy()
    length = np.hypot(dx, dy)
    largest, median = float(length.max()), float(np.median(length))
    scale = _nice_scale(largest)
    det = jacobian_determinant(field.unsqueeze(0))[0].numpy()
    folds = int((det <= 0).sum())

    zoom = max(1, int(np.ceil(MIN_PANEL / w)))
    pw, ph = w * zoom, h * zoom

    base = Image.fromarray(image).convert("RGB").resize((pw, ph), Image.Resampling.LANCZOS if zoom > 1 else Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(base)
    pos = (identity_grid(h, w) + field.unsqueeze(0))[0]  # where each output pixel samples A
    px = ((pos[0] + 1) * (w - 1) / 2 * zoom).numpy()
    py = ((pos[1] + 1) * (h - 1) / 2 * zoom).numpy()
    for y in range(0, h, grid_step):
        draw.line(list(zip(px[y].tolist(), py[y].tolist())), fill=(255, 255, 0), width=1)
    for x in range(0, w, grid_step):
        draw.line(list(zip(px[:, x].tolist(), py[:, x].tolist())), fill=(255, 255, 0), width=1)
    flow = Image.fromarray(flow_colour(dx, dy, scale)).resize((pw, ph), Image.Resampling.NEAREST)
    jac = Image.fromarray(det_colour(np.pad(det, ((0, 1), (0, 1)), mode="edge"))).resize((pw, ph), Image.Resampling.NEAREST)

    font = ImageFont.load_default()
    width = 3 * pw + 4 * GAP
    height = TITLE_H + ph + LEGEND_H + CAPTION_H
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    ink = ImageDraw.Draw(sheet)
    titles = ("A with the warp's grid (where each pixel samples A)", "flow: direction = hue, length = saturation",
              "area change: det of the Jacobian")
    for k, (panel, title) in enumerate(zip((base, flow, jac), titles)):
        left = GAP + k * (pw + GAP)
        sheet.paste(panel, (left, TITLE_H))
        ink.text((left, 5), title, fill=TEXT, font=font)

    legend_top = TITLE_H + ph + 8
    left = GAP + pw + GAP
    sheet.paste(_wheel(scale), (left, legend_top))
    ink.text((left + WHEEL + 10, legend_top + 10), f"edge of the wheel = {scale:g} px", fill=TEXT, font=font)
    ink.text((left + WHEEL + 10, legend_top + 26), "white = still", fill=TEXT, font=font)
    ink.text((left + WHEEL + 10, legend_top + 42), "right red, down green,", fill=TEXT, font=font)
    ink.text((left + WHEEL + 10, legend_top + 56), "left cyan, up violet", fill=TEXT, font=font)

    left = GAP + 2 * (pw + GAP)
    bar_w = pw - 20
    sheet.paste(_bar(bar_w), (left + 10, legend_top + 6))
    for value in (0.0, 0.5, 1.0, 1.5, 2.0):
        x = left + 10 + round(value / BAR_MAX * (bar_w - 1))
        ink.line([(x, legend_top + 20), (x, legend_top + 24)], fill=TEXT)
        ink.text((x - 6, legend_top + 26), f"{value:g}", fill=TEXT, font=font)
    ink.text((left + 10, legend_top + 44), "< 1 shrinks (blue), > 1 grows (orange)", fill=TEXT, font=font)
    ink.text((left + 10, legend_top + 60), f"red: folds (det <= 0): {folds} px", fill=(200, 0, 0) if folds else TEXT, font=font)

    caption = (f"displacement A -> B: largest {largest:.1f} px, median {median:.1f} px; "
               f"folded pixels: {folds}; image {w}x{h}" + (f" (panels drawn at {zoom}x)" if zoom > 1 else ""))
    ink.text((GAP, height - CAPTION_H + 4), caption, fill=TEXT, font=font)
    return sheet
