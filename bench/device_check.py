"""What a lent GPU machine needs to tell us, in one run (issue 31: the device check).

    python bench/device_check.py --device cuda -o OUT/device_check.json      # < 8 min on one GPU
    python bench/device_check.py --device cpu --quick -o /tmp/dc.json       # the CPU dry run (~20 s)

Each step is timed on its own and recorded whatever happens to the others (an error is written
into the JSON, never lost in a traceback):

1. pair: a generated 1920x1080 pair (``img2gif.scenes``) fitted and written as 60 MP4 frames,
   through ``img2gif.animate`` as a user runs it (wall time, once cold and once warm);
2. clip: a 10 s 1280x720 pan at 30 fps (a photo panned under a sliding window, as a numbered
   frames folder) raised to 60 fps with ``img2gif.upconvert``, written as MP4;
3. gap batches: a 3 s clip of the same pan up-converted with ``gap_batch`` 1 and 16 (gaps
   fitted one by one, and 16 at a time as one batch: what a GPU is for), both timed;
4. prior: ``img2gif train --prior`` trained for a fixed wall-clock budget (its steps counted).

``--quick`` shrinks each step (pair 240x135 with 4 frames, clip 0.5 s at 160x90, gap batches
1 and 4 of a 0.5 s clip, prior 6 s at 32 px) so that the CPU dry run checks the same code paths in seconds. MP4 output needs the
ffmpeg of ``imageio-ffmpeg``; where it is missing, frames folders are written instead (said in
the JSON).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STEPS = ("pair", "clip", "gap_batches", "prior")


def _has_ffmpeg() -> bool:
    try:
        import imageio_ffmpeg

        return Path(imageio_ffmpeg.get_ffmpeg_exe()).is_file()
    except Exception:  # noqa: BLE001 - any failure means: no ffmpeg here
        return False


def _step(results: dict, name: str, work) -> None:
    """Run ``work()`` (returns a dict), timed; its result or its error goes into ``results``."""
    started = time.perf_counter()
    try:
        results[name] = {"ok": True, **work()}
    except Exception as exc:  # noqa: BLE001 - the JSON must say what broke and go on
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    results[name]["seconds"] = round(time.perf_counter() - started, 2)
    print(f"{name}: {json.dumps({k: v for k, v in results[name].items() if k != 'traceback'})}", flush=True)


def _photo(height: int, width: int) -> np.ndarray:
    """A package photo at (height, width) or larger, uint8 RGB."""
    from PIL import Image

    from img2gif.scenes import package_photos

    with Image.open(package_photos()[0]) as im:
        im = im.convert("RGB")
        scale = max(height / im.height, width / im.width)
        return np.asarray(im.resize((max(width, round(im.width * scale)), max(height, round(im.height * scale))),
                                    Image.Resampling.LANCZOS))


def pair_step(size, frames, device, work: Path, ffmpeg: bool) -> dict:
    import torch
    from PIL import Image

    import img2gif
    from img2gif.scenes import SceneGenerator, SceneSettings

    h, w = size
    scene = SceneGenerator(SceneSettings(size=(h, w))).scene(0)
    paths = []
    for name, x in (("a.png", scene.a), ("b.png", scene.b)):
        Image.fromarray((x.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()).save(work / name)
        paths.append(work / name)
    output = work / "pair.mp4" if ffmpeg else f"{work / 'pair'}/"
    runs = []
    for _ in range(2):  # cold (first use of the device: kernels, caches), then warm
        started = time.perf_counter()
        result = img2gif.animate(str(paths[0]), str(paths[1]), str(output), frames=frames, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        runs.append(round(time.perf_counter() - started, 2))
    return {"size": f"{w}x{h}", "frames": result.frames_written, "output": Path(output).suffix or "folder",
            "seconds_cold": runs[0], "seconds_warm": runs[1],
            "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None}


def _pan_folder(size, seconds, folder: Path) -> int:
    """A steady pan (3 px a frame) at 30 fps as a numbered frames folder; its frame count."""
    from PIL import Image

    h, w = size
    count = int(round(30 * seconds))
    photo = _photo(h, w + count * 3)
    folder.mkdir()
    for k in range(count):
        Image.fromarray(photo[:h, 3 * k:3 * k + w]).save(folder / f"frame_{k:05d}.png", compress_level=1)
    return count


def clip_step(size, seconds, device, work: Path, ffmpeg: bool) -> dict:
    import img2gif

    h, w = size
    folder = work / "clip"
    count = _pan_folder(size, seconds, folder)
    output = work / "clip60.mp4" if ffmpeg else f"{work / 'clip60'}/"
    started = time.perf_counter()
    result = img2gif.upconvert(str(folder), str(output), fps=60, source_fps=30, device=device)
    took = time.perf_counter() - started
    return {"size": f"{w}x{h}", "source_frames": count, "frames": result.frames_written, "output": Path(output).suffix or "folder",
            "fit_render_seconds": round(took, 2), "seconds_per_output_frame": round(took / max(1, result.frames_written), 4),
            "cuts": result.cuts, "crossfaded": result.blended}


def batch_step(size, seconds, batches, device, work: Path) -> dict:
    """The same clip up-converted with each gap batch (frames folders: the encoder not timed)."""
    import torch

    import img2gif

    folder = work / "batch-clip"
    count = _pan_folder(size, seconds, folder)
    timings = {}
    for batch in batches:
        started = time.perf_counter()
        result = img2gif.upconvert(str(folder), f"{work / f'batch{batch}'}/", fps=60, source_fps=30, device=device,
                                   gap_batch=batch)
        if device == "cuda":
            torch.cuda.synchronize()
        timings[str(batch)] = round(time.perf_counter() - started, 2)
    first, last = (timings[str(b)] for b in (batches[0], batches[-1]))
    return {"size": f"{size[1]}x{size[0]}", "source_frames": count, "frames": result.frames_written,
            "seconds_by_gap_batch": timings, "speedup": round(first / max(last, 1e-9), 2)}


def prior_step(budget_s, size, batch, device, work: Path) -> dict:
    checkpoint = work / "prior.pt"
    command = [sys.executable, "-m", "img2gif", "train", "--prior", "-o", str(checkpoint), "--size", str(size),
               "--batch-size", str(batch), "--steps", "100000", "--device", device, "--workers", "1" if device == "cpu" else "8",
               "--checkpoint-every", "10" if budget_s < 30 else "50"]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=budget_s)
        stopped_by_clock = False
    except subprocess.TimeoutExpired as stopped:
        done, stopped_by_clock = stopped, True
    log = (done.stderr or b"").decode() if isinstance(done.stderr, bytes) else (done.stderr or "")
    if not stopped_by_clock and done.returncode != 0:
        raise RuntimeError(f"img2gif train --prior exited {done.returncode}: {log[-500:]}")
    import torch

    step = torch.load(checkpoint, weights_only=True)["step"] if checkpoint.is_file() else 0
    return {"budget_s": budget_s, "size": size, "batch": batch, "checkpoint_step": step, "log_tail": log[-800:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a dry run of every step (CPU)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the JSON to write")
    parser.add_argument("--prior-seconds", type=float, default=None, help="the prior's wall-clock budget (default 150, quick 10)")
    args = parser.parse_args()

    import torch

    from bench._common import environment

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here (use --device cpu --quick for the dry run)")
    ffmpeg = _has_ffmpeg()
    results = {"environment": environment(), "device": args.device, "quick": args.quick, "ffmpeg": ffmpeg,
               "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None}
    work = Path(tempfile.mkdtemp(prefix="img2gif-device-check-"))
    try:
        _step(results, "pair", lambda: pair_step((135, 240) if args.quick else (1080, 1920), 4 if args.quick else 60,
                                                 args.device, work, ffmpeg))
        _step(results, "clip", lambda: clip_step((90, 160) if args.quick else (720, 1280), 0.5 if args.quick else 10,
                                                 args.device, work, ffmpeg))
        _step(results, "gap_batches", lambda: batch_step((90, 160) if args.quick else (720, 1280), 0.5 if args.quick else 3,
                                                         (1, 4) if args.quick else (1, 16), args.device, work))
        budget = args.prior_seconds or (6 if args.quick else 150)
        _step(results, "prior", lambda: prior_step(budget, 32 if args.quick else 128, 2 if args.quick else 64,
                                                   args.device, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.output}: " + ", ".join(f"{k} {'ok' if results[k]['ok'] else 'FAILED'}" for k in STEPS))
    sys.exit(0 if all(results[k]["ok"] for k in STEPS) else 1)


if __name__ == "__main__":
    main()
