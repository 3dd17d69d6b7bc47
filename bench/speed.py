"""Wall time and peak memory of ``img2gif.animate`` to a 60-frame GIF, against a crossfade.

    python bench/speed.py                      # 256-px and 1920x1080, 3 runs each
    python bench/speed.py --repeats 5 --sizes 256

Per size, two methods, each in a fresh subprocess (so ru_maxrss is that case's peak):

* img2gif: ``img2gif.animate(a, b, out.gif, frames=60, fps=30, device='cpu')`` in-process
  (reading, fit, rendering, GIF writing; not the Python/torch import); "read+fit" is the
  time to the fit's last progress callback, the rest is rendering and writing;
* crossfade (baseline): ``read_image`` both, 60 frames ``round((1-t) A + t B)``, written by
  the same ``img2gif.writers.write_animation`` with the same timing.

The pair is frames 0 and 16 of vfi-dev case bedroom_s122_g16 (256x144); the 1920x1080 pair
is the same pair upscaled with PIL LANCZOS. Reported: median of ``--repeats`` runs (the
first run in a process included), its ratio to the crossfade median, and peak RSS of the
Python process (the ffmpeg child the GIF writer runs is not included). Targets (issue):
256 px under 5 s; 1920x1080 under 15 s and peak RSS under 2 GB (taken as 2e9 bytes =
1907 MiB). No pass/fail exit code.

Raw results: bench/out/speed.json. The table goes to stdout.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's img2gif, not an installed one
from _common import OtherLoad, ROOT, environment, fmt, markdown_table, median, peak_rss_mb, write_json  # noqa: E402

FRAMES, FPS = 60, 30.0
CASE = "../shared/data/vfi-dev/bedroom_s122_g16"
INPUTS = ("frame_000.png", "frame_016.png")
TARGETS = {"256": {"seconds": 5.0}, "1920x1080": {"seconds": 15.0, "rss_mb": 2000.0 * 1e6 / 2**20}}  # 2 GB in MiB


def make_inputs(size: str, folder: Path) -> tuple[Path, Path]:
    """The pair at ``size`` ('256' = as stored; 'WxH' = LANCZOS-resized), as PNGs in ``folder``."""
    paths = []
    for name in INPUTS:
        im = Image.open(ROOT / CASE / name).convert("RGB")
        if size != "256":
            w, h = (int(v) for v in size.split("x"))
            im = im.resize((w, h), Image.Resampling.LANCZOS)
        paths.append(folder / name)
        im.save(paths[-1])
    return paths[0], paths[1]


def run_one(size: str, method: str, repeats: int) -> dict:
    """Internal mode (--one): time ``repeats`` runs of one method at one size in this process."""
    import torch

    import img2gif
    from img2gif import timing
    from img2gif.writers import write_animation

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="img2gif-bench-") as tmp:
        a_path, b_path = make_inputs(size, Path(tmp))
        out = Path(tmp) / "out.gif"
        rss_before = peak_rss_mb()
        seconds, fit_seconds = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            if method == "img2gif":
                marks = []  # the fit calls progress after each step: its last call ends the fit
                img2gif.animate(a_path, b_path, out, frames=FRAMES, fps=FPS, device="cpu",
                                progress=lambda *_: marks.append(time.perf_counter()))
                fit_seconds.append(marks[-1] - t0)
            else:
                a = img2gif.read_image(a_path).astype(np.float64)
                b = img2gif.read_image(b_path).astype(np.float64)
                frames = [np.rint((1 - t) * a + t * b).astype(np.uint8) for t in timing.frame_times(FRAMES)]
                write_animation(out, frames, timing.playback(FRAMES, FPS), fps=FPS)
                del frames
            seconds.append(time.perf_counter() - t0)
        gif_bytes = out.stat().st_size
        width, height = Image.open(a_path).size
    return {"size": size, "method": method, "image": [width, height], "seconds": seconds,
            "median_s": median(seconds), "fit_s": fit_seconds, "fit_median_s": median(fit_seconds),
            "peak_rss_mb": peak_rss_mb(), "rss_after_setup_mb": rss_before,
            "gif_bytes": gif_bytes, "torch_threads": torch.get_num_threads()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["256", "1920x1080"], help="'256' and/or WxH")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--one", help=argparse.SUPPRESS)      # internal: one size ...
    ap.add_argument("--method", help=argparse.SUPPRESS)   # ... and one method, JSON on stdout
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.method, args.repeats)))
        return

    started, other = time.perf_counter(), OtherLoad()
    results = []
    for size in args.sizes:
        for method in ("crossfade", "img2gif"):
            cmd = [sys.executable, __file__, "--one", size, "--method", method, "--repeats", str(args.repeats)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                sys.exit(f"{size} {method} failed ({proc.returncode}):\n{proc.stderr.strip()[-2000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            r = results[-1]
            print(f"{size} {method}: runs {', '.join(f'{s:.2f}' for s in r['seconds'])} s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MiB", file=sys.stderr, flush=True)
    total = time.perf_counter() - started

    rows = []
    for size in args.sizes:
        base = next(r for r in results if r["size"] == size and r["method"] == "crossfade")
        for r in (base, next(r for r in results if r["size"] == size and r["method"] == "img2gif")):
            r["ratio_to_crossfade"] = r["median_s"] / base["median_s"]
            target = TARGETS.get(size, {}) if r["method"] == "img2gif" else {}
            goal = []
            if "seconds" in target:
                goal.append(f"< {target['seconds']:g} s: {'yes' if r['median_s'] < target['seconds'] else '**no**'}")
            if "rss_mb" in target:
                goal.append(f"RSS < 2 GB: {'yes' if r['peak_rss_mb'] < target['rss_mb'] else '**no**'}")
            rows.append([f"{r['image'][0]}x{r['image'][1]}", r["method"], fmt(r["median_s"]) + " s",
                         f"{min(r['seconds']):.2f}–{max(r['seconds']):.2f}", fmt(r["ratio_to_crossfade"], ".1f") + "x",
                         fmt(r["fit_median_s"]) + (" s" if r["fit_median_s"] is not None else ""),
                         f"{r['peak_rss_mb']:.0f} MiB", "; ".join(goal) or "—"])
    path = write_json("speed.json", {"benchmark": "speed", "frames": FRAMES, "fps": FPS, "case": CASE,
                                     "repeats": args.repeats, "wall_s": total, "other_load_cores": other.cores(),
                                     "environment": environment(),
                                     "results": results})
    print(f"animate to GIF, {FRAMES} frames, median of {args.repeats} runs per method, each method in a fresh "
          f"process, CPU, 2 torch threads; baseline: crossfade through the same GIF writer, same run.\n")
    print(markdown_table(["size", "method", "median", "min–max", "vs crossfade", "of which read+fit", "peak RSS (python)", "target"], rows))
    print("\nPeak RSS is ru_maxrss of the benchmark process (imports included; the ffmpeg child is not). " + other.note())
    print(f"\nRaw results: {path.relative_to(ROOT)}; took {total:.0f} s.", file=sys.stderr)


if __name__ == "__main__":
    main()
