"""Keyframe paths: does the motion carry on smoothly through the keyframes?

    python bench/keyframes.py          # ~1-2 min on 2 CPU cores

A synthetic textured disc moves along a known circle over a textured, still background; four
keyframes show it at 0, 90, 180 and 270 degrees (an open path through three gaps). img2gif fits
the path (default settings) and renders 61 frames (every keyframe falls on a frame: 0, 20, 40,
60). Two rows, the same fits:

* with neighbours: the path as shipped (each gap bent by its keyframes' accelerations);
* pairwise: the same gaps' warps alone (what interpolating each gap from its two frames gives).

Measured on the disc's centre (the centroid of where the frame differs from the background):
the mean distance from the true circle, the mean distance from the true position at that
time, and at each inner keyframe: the larger of the centre's frame-to-frame steps on either
side against the mean step (issue 12's target: <= 1.5x), the change of the step vector there
(|step after - step before| / mean step: 0 is a motion that carries on, about 1.4 a quarter
turn taken at full speed), and the turn (degrees between the steps before and after). The
disc (radius 18 px) moves 28 px between keyframes of a 192-px frame. Results: bench/out/keyframes.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, fit_overrides, fit_settings, markdown_table, write_json  # noqa: E402

SIZE, RADIUS, DISC = 192, 20.0, 18.0
ANGLES = np.deg2rad([0.0, 90.0, 180.0, 270.0])
FRAMES = 61


def texture(seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    out = np.zeros((size, size, 3))
    for _ in range(12):
        fx, fy, phase = rng.uniform(0.02, 0.15), rng.uniform(0.02, 0.15), rng.uniform(0, 6.3)
        out += np.sin(xs * fx + ys * fy + phase)[..., None] * rng.uniform(0.2, 1.0, 3)
    out = (out - out.min()) / (out.max() - out.min())
    return out


BACKGROUND = (0.15 + 0.35 * texture(1, SIZE)) * 255
DISC_TEXTURE = (0.55 + 0.45 * texture(2, 2 * int(DISC) + 3)) * 255


def centre_at(angle: float) -> tuple[float, float]:
    return SIZE / 2 + RADIUS * np.cos(angle), SIZE / 2 + RADIUS * np.sin(angle)


def scene(angle: float) -> np.ndarray:
    cx, cy = centre_at(angle)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    inside = np.clip(DISC + 0.5 - np.hypot(xs - cx, ys - cy), 0, 1)[..., None]
    # the disc's texture travels with it
    tx = np.clip(np.round(xs - cx + DISC + 1).astype(int), 0, DISC_TEXTURE.shape[1] - 1)
    ty = np.clip(np.round(ys - cy + DISC + 1).astype(int), 0, DISC_TEXTURE.shape[0] - 1)
    disc = DISC_TEXTURE[ty, tx]
    return np.round(BACKGROUND * (1 - inside) + disc * inside).astype(np.uint8)


def centroid(frame: np.ndarray) -> tuple[float, float]:
    diff = np.abs(frame.astype(np.float64) - BACKGROUND).sum(axis=2)
    diff[diff < 30] = 0
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    total = diff.sum()
    return float((xs * diff).sum() / total), float((ys * diff).sum() / total)


def measure(frames: list[np.ndarray]) -> dict:
    centres = np.array([centroid(f) for f in frames])
    u = np.linspace(0, 1, FRAMES)
    truth = np.array([centre_at(a) for a in ANGLES[-1] * u])
    from_curve = np.abs(np.hypot(centres[:, 0] - SIZE / 2, centres[:, 1] - SIZE / 2) - RADIUS)
    steps = np.diff(centres, axis=0)
    speed = np.hypot(steps[:, 0], steps[:, 1])
    mean_step = float(speed.mean())
    across, turns, jumps = [], [], []
    for key in (20, 40):  # the inner keyframes (the ends have one side only)
        across.append(float(max(speed[key - 1], speed[key]) / mean_step))
        jumps.append(float(np.linalg.norm(steps[key] - steps[key - 1]) / mean_step))
        before, after = steps[key - 1], steps[key]
        cos = np.dot(before, after) / (np.linalg.norm(before) * np.linalg.norm(after))
        turns.append(float(np.degrees(np.arccos(np.clip(cos, -1, 1)))))
    inner_turns = []
    for j in range(1, len(steps)):
        if j in (20, 40):
            continue
        a, b = steps[j - 1], steps[j]
        inner_turns.append(float(np.degrees(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)))))
    return {"from_curve_px": float(from_curve.mean()), "from_truth_px": float(np.hypot(*(centres - truth).T).mean()),
            "speed_across_keyframes": across, "turn_at_keyframes_deg": turns, "velocity_jump_at_keyframes": jumps,
            "median_turn_elsewhere_deg": float(np.median(inner_turns)), "mean_step_px": mean_step}


def main() -> None:
    import torch

    from img2gif.path import fit_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="append", default=[], metavar="KEY=JSON",
                        help="override a FitSettings field, e.g. --fit match=false (default: the default settings)")
    overrides = fit_overrides(parser.parse_args().fit)
    torch.manual_seed(0)
    keyframes = [scene(a) for a in ANGLES]
    path = fit_path(keyframes, None, False, fit_settings(overrides), device="cpu")
    times = [k / (FRAMES - 1) for k in range(FRAMES)]
    rows = {"with neighbours": measure(list(path.frame_renderer()(times))), "folds_with_neighbours": path.folds()}
    bent = path.accelerations
    path.accelerations = [None] * len(bent)
    rows["pairwise"] = measure(list(path.frame_renderer()(times)))
    path.accelerations = bent
    table = []
    for name in ("pairwise", "with neighbours"):
        r = rows[name]
        table.append([name, f"{r['from_curve_px']:.2f}", f"{r['from_truth_px']:.2f}",
                      " / ".join(f"{v:.2f}x" for v in r["speed_across_keyframes"]),
                      " / ".join(f"{v:.2f}" for v in r["velocity_jump_at_keyframes"]),
                      " / ".join(f"{v:.0f}" for v in r["turn_at_keyframes_deg"]), f"{r['median_turn_elsewhere_deg']:.1f}"])
    print(markdown_table(["rendering", "from the circle (px)", "from the true position (px)",
                          "step across keyframes 2 / 3 vs mean", "velocity change there / mean step",
                          "turn at keyframes 2 / 3 (deg)",
                          "median turn between other frames (deg)"], table))
    print(f"folded pixels with neighbours: {rows['folds_with_neighbours']}; accelerations halved: {path.softened}"
          + (f"; fit overrides: {overrides}" if overrides else ""))
    write_json("keyframes", {"environment": environment(), "fit_overrides": overrides, "results": rows,
                             "softened": path.softened})


if __name__ == "__main__":
    main()
