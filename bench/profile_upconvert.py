"""Where an up-conversion's time goes: cProfile of ``upconvert_frames`` on a drawn clip.

    python bench/profile_upconvert.py                      # 854x480, the default warm_steps (~15 s)
    python bench/profile_upconvert.py --size 256x144 --warm-steps 80,50,30

The clip is bench/video_scale.py's (2 s at 15 fps, taken to 30 fps). Reports the seconds spent
in the gap fits, in the check that a fit explains its gap (``Pair.residual``, at the working
size), in rendering the output frames (with the neighbours' bend), and in all, under the profiler (which
adds its own overhead). Frames are produced and dropped: no encoding.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.video_scale import make_clip  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="854x480")
    parser.add_argument("--warm-steps", default=None, help="C,M,F (default: FitSettings().warm_steps)")
    args = parser.parse_args()

    import torch

    from img2gif.fit import FitSettings
    from img2gif.clip import open_source, target_rate
    from img2gif.video import upconvert_frames

    torch.set_num_threads(2)
    w, h = (int(v) for v in args.size.split("x"))
    settings = FitSettings() if args.warm_steps is None else FitSettings(
        warm_steps=tuple(int(v) for v in args.warm_steps.split(",")))
    with tempfile.TemporaryDirectory(prefix="img2gif-prof-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_clip(clip, 2.0, 15.0, w, h)
        source = open_source(clip)
        fps, count = target_rate(source, 30, None)
        profile = cProfile.Profile()
        profile.enable()
        frames = sum(1 for _ in upconvert_frames(source, fps, count, settings, "cpu"))
        profile.disable()
    stats = pstats.Stats(profile).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}

    def seconds(file_end: str, name: str) -> float:
        return sum(v[3] for (file, _, func), v in stats.items() if file.endswith(file_end) and func == name)

    total = seconds("img2gif/video.py", "upconvert_frames")
    parts = {"gap fits (fit_pair)": seconds("img2gif/pair.py", "fit_pair"),
             "fit explains its gap (Pair.residual, working size)": seconds("img2gif/pair.py", "residual"),
             "output frames (render, with the bend)": seconds("img2gif/video.py", "render")}
    print(f"{args.size}, warm_steps {list(settings.warm_steps)}: {frames} frames, {total:.1f} s under the profiler")
    for name, value in parts.items():
        print(f"  {name}: {value:.1f} s ({100 * value / total:.0f} %)")


if __name__ == "__main__":
    main()
