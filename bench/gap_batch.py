"""Gap batches (``--gap-batch``): how much faster, and what it costs in quality.

    python bench/gap_batch.py                       # batches 1, 4, 8, 16; 2 repeats each
    python bench/gap_batch.py --batches 1 8 --repeats 3

Speed: ``img2gif.upconvert`` of the 10 s 256x144 clip of ``bench/video_scale.py`` (15 fps, a
pan with a moving texture, 149 gaps) to 30 fps, written as a frames folder; each run a fresh
process, 2 threads, the batch sizes alternating (1, 4, 8, 16, 1, 4 ...) so that drift in the
machine's speed falls on all of them. Reported: each run's seconds, the median, and 1's
median over each one's (the speed-up, measured in this run). Quality: bench/video_dev.py
``--video-only --gap-batch N`` (video-dev, every window and G) against its default run.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import OtherLoad, ROOT, environment, markdown_table, write_json  # noqa: E402
from bench.video_scale import make_clip  # noqa: E402

RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(2)
import img2gif
started = time.perf_counter()
img2gif.upconvert(sys.argv[2], sys.argv[3], fps=30, device="cpu", gap_batch=int(sys.argv[4]))
print(time.perf_counter() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    other = OtherLoad()
    seconds: dict[int, list[float]] = {b: [] for b in args.batches}
    with tempfile.TemporaryDirectory(prefix="img2gif-gap-batch-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_clip(clip, 10, 15.0, 256, 144)
        for repeat in range(args.repeats):
            for batch in args.batches:
                out = Path(tmp) / f"out_{batch}_{repeat}"
                done = subprocess.run([sys.executable, "-c", RUN, str(ROOT), str(clip), f"{out}/", str(batch)],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"gap batch {batch} failed: {done.stderr.strip()[-2000:]}")
                seconds[batch].append(float(done.stdout.strip().splitlines()[-1]))
                print(f"gap batch {batch}: {seconds[batch][-1]:.1f} s", flush=True)
    base = statistics.median(seconds[args.batches[0]])
    rows = [[str(b), ", ".join(f"{s:.1f}" for s in seconds[b]), f"{statistics.median(seconds[b]):.1f} s",
             f"{base / statistics.median(seconds[b]):.2f}x"] for b in args.batches]
    print(markdown_table(["--gap-batch", "runs (s)", "median", f"speed-up over {args.batches[0]}"], rows))
    print(other.note())
    write_json("gap_batch", {"environment": environment(), "seconds": seconds})


if __name__ == "__main__":
    main()
