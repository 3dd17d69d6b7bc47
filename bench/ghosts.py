"""Ghosts of a small fast object (issue 27, deliverable 3's measure): the middle frame of a pair
where a small textured square crosses a panning photo much further than its own side.

    python bench/ghosts.py              # 8 scenes at 256x144 and 8 at 640x360 (~3 min on 2 CPU cores)
    python bench/ghosts.py --scenes 3

Scenes: ``img2gif.scenes.fast_object_scene`` (seeds 0 ...): at 256x144 a 20 px square moving
48 px over a 6 px pan; at 640x360 the same scaled by 2.5. Nothing here was tuned on them.
For each method's middle frame, against the true one:

* object PSNR: over the square's place in the true middle frame;
* background PSNR: over what no copy of the square covers (at A's, the middle's or B's place);
* ghosts: a copy of the square where the truth shows background, at its place in A or in B:
  the normalised cross-correlation of the gray frame there with the square's texture above
  0.5 (the truth's own is below 0.3 there, or the place is not counted); at most 2 a scene;
* found: the square at its true middle place (correlation above 0.5).

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
GHOST = 0.5        # correlation with the square's texture above which a copy is seen
TRUTH_CLEAR = 0.3  # a place counts only where the true frame's correlation is below this


def correlation(frame: np.ndarray, square: np.ndarray, at: tuple[int, int]) -> float:
    """Normalised cross-correlation of ``frame``'s gray patch at ``at`` with the square's."""
    x, y = at
    side = square.shape[0]
    patch = frame[y:y + side, x:x + side].astype(np.float64).mean(2)
    template = square.astype(np.float64).mean(2)
    patch, template = patch - patch.mean(), template - template.mean()
    return float((patch * template).sum() / (np.linalg.norm(patch) * np.linalg.norm(template) + 1e-9))


def measure(pred: np.ndarray, scene) -> dict:
    side = scene.square.shape[0]
    x, y = scene.at_middle
    obj = (slice(y, y + side), slice(x, x + side))
    background = np.ones(pred.shape[:2], bool)
    for px, py in (scene.at_a, scene.at_middle, scene.at_b):
        background[max(0, py - 2):py + side + 2, max(0, px - 2):px + side + 2] = False
    ghosts, places = 0, 0
    for at in (scene.at_a, scene.at_b):
        if correlation(scene.middle, scene.square, at) < TRUTH_CLEAR:
            places += 1
            ghosts += correlation(pred, scene.square, at) > GHOST
    return {"object_psnr": psnr(pred[obj], scene.middle[obj]), "background_psnr": psnr(pred[background], scene.middle[background]),
            "ghosts": int(ghosts), "places": places, "found": correlation(pred, scene.square, scene.at_middle) > GHOST}


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
            ghosts, places = sum(m["ghosts"] for m in per_scene), sum(m["places"] for m in per_scene)
            found = sum(m["found"] for m in per_scene)
            results[f"{size_name} {name}"] = {"per_scene": per_scene, "seconds_median": float(np.median(seconds))}
            rows.append([size_name, name, f"{obj:.2f}", f"{bg:.2f}", f"{bg - obj:.2f}", f"{ghosts} of {places}",
                         f"{found} of {len(per_scene)}", f"{np.median(seconds):.2f}"])
            print(rows[-1], flush=True)
    print(markdown_table(["size", "method", "object PSNR", "background PSNR", "background - object", "ghosts",
                          "square found", "s per pair (median)"], rows))
    write_json("ghosts", results)


if __name__ == "__main__":
    main()
