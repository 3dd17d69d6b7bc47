"""Warp-only reach and evenness on Yale faces (normal -> happy), 10 pairs.

    python bench/yale_smile.py [--set ../shared/data/yale-smile]

Per pair ``subjectNN_normal.png`` (A) -> ``subjectNN_happy.png`` (B) (8-bit grayscale,
320x243; ``read_image`` makes them RGB): fit with default ``FitSettings`` on CPU, render
``mode='warp-only'`` frames (A moved, no colour of B) at t = 0, 0.1, ..., 1, and report

* gain = PSNR(frame t=1, B) - PSNR(A, B): how much of the way to B the warp alone gets,
  against the do-nothing baseline A measured in the same run (target >= +6 dB per pair);
* evenness = max / mean of the per-step change, where step k's change is the mean abs
  difference (0-255) of frames k and k+1: 1.0 is perfectly even motion, a jump shows as a
  large ratio (10 at most: everything in one step); also which step is the largest;
* folded pixels: ``pair.folds()`` (target 0); fit time per pair.

Raw results: bench/out/yale_smile.json. The table goes to stdout.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's img2gif, not an installed one
from _common import OtherLoad, ROOT, environment, fit_overrides, fit_settings, fmt, markdown_table, median, peak_rss_mb, write_json  # noqa: E402

from peers import psnr  # noqa: E402
import img2gif  # noqa: E402

TIMES = [k / 10 for k in range(11)]
TARGET_GAIN_DB = 6.0


def run_pair(path_a: Path, path_b: Path, settings) -> dict:
    a, b = img2gif.read_image(path_a), img2gif.read_image(path_b)
    t0 = time.perf_counter()
    pair = img2gif.fit_pair(a, b, settings, device="cpu")
    fit_s = time.perf_counter() - t0
    frames = pair.frames(TIMES, mode="warp-only")
    steps = [float(np.abs(frames[k + 1].astype(np.int16) - frames[k].astype(np.int16)).mean()) for k in range(len(frames) - 1)]
    mean_step = float(np.mean(steps))
    return {"subject": path_a.name.split("_")[0], "psnr_a_b": psnr(a, b), "psnr_last_b": psnr(frames[-1], b),
            "steps": steps, "evenness": max(steps) / mean_step if mean_step > 0 else None,
            "largest_step": f"{TIMES[int(np.argmax(steps))]:.1f}-{TIMES[int(np.argmax(steps)) + 1]:.1f}",
            "folds": pair.folds(), "fit_s": fit_s}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="../shared/data/yale-smile", help="folder (relative paths: from the repo root)")
    ap.add_argument("--fit", action="append", default=[], metavar="KEY=JSON",
                    help="override a FitSettings field, e.g. --fit match=false (default: the default settings)")
    args = ap.parse_args(argv)
    overrides = fit_overrides(args.fit)
    settings = fit_settings(overrides)
    torch.set_num_threads(2)
    set_dir = (ROOT / args.set).resolve()
    pairs = [(p, p.with_name(p.name.replace("_normal", "_happy"))) for p in sorted(set_dir.glob("subject*_normal.png"))]
    pairs = [(a, b) for a, b in pairs if b.exists()]
    if not pairs:
        sys.exit(f"no subjectNN_normal.png / subjectNN_happy.png pairs in {set_dir}")

    started, other = time.perf_counter(), OtherLoad()
    results = []
    for a, b in pairs:
        r = run_pair(a, b, settings)
        r["gain_db"] = r["psnr_last_b"] - r["psnr_a_b"]
        results.append(r)
        print(f"{r['subject']}: gain {r['gain_db']:+.2f} dB, evenness {r['evenness']:.2f}, folds {r['folds']}, "
              f"fit {r['fit_s']:.1f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    gains = [r["gain_db"] for r in results]
    summary = {"gain_db_median": median(gains), "gain_db_min": min(gains),
               "pairs_meeting_target": sum(g >= TARGET_GAIN_DB for g in gains),
               "evenness_median": median([r["evenness"] for r in results]),
               "evenness_max": max(r["evenness"] for r in results if r["evenness"] is not None),
               "folds_total": sum(r["folds"] for r in results),
               "fit_s_median": median([r["fit_s"] for r in results]), "peak_rss_mb": peak_rss_mb()}
    path = write_json("yale_smile.json", {"benchmark": "yale_smile", "set": str(set_dir), "times": TIMES,
                                          "target_gain_db": TARGET_GAIN_DB, "wall_s": total, "fit_overrides": overrides,
                                          "other_load_cores": other.cores(), "environment": environment(),
                                          "summary": summary, "per_pair": results})

    headers = ["subject", "PSNR(A,B)", "PSNR(t=1,B)", "gain", f">= +{TARGET_GAIN_DB:g} dB", "evenness max/mean",
               "largest step", "folded px", "fit s"]
    rows = [[r["subject"], fmt(r["psnr_a_b"]), fmt(r["psnr_last_b"]), fmt(r["gain_db"], "+.2f") + " dB",
             "yes" if r["gain_db"] >= TARGET_GAIN_DB else "**no**", fmt(r["evenness"]), r["largest_step"],
             str(r["folds"]), fmt(r["fit_s"], ".1f")] for r in results]
    rows.append(["**median**", fmt(median([r["psnr_a_b"] for r in results])),
                 fmt(median([r["psnr_last_b"] for r in results])), fmt(summary["gain_db_median"], "+.2f") + " dB",
                 f"{summary['pairs_meeting_target']}/{len(results)}", fmt(summary["evenness_median"]), "",
                 f"{summary['folds_total']} (sum)", fmt(summary["fit_s_median"], ".1f")])
    print(f"Yale smile, warp-only, {len(results)} pairs, t = 0, 0.1, ..., 1; baseline: A itself (PSNR(A,B)), "
          f"same run; torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; "
          f"fit overrides: {overrides or 'none'}.\n")
    print(markdown_table(headers, rows))
    print(f"\nWorst pair: gain {summary['gain_db_min']:+.2f} dB; worst evenness {summary['evenness_max']:.2f}. "
          f"Peak RSS {summary['peak_rss_mb']:.0f} MiB. " + other.note())
    print(f"\nRaw results: {path.relative_to(ROOT)}; took {total:.0f} s.", file=sys.stderr)


if __name__ == "__main__":
    main()
