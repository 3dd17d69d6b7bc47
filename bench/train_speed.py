"""Seconds per training step and peak memory, in one run, for the settings that matter.

    python bench/train_speed.py              # ~3 minutes on 2 CPU cores
    python bench/train_speed.py --steps 30

Each configuration trains in a fresh process (so peak RSS is its own) on 32x32 grayscale
images (random blobs: speed does not depend on content), batch 64, unpaired, and reports the
median wall time of a step after 3 warm-up steps. Rows:

* shipped: what trained the shipped digits model (unet width 16 depth 2, 5 critic updates,
  cycle term, step 0.25) with the ``compose`` solver (the default now) and with ``euler``;
* reference: the issue's reference settings of the original research code (euler step
  0.05, 10 critic updates, batch 64, 32x32), run by this code, like for like.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import OUT, OtherLoad, environment, markdown_table, median  # noqa: E402

CONFIGS = {
    "shipped digits settings, compose step 0.25": {"solver": "compose", "solver_config": {"step_size": 0.25}},
    "shipped digits settings, euler step 0.25": {"solver": "euler", "solver_config": {"step_size": 0.25}},
    "reference: euler step 0.05, 10 critic updates": {"solver": "euler", "solver_config": {"step_size": 0.05},
                                                      "critic_iters": 10},
}


def one(name: str, steps: int, threads: int) -> dict:
    import tempfile

    import torch

    from img2gif.training import TrainSettings, train_on_tensors as train

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")

    def blobs(n, shift):
        c = 10 + 12 * torch.rand(n, 2, generator=g)
        return torch.exp(-((xs - c[:, 0, None, None] - shift) ** 2 + (ys - c[:, 1, None, None]) ** 2) / 18).unsqueeze(1)

    settings = TrainSettings(paired=False, size=32, channels=1, steps=steps, batch_size=64, sample_every=0,
                             checkpoint_every=10**9, **CONFIGS[name])
    stamps = []
    with tempfile.TemporaryDirectory() as tmp:
        train(blobs(512, 0), blobs(512, 4), settings, Path(tmp) / "m.pt",
              progress=lambda step, total, losses: stamps.append(time.perf_counter()))
    per_step = [b - a for a, b in zip(stamps[3:], stamps[4:])]
    return {"s_per_step": median(per_step), "steps_timed": len(per_step),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.steps, args.threads)))
        return
    other = OtherLoad()
    rows, results = [], {}
    for name in CONFIGS:
        proc = subprocess.run([sys.executable, __file__, "--one", name, "--steps", str(args.steps), "--threads", str(args.threads)],
                              capture_output=True, text=True, check=True)
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    base = results["shipped digits settings, euler step 0.25"]["s_per_step"]
    for name, r in results.items():
        rows.append([name, f"{r['s_per_step']:.3f}", f"{r['s_per_step'] / base:.2f}x", f"{r['peak_rss_mb']:.0f} MiB"])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "train_speed.json").write_text(json.dumps({"results": results, "steps": args.steps, "threads": args.threads,
                                                      "other_load_cores": other.cores(), "environment": environment()}, indent=2))
    print(f"Training speed, batch 64, 32x32, {args.threads} threads, median of {args.steps - 4} steps after 3 warm-up steps.\n")
    print(markdown_table(["settings", "s/step (median)", "vs euler 0.25", "peak RSS"], rows))
    print("\n" + other.note())


if __name__ == "__main__":
    main()
