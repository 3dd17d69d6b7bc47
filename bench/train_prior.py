"""Train the pair motion prior (``pair-unet``) on generated layered scenes (issue 13).

    python bench/train_prior.py -o prior.pt                          # defaults: 128 px, 2000 steps, batch 8
    python bench/train_prior.py -o prior.pt --device cuda --batch-size 64 --steps 20000 --workers 12
    python bench/train_prior.py -o prior.pt --resume                 # continue where it stopped

Scenes come from scikit-image's sample photos (img2gif.scenes; `pip install -e ".[prior]"`),
never from the benchmark sets. Prints one line every --log-every steps (losses, s/step, time
left) and writes the checkpoint (kind img2gif.prior) every --checkpoint-every steps and at the
end; a killed run continues with --resume.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from img2gif.errors import Img2GifError  # noqa: E402
from img2gif.pair import resolve_device  # noqa: E402
from img2gif.prior import PriorSettings, train_prior  # noqa: E402


def main(argv=None) -> None:
    d = PriorSettings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--size", type=int, default=d.size)
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.learning_rate)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--depth", type=int, default=d.depth)
    p.add_argument("--field-weight", type=float, default=d.field_weight)
    p.add_argument("--workers", type=int, default=d.workers, help="processes generating scenes")
    p.add_argument("--scene-pool", type=int, default=0, help="cycle through this many scenes (0: all new)")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--resume", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = PriorSettings(size=args.size, steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                             width=args.width, depth=args.depth, field_weight=args.field_weight, workers=args.workers,
                             scene_pool=args.scene_pool, checkpoint_every=args.checkpoint_every, seed=args.seed)
    started = time.perf_counter()
    first = [None]

    def progress(step, total, losses):
        if first[0] is None:
            first[0] = (step, time.perf_counter())
        if step % args.log_every and step != total:
            return
        done, t0 = step - first[0][0], first[0][1]
        per_step = (time.perf_counter() - t0) / done if done else float("nan")
        left = per_step * (total - step)
        print(f"step {step}/{total}  total {losses['total']:.4f}  frames {losses['frames']:.4f}  "
              f"epe {losses['epe_px']:.2f} px  folds {losses['folds']:.2e}  {per_step:.3f} s/step  "
              f"left {left / 60:.1f} min", flush=True)

    try:
        device = resolve_device(args.device)
        train_prior(settings, args.output, device=device, resume=args.resume, progress=progress)
    except Img2GifError as exc:
        raise SystemExit(f"error: {exc}")
    print(f"saved {args.output} after {(time.perf_counter() - started) / 60:.1f} min on {device}")


if __name__ == "__main__":
    main()
