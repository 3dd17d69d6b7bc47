"""Frame-rate up-conversion on real video (issue 12): keyframe paths on vfi's video-dev set.

    python bench/video_dev.py               # 13 windows x G = 2, 4, 8 (~15 min on 2 CPU cores)
    python bench/video_dev.py --windows 3   # the first 3 windows only
    python bench/video_dev.py --fit 'warm_steps=[0,50,15]'   # a FitSettings field changed
    python bench/video_dev.py --video-only  # the video path alone (its cuts and crossfades), ~half the time

For each window of 33 real frames and each G, the method gets frames 0, G, 2G, ..., 32 and
writes all 33: an open keyframe path through the given frames (default fit settings, evenly
spaced, which they are), rendered at t = k / 32 (every given frame is exact). Three predictions,
the first two from the same fits:

* pairwise: each gap's own warp alone (the path's fits: each gap's fit starts from the gap
  before's field instead of the global shift search of a fresh ``fit_pair``);
* with neighbours: the path as shipped, each gap bent by the accelerations of its keyframes
  (the first and last gaps have one neighbour: their outer end keeps the gap's own motion);
* video path: what ``img2gif animate frames/ --source-fps F/G --multiply G`` does with the given
  frames as a numbered frames folder (``img2gif.video.upconvert_frames``, its own fits): the
  same bend, plus scene-cut detection and the crossfade of a gap the warp leaves unexplained,
  each gap bent by its two neighbours only. The gaps crossfaded are counted.

All three are scored by ``../shared/tools/video_score.py`` (PSNR and SSIM of the frames not given,
and detail); the gap fits' time and the bent fields' folded pixels (``KeyframePath.folds``) are
reported per window and G. Results: bench/out/video_dev.json.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ROOT, environment, fit_overrides, fit_settings, markdown_table, write_json  # noqa: E402

SET = ROOT.parent / "shared" / "data" / "video-dev"
SCORER = ROOT.parent / "shared" / "tools" / "video_score.py"
GS = (2, 4, 8)


def save_frames(frames, folder: Path) -> None:
    """frames as folder/frame_000.png, frame_001.png, ... (the scorer's and a frames folder's layout)."""
    folder.mkdir(parents=True)
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame_{k:03d}.png", compress_level=1)


def main() -> None:
    import torch

    from img2gif.path import fit_path
    from img2gif.clip import open_source, target_rate
    from img2gif.video import Report, upconvert_frames

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=None, help="only the first N windows")
    parser.add_argument("--fit", action="append", default=[], metavar="KEY=JSON",
                        help="override a FitSettings field, e.g. --fit 'warm_steps=[0,50,15]' (default: what animate uses)")
    parser.add_argument("--video-only", action="store_true", help="only the video path (not the keyframe path's two predictions)")
    args = parser.parse_args()
    overrides = fit_overrides(args.fit)
    settings = fit_settings(overrides)
    settings.check()
    torch.manual_seed(0)
    windows = sorted(p for p in SET.iterdir() if p.is_dir())[: args.windows]
    seconds = []
    with tempfile.TemporaryDirectory(prefix="img2gif-video-") as tmp:
        names = ("video",) if args.video_only else ("pairwise", "neighbours", "video")
        preds = {name: Path(tmp) / name for name in names}
        for window in windows:
            frames = [np.asarray(Image.open(window / f"frame_{k:03d}.png").convert("RGB")) for k in range(33)]
            for G in GS:
                outputs, fitted, folds, softened = {}, float("nan"), 0, None
                if not args.video_only:
                    started = time.perf_counter()
                    path = fit_path(frames[::G], None, False, settings, device="cpu")
                    fitted = time.perf_counter() - started
                    folds, softened = path.folds(), path.softened  # the bent fields at quarter points of every gap, both ways
                    times = [k / 32 for k in range(33)]
                    outputs["neighbours"] = list(path.frame_renderer()(times))
                    path.accelerations = [None] * len(path.accelerations)
                    outputs["pairwise"] = list(path.frame_renderer()(times))
                given = Path(tmp) / "given" / f"{window.name}_g{G}"
                save_frames(frames[::G], given)
                source = open_source(given, source_fps=float((window / "fps.txt").read_text()) / G)
                fps, count = target_rate(source, None, G)
                report = Report()
                started = time.perf_counter()
                outputs["video"] = list(upconvert_frames(source, fps, count, settings, "cpu", report=report))
                video_seconds = time.perf_counter() - started
                for name, out in outputs.items():
                    save_frames(out, preds[name] / f"{window.name}_g{G}")
                seconds.append({"window": window.name, "G": G, "fit_seconds": round(fitted, 2),
                                "softened": softened, "folded_pixels": folds,
                                "video_seconds": round(video_seconds, 2), "video_gaps": report.gaps,
                                "video_cuts": report.cuts, "video_crossfaded": report.blended})
                print(f"{window.name} G={G}: fits {fitted:.1f} s, accelerations halved {softened}, "
                      f"folded pixels {folds}; video path {video_seconds:.1f} s, {report.cuts} cuts, "
                      f"{report.blended} of {report.gaps} gaps crossfaded", flush=True)
        scores = {}
        for name, folder in preds.items():
            gs = ",".join(str(g) for g in GS)
            done = subprocess.run([sys.executable, str(SCORER), "--set", str(SET), "--pred", str(folder), "--G", gs,
                                   "--per-window"],
                                  capture_output=True, text=True)
            if done.returncode != 0 and args.windows is None:
                raise SystemExit(done.stderr)
            if done.returncode != 0:  # a subset: score the windows done through a set of links
                subset = Path(tmp) / "subset"
                subset.mkdir(exist_ok=True)
                for window in windows:
                    link = subset / window.name
                    if not link.exists():
                        link.symlink_to(window)
                done = subprocess.run([sys.executable, str(SCORER), "--set", str(subset), "--pred", str(folder),
                                       "--G", gs, "--per-window"], capture_output=True, text=True, check=True)
            scores[name] = json.loads(done.stdout)
    rows = []
    labels = {"pairwise": "img2gif, each gap alone (pairwise)", "neighbours": "img2gif, keyframe path, with neighbours",
              "video": "img2gif animate frames/ (the video path), with neighbours"}
    for name in names:
        s = scores[name]
        rows.append([labels[name],
                     f"{s['psnr']:.2f}"] + [f"{s['per_G'][str(g)]['psnr']:.2f}" for g in GS] + [f"{s['detail']:.3f}"])
    per = {g: np.median([r["fit_seconds"] for r in seconds if r["G"] == g]) for g in GS}
    print(markdown_table(["method (video-dev)", "PSNR all", "G=2", "G=4", "G=8", "detail"], rows))
    print("median fit time per window: " + ", ".join(f"G={g}: {per[g]:.1f} s" for g in GS)
          + f"; folded pixels (with neighbours, all windows): {sum(r['folded_pixels'] for r in seconds)}"
          + f"; video path: median {np.median([r['video_seconds'] for r in seconds]):.1f} s per window and G, "
            f"{sum(r['video_cuts'] for r in seconds)} cuts, {sum(r['video_crossfaded'] for r in seconds)} of "
            f"{sum(r['video_gaps'] for r in seconds)} gaps crossfaded"
          + (f"; fit overrides: {overrides}" if overrides else ""))
    write_json("video_dev", {"environment": environment(), "fit_overrides": overrides, "scores": scores, "fits": seconds})


if __name__ == "__main__":
    main()
