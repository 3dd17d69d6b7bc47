"""Two checkouts timed on the same work, alternating: did a change make img2gif slower?

    python bench/ab_speed.py --old /tmp/old                  # this checkout is the new one
    python bench/ab_speed.py --old A --new B --repeats 3

The work: the video path's default, ``img2gif.upconvert`` of a 10 s 256x144 clip at 15 fps to
30 fps (the clip of ``bench/video_scale.py``, made here), and ``img2gif.animate`` of a generated
pair to a 60-frame GIF. Each run is a fresh process with the checkout first on ``sys.path``, 2
threads; the checkouts alternate (old, new, old, new ...) so that drift in the machine's speed
falls on both. Reported: each run's seconds, the medians and new/old.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.video_scale import make_clip  # noqa: E402

RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
torch.set_num_threads(2)
import img2gif
from PIL import Image
work = sys.argv[2]
if sys.argv[3] == "video":
    started = time.perf_counter()
    img2gif.upconvert(work + "/clip.mp4", work + "/out.mp4", fps=30, device="cpu")
else:
    started = time.perf_counter()
    img2gif.animate(work + "/a.png", work + "/b.png", work + "/out.gif", frames=60, fps=30, device="cpu")
print(time.perf_counter() - started)
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        make_clip(Path(work) / "clip.mp4", 10.0, 15.0, 256, 144)
        import numpy as np
        from PIL import Image

        rng = np.random.default_rng(0)
        base = (rng.random((18, 32, 3)) * 255).astype(np.uint8)
        big = np.asarray(Image.fromarray(base).resize((256, 144), Image.BICUBIC))
        Image.fromarray(big).save(Path(work) / "a.png")
        Image.fromarray(np.roll(big, (4, 9), (0, 1))).save(Path(work) / "b.png")
        env = dict(os.environ, OMP_NUM_THREADS="2")
        times = {(k, c): [] for k in ("video", "pair") for c in ("old", "new")}
        for _ in range(args.repeats):
            for kind in ("video", "pair"):
                for name, src in (("old", args.old), ("new", args.new)):
                    done = subprocess.run([sys.executable, "-c", RUN, str(src.resolve()), work, kind], env=env,
                                          capture_output=True, text=True, check=True)
                    times[(kind, name)].append(float(done.stdout.strip().splitlines()[-1]))
                    print(kind, name, f"{times[(kind, name)][-1]:.2f} s", flush=True)
    print(f"\n| work | old ({args.old}) | new ({args.new}) | new / old |\n|---|---|---|---|")
    for kind, label in (("video", "upconvert 10 s 256x144 15 -> 30 fps"), ("pair", "animate 256x144 pair, 60-frame GIF")):
        old, new = statistics.median(times[(kind, "old")]), statistics.median(times[(kind, "new")])
        print(f"| {label} | {old:.2f} s ({', '.join(f'{t:.2f}' for t in times[(kind, 'old')])}) | "
              f"{new:.2f} s ({', '.join(f'{t:.2f}' for t in times[(kind, 'new')])}) | {new / old:.2f} |")


if __name__ == "__main__":
    main()
