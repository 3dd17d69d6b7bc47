"""Pair-fit settings compared on generated scenes, not on the benchmark sets (issues 5 and 12).

    python bench/scene_pairs.py                                  # default fit only
    python bench/scene_pairs.py --fit '{}' '{"pyramid_levels": 4, "steps": [80, 80, 50, 30]}'

Why: the vfi-dev and video-dev sets are for measuring; a setting is chosen here first. Each
case is one scene of ``img2gif.scenes`` (a photo background and textured cut-outs, each with
its own shift, rotation, zoom and bend, occluding each other; brightness change and noise),
at 144x256. A is the scene at t = 0 and B at t = ``--span`` (the generator's motion reaches a
quarter of the width at t = 1, so span 0.5 is up to 32 px at 256 px); the fit's blend at the
middle is scored against the true middle frame (PSNR, all pixels), and its folded pixels counted.
Each --fit is a JSON object of FitSettings fields over the defaults; the first is the baseline
of the "vs first" column, in the same run.

Needs the ``[prior]`` extra (scikit-image's sample photos). Results: bench/out/scene_pairs.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, fit_settings, markdown_table, median, write_json  # noqa: E402
from bench.peers import psnr  # noqa: E402

SIZE = (144, 256)


def to_uint8(image) -> np.ndarray:
    return np.round(image.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=12)
    parser.add_argument("--span", type=float, default=0.5, help="B is the scene at this time (motion grows with it)")
    parser.add_argument("--fit", nargs="+", default=["{}"], help="FitSettings fields as JSON, one per variant")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from img2gif.pair import fit_pair
    from img2gif.scenes import SceneGenerator, SceneSettings
    from img2gif.warp import count_folds

    torch.set_num_threads(args.threads)
    generator = SceneGenerator(SceneSettings(size=SIZE))
    cases = []
    for k in range(args.scenes):  # seeds apart from the prior's training stream (which starts at 0)
        scene = generator.scene(2000 + k, times=[0.0, args.span / 2, args.span])
        cases.append([to_uint8(f) for f in scene.frames])
    rows = []
    for variant in args.fit:
        settings = fit_settings(json.loads(variant))
        scores, times, folds = [], [], 0
        for a, middle, b in cases:
            started = time.perf_counter()
            pair = fit_pair(a, b, settings, device="cpu")
            times.append(time.perf_counter() - started)
            scores.append(psnr(pair.frames([0.5])[0], middle))
            folds += sum(count_folds(phi.unsqueeze(0)) for phi in pair.fields([0.5, 1.0, -1.0]))
        rows.append({"fit": json.loads(variant), "psnr": float(np.mean(scores)), "per_scene": scores,
                     "fit_s_median": median(times), "folds": int(folds)})
        print({k: v for k, v in rows[-1].items() if k != "per_scene"}, flush=True)
    base = rows[0]
    print(markdown_table(["fit", "PSNR middle", "vs first", "scenes better", "fit s (median)", "folded px"],
                         [[json.dumps(r["fit"]), f"{r['psnr']:.2f}", f"{r['psnr'] - base['psnr']:+.2f}",
                           f"{sum(x > y for x, y in zip(r['per_scene'], base['per_scene']))}/{len(cases)}",
                           f"{r['fit_s_median']:.2f}", str(r["folds"])] for r in rows]))
    write_json("scene_pairs", {"environment": environment(), "size": list(SIZE), "span": args.span,
                               "scenes": args.scenes, "threads": args.threads, "rows": rows})


if __name__ == "__main__":
    main()
