"""Ghosts of a small fast object (issue 27, deliverable 3's measure): the middle frame of a pair
where a small textured square crosses a panning photo much further than its own side.

    python bench/ghosts.py              # 8 scenes at 256x144 and 8 at 640x360 (~3 min on 2 CPU cores)
    python bench/ghosts.py --scenes 3

Scenes: ``img2gif.scenes.fast_object_scene`` (seeds 0 ...): at 256x144 a 20 px square moving
48 px over a 6 px pan; at 640x360 the same scaled by 2.5. Nothing here was tuned on them.
For each method's middle frame, against the true one:

* object PSNR: over the square's place in the true middle frame;
* background PSNR: over what no copy of the square covers (at A's, the middle's or B's place);
* ghost weight at A's and at B's place, where the truth shows background: how much of the
  square shows there, the least-squares weight w of ``pred = background + w (square -
  background)`` over its pixels (0: no copy, 0.5: the half copy a crossfade leaves, 1: the
  square itself); a ghost is a weight above 0.25;
* shown: the same weight at the square's true middle place, against the background the square
  covers there (1: the square is where it should be, 0: it is missing).

A place whose square differs from the background there by less than 8 levels (RMS) is not
counted: nothing could tell a copy from none.

Methods: ``img2gif animate A B`` as shipped (``fit_pair``, the blend), the crossfade, and
OpenCV DIS (medium, both ways, Super SloMo's linear blend; ``pip install -e ".[bench]"``).
Results: bench/out/ghosts.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, markdown_table, write_json  # noqa: E402
from bench.peers import crossfade, dis_frames, psnr  # noqa: E402

SIZES = {"256x144": dict(size=(144, 256), side=20, move=48, pan=6),
         "640x360": dict(size=(360, 640), side=50, move=120, pan=15)}
GHOST = 0.25       # a copy weighing more than this at A's or B's place is a ghost
MIN_CONTRAST = 8.0  # levels (RMS): a square this close to the background there is not counted


def copy_weight(pred: np.ndarray, background: np.ndarray, square: np.ndarray, at: tuple[int, int]) -> float | None:
    """Least-squares w in ``pred = background + w (square - background)`` over the square's
    pixels at ``at`` (``pred`` and ``background`` whole frames); None where the square is too
    close to the background there to tell."""
    x, y = at
    side = square.shape[0]
    here = (slice(y, y + side), slice(x, x + side))
    contrast = square.astype(np.float64) - background[here]
    if np.sqrt(np.mean(contrast ** 2)) < MIN_CONTRAST:
        return None
    shown = pred[here].astype(np.float64) - background[here]
    return float((shown * contrast).sum() / (contrast * contrast).sum())


def measure(pred: np.ndarray, scene) -> dict:
    side = scene.square.shape[0]
    x, y = scene.at_middle
    obj = (slice(y, y + side), slice(x, x + side))
    background = np.ones(pred.shape[:2], bool)
    for px, py in (scene.at_a, scene.at_middle, scene.at_b):
        background[max(0, py - 2):py + side + 2, max(0, px - 2):px + side + 2] = False
    # at A's and B's places the truth shows background (the square has left or not yet come),
    # unless the middle place overlaps them: those are left out
    weights = [copy_weight(pred, scene.middle, scene.square, at) for at in (scene.at_a, scene.at_b)
               if max(abs(at[0] - x), abs(at[1] - y)) >= side]
    weights = [w for w in weights if w is not None]
    return {"object_psnr": psnr(pred[obj], scene.middle[obj]), "background_psnr": psnr(pred[background], scene.middle[background]),
            "ghost_weights": weights, "ghosts": sum(w > GHOST for w in weights),
            "shown": copy_weight(pred, scene.middle_background, scene.square, scene.at_middle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8, help="scenes per size (seeds 0 ...)")
    args = parser.parse_args()

    import torch

    from img2gif.pair import fit_pair
    from img2gif.scenes import fast_object_scene

    torch.set_num_threads(2)
    methods = {"img2gif (fit_pair, blend)": lambda a, b: fit_pair(a, b, device="cpu").frames([0.5])[0],
               "crossfade": lambda a, b: crossfade(a, b, [0.5])[0]}
    try:
        import cv2  # noqa: F401
        methods["OpenCV DIS medium"] = lambda a, b: dis_frames(a, b, [0.5])[0]
    except ImportError:
        print("opencv not installed (pip install -e '.[bench]'): DIS left out", flush=True)
    results, rows = {"environment": environment(), "scenes": args.scenes}, []
    for size_name, shape in SIZES.items():
        for name, method in methods.items():
            per_scene, seconds = [], []
            for seed in range(args.scenes):
                scene = fast_object_scene(seed, **shape)
                started = time.perf_counter()
                pred = method(scene.a, scene.b)
                seconds.append(time.perf_counter() - started)
                per_scene.append(measure(pred, scene))
            obj = float(np.mean([m["object_psnr"] for m in per_scene]))
            bg = float(np.mean([m["background_psnr"] for m in per_scene]))
            ghosts = sum(m["ghosts"] for m in per_scene)
            weights = [w for m in per_scene for w in m["ghost_weights"]]
            shown = [m["shown"] for m in per_scene if m["shown"] is not None]
            results[f"{size_name} {name}"] = {"per_scene": per_scene, "seconds_median": float(np.median(seconds))}
            rows.append([size_name, name, f"{obj:.2f}", f"{bg:.2f}", f"{bg - obj:.2f}", f"{ghosts} of {len(weights)}",
                         f"{np.mean(weights):.2f}", f"{np.mean(shown):.2f}", f"{np.median(seconds):.2f}"])
            print(rows[-1], flush=True)
    print(markdown_table(["size", "method", "object PSNR", "background PSNR", "background - object", "ghosts",
                          "mean ghost weight", "mean weight shown at its place", "s per pair (median)"], rows))
    write_json("ghosts", results)


if __name__ == "__main__":
    main()
