"""Video up-conversion at scale: memory against clip length, and speed against ffmpeg.

    python bench/video_scale.py                 # both parts (~20 min on 2 CPU cores)
    python bench/video_scale.py --part memory
    python bench/video_scale.py --part speed

The clips are made here (no data files): a textured picture panning and a textured disc
circling over it, written as MP4 by ffmpeg from frames this script draws.

* memory: a 10 s and a 60 s clip, 160x90 at 6 fps, doubled to 12 fps (frames folder out);
  each a fresh ``python -m img2gif animate CLIP --multiply 2`` process under a tiny wrapper
  that reports its children's peak RSS (one thread). Target (issue 12): 60 s within 1.3x of
  10 s. The clips are small so that the 60 s case finishes in minutes; what is measured is
  whether memory grows with length.
* speed: a 10 s clip at 15 fps (issue 12's), at 256x144 and at 854x480, taken to 30 fps:
  img2gif (default settings; with ``warm_steps`` 80,50,30, the full schedule for every gap,
  the default before `639d15a`; and without block matching, ``match=False``, the cost of the matched
  start; in-process, 2 threads) against ffmpeg's ``minterpolate`` (mci, aobmc, bidir, vsbmc=1)
  on the same clip in the same run, seconds per output frame. Target: within 3x of
  minterpolate. ``--seconds 2`` for a quicker look (the first gap's full fit then weighs
  five times as much per frame).

Results: bench/out/video_scale.json.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import PEAK_RSS_WRAPPER, ROOT, environment, markdown_table, write_json  # noqa: E402


def draw(k: int, fps: float, w: int, h: int) -> np.ndarray:
    t = k / fps
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    pan = 8.0 * t * w / 160
    base = np.stack([np.sin((xs + pan) / w * 19) * np.cos(ys / h * 11), np.sin((xs + pan + ys) / (w + h) * 23),
                     np.cos((xs + pan) / w * 7 - ys / h * 5)], axis=-1) * 60 + 110
    cx, cy = w / 2 + 0.25 * w * np.cos(t * 1.3), h / 2 + 0.25 * h * np.sin(t * 1.3)
    r = 0.12 * h
    inside = np.clip(r - np.hypot(xs - cx, ys - cy), 0, 1)[..., None]
    disc = np.stack([np.sin(xs / 3.0), np.cos(ys / 4.0), np.sin((xs + ys) / 5.0)], axis=-1) * 50 + 190
    return np.clip(base * (1 - inside) + disc * inside, 0, 255).astype(np.uint8)


def make_clip(path: Path, seconds: float, fps: float, w: int, h: int) -> None:
    import imageio_ffmpeg

    n = int(round(seconds * fps))
    proc = subprocess.Popen([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
                             "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                             "-pix_fmt", "yuv420p", "-crf", "12", str(path)], stdin=subprocess.PIPE)
    for k in range(n):
        proc.stdin.write(draw(k, fps, w, h).tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("ffmpeg could not write the test clip")


def memory(work: Path) -> list[dict]:
    rows = []
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    for seconds in (10, 60):
        clip = work / f"clip_{seconds}s.mp4"
        make_clip(clip, seconds, 6.0, 160, 90)
        out = work / f"out_{seconds}s"
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", PEAK_RSS_WRAPPER, sys.executable, "-m", "img2gif", "animate", str(clip),
                               "--multiply", "2", "-o", f"{out}/", "-q"], env=env, capture_output=True, text=True)
        code, peak_kb = (int(v) for v in done.stdout.split())
        rows.append({"seconds_of_clip": seconds, "source_frames": int(seconds * 6), "exit": code,
                     "peak_rss_mb": round(peak_kb / 1024, 1), "wall_s": round(time.monotonic() - started, 1)})
        print(rows[-1], flush=True)
    return rows


def speed(work: Path, seconds: float) -> list[dict]:
    import imageio_ffmpeg
    import torch

    import img2gif

    torch.set_num_threads(2)
    rows = []
    for w, h in ((256, 144), (854, 480)):
        clip = work / f"speed_{w}.mp4"
        make_clip(clip, seconds, 15.0, w, h)
        ours = {}
        variants = {"default": img2gif.FitSettings(), "full_warm": img2gif.FitSettings(warm_steps=(80, 50, 30)),
                    "no_match": img2gif.FitSettings(match=False)}
        for name, settings in variants.items():
            started = time.perf_counter()
            result = img2gif.upconvert(clip, work / f"img2gif_{w}_{name}.mp4", fps=30, device="cpu", settings=settings)
            ours[name] = time.perf_counter() - started
            frames = result.frames_written
        started = time.perf_counter()
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip),
                        "-vf", "minterpolate=fps=30:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
                        "-c:v", "libx264", "-crf", "10", str(work / f"mi_{w}.mp4")], check=True)
        theirs = time.perf_counter() - started
        mi_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(work / f"mi_{w}.mp4"))
        mi_per_frame = theirs / mi_frames
        row = {"size": f"{w}x{h}", "clip_seconds": seconds, "img2gif_frames": frames, "minterpolate_s": round(theirs, 2),
               "minterpolate_frames": mi_frames, "minterpolate_s_per_frame": round(mi_per_frame, 4)}
        for name, took in ours.items():
            row[f"img2gif_{name}_s"] = round(took, 2)
            row[f"img2gif_{name}_s_per_frame"] = round(took / frames, 3)
            row[f"ratio_{name}"] = round((took / frames) / mi_per_frame, 1)
        rows.append(row)
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("memory", "speed", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the speed clip (default 10)")
    args = parser.parse_args()
    results = {"environment": environment()}
    with tempfile.TemporaryDirectory(prefix="img2gif-vscale-") as tmp:
        if args.part in ("memory", "both"):
            results["memory"] = memory(Path(tmp))
            m = results["memory"]
            ratio = m[1]["peak_rss_mb"] / m[0]["peak_rss_mb"]
            results["memory_ratio"] = round(ratio, 2)
            print(markdown_table(["clip", "source frames", "peak RSS", "seconds"],
                                 [[f"{r['seconds_of_clip']} s", str(r["source_frames"]), f"{r['peak_rss_mb']:.0f} MiB",
                                   f"{r['wall_s']:.0f}"] for r in m]))
            print(f"60 s / 10 s peak RSS: {ratio:.2f}x")
        if args.part in ("speed", "both"):
            results["speed"] = speed(Path(tmp), args.seconds)
            print(markdown_table(["size", "img2gif s/frame", "ratio", "--warm-steps 80,50,30", "ratio",
                                  "--no-match", "ratio", "minterpolate s/frame"],
                                 [[r["size"]] + [cell for name in ("default", "full_warm", "no_match")
                                                 for cell in (f"{r[f'img2gif_{name}_s_per_frame']:.3f}", f"{r[f'ratio_{name}']:.1f}x")]
                                  + [f"{r['minterpolate_s_per_frame']:.4f}"] for r in results["speed"]]))
    write_json("video_scale", results)


if __name__ == "__main__":
    main()
