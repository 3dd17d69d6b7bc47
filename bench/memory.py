"""Peak memory of real `img2gif animate` runs, by input size and by number of frames.

    python bench/memory.py              # ~25 minutes on 2 CPU cores; JSON to bench/out/memory.json
    python bench/memory.py --quick      # the small cases only
    python bench/memory.py --frames-only --formats webp apng   # 60 vs 600 frames, these formats

Each case is a fresh `python -m img2gif animate A B -o out.gif --frames N` process, started by
a tiny wrapper process that reports its children's peak resident set size (the larger of
img2gif and the ffmpeg it runs). Why the wrapper: a child's ru_maxrss starts at its parent's
size at fork, and this script holds the large test images. The inputs are smooth synthetic
images, made in a separate process for the same reason. The fitted line, bytes per input pixel and per output
frame pixel, is what README's limits table states.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import PEAK_RSS_WRAPPER, ROOT, environment, markdown_table, write_json  # noqa: E402


def smooth_image(h: int, w: int, shift: float = 0.0) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    r = (np.sin((xs - shift) / w * 9.0) * np.cos(ys / h * 7.0) + 1) * 110
    g = (np.sin((xs - shift) / w * 5.0 + ys / h * 4.0) + 1) * 100
    b = (np.cos((xs - shift + ys) / (w + h) * 11.0) + 1) * 90
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def run_case(work: Path, h: int, w: int, frames: int, ext: str = "gif") -> dict:
    a, b = work / f"a_{w}x{h}.png", work / f"b_{w}x{h}.png"
    env = dict(os.environ, OMP_NUM_THREADS="1", IMG2GIF_MAX_PIXELS=str(max(h * w, 50_000_000)),
               PYTHONPATH=str(ROOT))
    if not a.exists():
        subprocess.run([sys.executable, __file__, "--make", str(h), str(w), str(a), str(b)], check=True, env=env)
    out = work / f"out.{ext}"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS_WRAPPER, sys.executable, "-m", "img2gif", "animate", str(a), str(b),
                           "-o", str(out), "--frames", str(frames), "-q"], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    code, peak_kb = (int(v) for v in lines[-1].split()) if lines else (done.returncode, 0)
    err = done.stderr.strip()
    peak_mb = peak_kb / 1024.0
    return {"width": w, "height": h, "pixels": w * h, "frames": frames, "format": ext, "exit": code,
            "peak_rss_mb": round(peak_mb, 1), "seconds": round(seconds, 1), "stderr": err[-300:]}


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--make":
        h, w = int(sys.argv[2]), int(sys.argv[3])
        Image.fromarray(smooth_image(h, w)).save(sys.argv[4], compress_level=1)
        Image.fromarray(smooth_image(h, w, shift=w * 0.02)).save(sys.argv[5], compress_level=1)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--frames-only", action="store_true", help="only the 60 against 600 frames cases")
    parser.add_argument("--formats", nargs="+", default=["gif", "mp4", "webp", "png"],
                        help="output extensions of the frames cases (png = APNG)")
    args = parser.parse_args()
    sizes = [(750, 1000), (1500, 2000), (3000, 4000)] + ([] if args.quick else [(6000, 8000)])
    cases = [] if args.frames_only else [(h, w, 2, "gif") for h, w in sizes]
    for ext in args.formats:  # every writer streams: 60 vs 600 frames
        cases += [(1080, 1920, 60, ext), (1080, 1920, 600 if not args.quick else 120, ext)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for h, w, n, ext in cases:
            row = run_case(Path(tmp), h, w, n, ext)
            rows.append(row)
            print(f"{w}x{h} x {n} frames -> {ext}: {row['peak_rss_mb']:.0f} MiB, {row['seconds']:.0f} s, exit {row['exit']}",
                  flush=True)
    ratios = {}
    for ext in args.formats:
        pair = [r for r in rows if r["format"] == ext and r["width"] == 1920]
        ratios[ext] = round(pair[1]["peak_rss_mb"] / pair[0]["peak_rss_mb"], 2)
        print(f"{ext}: peak RSS {pair[1]['frames']} frames / {pair[0]['frames']} frames = {ratios[ext]:.2f}x")
    # least squares over the GIF runs: peak = base + per_input_pixel * pixels (+ per frame pixel)
    gifs = [r for r in rows if r["exit"] == 0 and r["format"] == "gif"]
    if len(gifs) < 3:
        print(markdown_table(["input", "frames", "format", "peak RSS (MiB)", "seconds"],
                             [[f"{r['width']}x{r['height']}", str(r["frames"]), r["format"], f"{r['peak_rss_mb']:.0f}",
                               f"{r['seconds']:.0f}"] for r in rows]))
        write_json("memory-frames", {"environment": environment(), "cases": rows, "ratio_600_to_60": ratios})
        return
    design = np.array([[1.0, r["pixels"], r["pixels"] * r["frames"]] for r in gifs])
    peaks = np.array([r["peak_rss_mb"] * 2**20 for r in gifs])
    coef, *_ = np.linalg.lstsq(design, peaks, rcond=None)
    fit = {"base_mb": round(coef[0] / 2**20, 1), "bytes_per_input_pixel": round(coef[1], 1),
           "bytes_per_frame_pixel": round(coef[2], 2)}
    print(markdown_table(["input", "frames", "format", "peak RSS (MiB)", "seconds"],
                         [[f"{r['width']}x{r['height']}", str(r["frames"]), r["format"], f"{r['peak_rss_mb']:.0f}",
                           f"{r['seconds']:.0f}"] for r in rows]))
    print(f"fit: {fit['base_mb']} MiB + {fit['bytes_per_input_pixel']} B per input pixel "
          f"+ {fit['bytes_per_frame_pixel']} B per output frame pixel")
    write_json("memory", {"environment": environment(), "cases": rows, "fit": fit, "ratio_600_to_60": ratios})


if __name__ == "__main__":
    main()
