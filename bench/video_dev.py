"""Frame-rate up-conversion on real video (issue 12): keyframe paths on vfi's video-dev set.

    python bench/video_dev.py               # 13 windows x G = 2, 4, 8 (~15 min on 2 CPU cores)
    python bench/video_dev.py --windows 3   # the first 3 windows only
    python bench/video_dev.py --fit 'warm_steps=[0,50,15]'   # a FitSettings field changed
    python bench/video_dev.py --video-only  # the video path alone (its cuts and crossfades), ~half the time
    python bench/video_dev.py --video-only --gap-batch 8          # gaps fitted 8 at a time
    python bench/video_dev.py --set video-hd --json video_hd      # the 1280x720 set (17 frames a window)
    python bench/video_dev.py --video-only --peers                # with crossfade and OpenCV DIS (pip install -e ".[bench]")
    python bench/video_dev.py --video-only --peers --gs 16        # G = 16 (33 frames: 0, 16 and 32 given)

For each window of real frames (33 in video-dev) and each G, the method gets frames 0, G, 2G, ...
and writes all of them: an open keyframe path through the given frames (default fit settings, evenly
spaced, which they are), rendered at t = k / (frames - 1) (every given frame is exact). Three predictions,
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
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, fit_overrides, fit_settings, markdown_table, write_json  # noqa: E402
from bench.peers import crossfade, dis_frames, pairwise, run_scorer, save_frames, scorer, shared_set  # noqa: E402

SCORER = scorer("video_score.py")


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
    parser.add_argument("--set", default="video-dev", help="a set under ../shared/data laid out as video-dev (video-hd: 17 frames at 1280x720)")
    parser.add_argument("--gap-batch", type=int, default=1, help="gaps fitted at once (animate --gap-batch)")
    parser.add_argument("--peers", action="store_true",
                        help="also the peers, pairwise: crossfade and OpenCV DIS medium (the bench extra: opencv)")
    parser.add_argument("--gs", default="2,4,8", help="the factors G, e.g. 16 (video-dev's 33 frames allow 16)")
    parser.add_argument("--json", default=None, help="where to write the results (default bench/out/video_dev.json)")
    args = parser.parse_args()
    gs = tuple(int(g) for g in args.gs.split(","))
    overrides = fit_overrides(args.fit)
    settings = fit_settings(overrides)
    settings.check()
    torch.manual_seed(0)
    set_dir = shared_set(args.set)
    windows = sorted(p for p in set_dir.iterdir() if p.is_dir())[: args.windows]
    seconds = []
    with tempfile.TemporaryDirectory(prefix="img2gif-video-") as tmp:
        names = (("video",) if args.video_only else ("pairwise", "neighbours", "video")) + (
            ("crossfade", "dis") if args.peers else ())
        preds = {name: Path(tmp) / name for name in names}
        for window in windows:
            frames = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(window.glob("frame_*.png"))]
            last = len(frames) - 1
            for G in gs:
                outputs, fitted, folds, softened = {}, float("nan"), 0, None
                if not args.video_only:
                    started = time.perf_counter()
                    path = fit_path(frames[::G], None, False, settings, device="cpu", gap_batch=args.gap_batch)
                    fitted = time.perf_counter() - started
                    folds, softened = path.folds(), path.softened  # the bent fields at quarter points of every gap, both ways
                    times = [k / last for k in range(last + 1)]
                    outputs["neighbours"] = list(path.frame_renderer()(times))
                    path.accelerations = [None] * len(path.accelerations)
                    outputs["pairwise"] = list(path.frame_renderer()(times))
                if args.peers:
                    outputs["crossfade"] = pairwise(frames, G, crossfade)
                    outputs["dis"] = pairwise(frames, G, dis_frames)
                given = Path(tmp) / "given" / f"{window.name}_g{G}"
                save_frames(given, frames[::G])
                source = open_source(given, source_fps=float((window / "fps.txt").read_text()) / G)
                fps, count = target_rate(source, None, G)
                report = Report()
                started = time.perf_counter()
                outputs["video"] = list(upconvert_frames(source, fps, count, settings, "cpu", report=report,
                                                         gap_batch=args.gap_batch))
                video_seconds = time.perf_counter() - started
                for name, out in outputs.items():
                    save_frames(preds[name] / f"{window.name}_g{G}", out)
                seconds.append({"window": window.name, "G": G, "fit_seconds": round(fitted, 2),
                                "softened": softened, "folded_pixels": folds,
                                "video_seconds": round(video_seconds, 2), "video_gaps": report.gaps,
                                "video_cuts": report.cuts, "video_crossfaded": report.blended})
                print(f"{window.name} G={G}: fits {fitted:.1f} s, accelerations halved {softened}, "
                      f"folded pixels {folds}; video path {video_seconds:.1f} s, {report.cuts} cuts, "
                      f"{report.blended} of {report.gaps} gaps crossfaded", flush=True)
        scores = {}
        score_set = set_dir
        if args.windows is not None:  # a subset: score the windows done through a set of links
            score_set = Path(tmp) / "subset"
            score_set.mkdir()
            for window in windows:
                (score_set / window.name).symlink_to(window)
        for name, folder in preds.items():
            scores[name] = run_scorer(SCORER, score_set, folder, "--G", ",".join(str(g) for g in gs), "--per-window")
    rows = []
    labels = {"pairwise": "img2gif, each gap alone (pairwise)", "neighbours": "img2gif, keyframe path, with neighbours",
              "video": "img2gif animate frames/ (the video path), with neighbours",
              "crossfade": "crossfade (pairwise)", "dis": "OpenCV DIS medium (pairwise, Super SloMo's linear blend)"}
    for name in names:
        s = scores[name]
        rows.append([labels[name],
                     f"{s['psnr']:.2f}"] + [f"{s['per_G'][str(g)]['psnr']:.2f}" for g in gs] + [f"{s['detail']:.3f}"])
    per = {g: np.median([r["fit_seconds"] for r in seconds if r["G"] == g]) for g in gs}
    print(markdown_table([f"method ({args.set})", "PSNR all", *(f"G={g}" for g in gs), "detail"], rows))
    print("median fit time per window: " + ", ".join(f"G={g}: {per[g]:.1f} s" for g in gs)
          + f"; folded pixels (with neighbours, all windows): {sum(r['folded_pixels'] for r in seconds)}"
          + f"; video path: median {np.median([r['video_seconds'] for r in seconds]):.1f} s per window and G, "
            f"{sum(r['video_cuts'] for r in seconds)} cuts, {sum(r['video_crossfaded'] for r in seconds)} of "
            f"{sum(r['video_gaps'] for r in seconds)} gaps crossfaded"
          + (f"; fit overrides: {overrides}" if overrides else "") + f"; gap batch {args.gap_batch}")
    write_json(args.json or "video_dev", {"environment": environment(), "set": args.set, "gap_batch": args.gap_batch,
                                          "fit_overrides": overrides, "scores": scores, "fits": seconds})


if __name__ == "__main__":
    main()
