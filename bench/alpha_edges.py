"""Alpha edge error: a transparent sticker moving between A and B (issue 29, item 1).

A textured disc with an antialiased edge on a fully transparent background, with random
colour under the transparent pixels, moves between A and B. The middle frame (t = 0.5,
blend mode) is compared with the sticker drawn at the middle position:

- alpha MAE: mean |alpha - true alpha| over the frame, in levels (0-255);
- colour MAE: mean |colour - true colour| where the true alpha > 0.5, in levels;
- hidden-colour change: the largest change of a visible pixel (premultiplied, levels) when
  only the colour under the transparent pixels is drawn again (0: it has no effect).

Rows: alpha kept (this version: fitted and rendered premultiplied); the same with straight
(not premultiplied) RGBA, to show what premultiplying buys (the hidden noise steers the fit
and bleeds into the edge); and flattened onto white (what earlier versions did to an RGBA
pair: the output is opaque, so its alpha is 255 everywhere).

    OMP_NUM_THREADS=1 python bench/alpha_edges.py [--size 64] [--seeds 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from img2gif.fit import FitSettings  # noqa: E402
from img2gif.imagefile import composite  # noqa: E402
from img2gif.fit import fit_pair_tensors, working_shape  # noqa: E402
from img2gif.pair import fit_pair  # noqa: E402
from img2gif.render import ode_fields, render  # noqa: E402


def straight_middle(a: np.ndarray, b: np.ndarray, settings: FitSettings) -> np.ndarray:
    """The control: fit and render (H, W, 4) RGBA as straight channels (colour not
    multiplied by alpha), the middle frame as (H, W, 4) uint8."""
    import torch

    ta, tb = (torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255 for x in (a, b))
    ode = fit_pair_tensors(ta, tb, settings)
    fields = ode_fields(ode, ta, working_shape(a.shape[0], a.shape[1], settings.working_size))
    colour = next(render(fields, ta[:, :3], tb[:, :3], [0.5]))
    alpha = next(render(fields, ta[:, 3:].expand(-1, 3, -1, -1), tb[:, 3:].expand(-1, 3, -1, -1), [0.5]))
    return np.dstack([colour, alpha[..., :1]])


def sticker(size: int, centre, radius: float, rng: np.random.Generator, hidden: bool = True) -> np.ndarray:
    """(size, size, 4) uint8 straight-alpha RGBA: a textured disc at ``centre`` (x, y) with an
    antialiased edge (alpha from the distance to the rim), on transparency whose colour is
    random noise (``hidden``) or black. The texture moves with the disc."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dx, dy = xs - centre[0], ys - centre[1]
    alpha = np.clip(radius - np.hypot(dx, dy) + 0.5, 0.0, 1.0)
    colour = np.stack([0.55 + 0.4 * np.sin(dx / 3.0), 0.45 + 0.4 * np.cos(dy / 2.5),
                       0.5 + 0.4 * np.sin((dx + dy) / 4.0)], axis=2)
    rgb = np.round(colour * 255).astype(np.uint8)
    a8 = np.round(alpha * 255).astype(np.uint8)
    noise = rng.integers(0, 256, rgb.shape, dtype=np.uint8) if hidden else np.zeros_like(rgb)
    rgb = np.where(a8[..., None] == 0, noise, rgb)
    return np.dstack([rgb, a8])


def errors(frame: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(alpha MAE, colour MAE where the true alpha > 0.5), in levels; ``frame`` RGB or RGBA."""
    alpha = frame[..., 3].astype(float) if frame.shape[2] == 4 else np.full(frame.shape[:2], 255.0)
    inside = truth[..., 3] > 127
    colour = np.abs(frame[..., :3].astype(float) - truth[..., :3].astype(float))[inside].mean()
    return float(np.abs(alpha - truth[..., 3]).mean()), float(colour)


def premultiplied(frame: np.ndarray) -> np.ndarray:
    return frame[..., :3].astype(float) * frame[..., 3:4] / 255.0


def run(size: int, seeds: int) -> list[dict]:
    settings = FitSettings()
    rows = {"alpha kept (premultiplied)": [], "RGBA straight (control)": [], "flattened onto white (before)": []}
    hidden_change, straight_change = [], []
    radius = size / 4.5
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        start = np.array([size * 0.34, size * 0.42]) + rng.uniform(-2, 2, 2)
        end = start + np.array([size * 0.3, size * 0.12])
        a, b = sticker(size, start, radius, rng), sticker(size, end, radius, rng)
        truth = sticker(size, (start + end) / 2, radius, rng, hidden=False)
        t0 = time.perf_counter()
        middle = fit_pair(a, b, settings, device="cpu").frames([0.5])[0]
        rows["alpha kept (premultiplied)"].append((*errors(middle, truth), time.perf_counter() - t0))
        # the same pair with other noise under the transparent pixels
        rng2 = np.random.default_rng(1000 + seed)
        a2 = np.where(a[..., 3:] == 0, np.dstack([rng2.integers(0, 256, a.shape[:2] + (3,)), a[..., 3]]), a).astype(np.uint8)
        b2 = np.where(b[..., 3:] == 0, np.dstack([rng2.integers(0, 256, b.shape[:2] + (3,)), b[..., 3]]), b).astype(np.uint8)
        middle2 = fit_pair(a2, b2, settings, device="cpu").frames([0.5])[0]
        hidden_change.append(float(np.abs(premultiplied(middle) - premultiplied(middle2)).max()
                                   + np.abs(middle[..., 3].astype(int) - middle2[..., 3]).max()))
        t0 = time.perf_counter()
        straight = straight_middle(a, b, settings)
        rows["RGBA straight (control)"].append((*errors(straight, truth), time.perf_counter() - t0))
        straight2 = straight_middle(a2, b2, settings)
        straight_change.append(float(np.abs(premultiplied(straight) - premultiplied(straight2)).max()
                                     + np.abs(straight[..., 3].astype(int) - straight2[..., 3]).max()))
        white = (255, 255, 255)
        t0 = time.perf_counter()
        flat = fit_pair(composite(a, white), composite(b, white), settings, device="cpu").frames([0.5])[0]
        rows["flattened onto white (before)"].append((*errors(flat, truth), time.perf_counter() - t0))
    out = []
    for name, values in rows.items():
        v = np.array(values)
        out.append({"input": name, "alpha MAE": v[:, 0].mean(), "colour MAE (alpha > 0.5)": v[:, 1].mean(),
                    "fit s": v[:, 2].mean()})
    out[0]["hidden-colour change"] = max(hidden_change)
    out[1]["hidden-colour change"] = max(straight_change)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rows = run(args.size, args.seeds)
    print(f"alpha edge error: {args.size}x{args.size} sticker, middle frame (blend), mean of {args.seeds} seeds, levels 0-255")
    print("| input | alpha MAE | colour MAE (alpha > 0.5) | hidden-colour change | fit s |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        hidden = f"{r['hidden-colour change']:.0f}" if "hidden-colour change" in r else "n/a"
        print(f"| {r['input']} | {r['alpha MAE']:.2f} | {r['colour MAE (alpha > 0.5)']:.2f} | {hidden} | {r['fit s']:.1f} |")


if __name__ == "__main__":
    main()
