"""How many fit steps a gap needs when it starts from the gap before's field (issue 12).

    python bench/warm_start.py                       # ~10 min on 2 CPU cores
    python bench/warm_start.py --scenes 4 --schedules "80,50,30" "0,15,15"

Why a separate set: the video-dev windows are for measuring, not for choosing settings. The
clips here are made by ``img2gif.scenes`` (a photo background and textured cut-outs, each with
its own rotation, zoom, shift and bend; brightness change and noise), rendered at 17 times
t = k/16 of one scene: a 17-frame "video" whose true in-between frames are known. Each clip is
given every G-th frame (G = 2 and 4) as an open keyframe path (``fit_path``) and the missing
frames are rendered and scored (PSNR against the true frames). The first gap always runs the
full schedule (it starts from the shift search); each schedule here is ``warm_steps``, the
steps per pyramid level (coarse to fine) of every later gap, which starts from the gap
before's field. Fit time is the whole path's; the ratio is against the first schedule, the
full one, in the same run.

Needs the ``[prior]`` extra (scikit-image, for its sample photos). Results:
bench/out/warm_start.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, markdown_table, median, write_json  # noqa: E402
from bench.peers import psnr  # noqa: E402

SIZE = (144, 256)
FRAMES = 17


def clip(generator, seed: int) -> list[np.ndarray]:
    scene = generator.scene(seed, times=[k / (FRAMES - 1) for k in range(FRAMES)])
    return [np.round(f.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8) for f in scene.frames]


def run_case(frames, g: int, warm_steps, threads: int) -> dict:
    import torch

    from img2gif.fit import FitSettings
    from img2gif.path import fit_path

    torch.set_num_threads(threads)
    keyframes = frames[::g]
    settings = FitSettings(warm_steps=tuple(warm_steps))
    started = time.perf_counter()
    path = fit_path(keyframes, None, False, settings, device="cpu")
    fit_s = time.perf_counter() - started
    times = [k / (FRAMES - 1) for k in range(FRAMES)]
    rendered = list(path.frame_renderer("blend")(times))
    missing = [k for k in range(FRAMES) if k % g]
    return {"psnr": float(np.mean([psnr(rendered[k], frames[k]) for k in missing])), "fit_s": fit_s,
            "gaps": len(keyframes) - 1, "folds": path.folds()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--schedules", nargs="+", default=["80,50,30", "20,20,0", "0,20,0", "0,15,15", "20,10,10", "0,0,20"],
                        help="warm_steps to compare, each 'coarse,middle,fine'; the first is the baseline")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from img2gif.scenes import SceneGenerator, SceneSettings

    generator = SceneGenerator(SceneSettings(size=SIZE))
    schedules = [tuple(int(v) for v in s.split(",")) for s in args.schedules]
    clips = [clip(generator, 1000 + k) for k in range(args.scenes)]  # seeds apart from the prior's training stream
    rows = []
    for warm in schedules:
        for g in (2, 4):
            cases = [run_case(frames, g, warm, args.threads) for frames in clips]
            rows.append({"warm_steps": list(warm), "G": g, "psnr": float(np.mean([c["psnr"] for c in cases])),
                         "fit_s_median": median([c["fit_s"] for c in cases]), "gaps": cases[0]["gaps"],
                         "folds": sum(c["folds"] for c in cases), "cases": cases})
            print({k: v for k, v in rows[-1].items() if k != "cases"}, flush=True)
    base = {r["G"]: r for r in rows[:2]}
    table = []
    for r in rows:
        b = base[r["G"]]
        r["psnr_vs_full"] = r["psnr"] - b["psnr"]
        r["time_ratio"] = r["fit_s_median"] / b["fit_s_median"]
        table.append([",".join(map(str, r["warm_steps"])), str(r["G"]), f"{r['psnr']:.2f}", f"{r['psnr_vs_full']:+.2f}",
                      f"{r['fit_s_median']:.1f} s ({r['gaps']} gaps)", f"{r['time_ratio']:.2f}x", str(r["folds"])])
    print(markdown_table(["warm_steps", "G", "PSNR", "vs full", "fit per clip (median)", "time vs full", "folded px"], table))
    write_json("warm_start", {"environment": environment(), "size": list(SIZE), "frames": FRAMES, "scenes": args.scenes,
                              "threads": args.threads, "rows": rows})


if __name__ == "__main__":
    main()
