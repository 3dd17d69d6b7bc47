"""The mean of several checkpoints' velocity weights (stochastic weight averaging), as one model.

    python bench/average_checkpoints.py A.pt D-600.pt D-700.pt D-800.pt D-900.pt D-1000.pt

Why: an unpaired (WGAN) run's generator moves around a good region from checkpoint to
checkpoint; the mean of a few late ones is often better and steadier than any one of them
(Izmailov et al., Averaging Weights Leads to Wider Optima, 2018). Floating-point weights and
buffers are averaged; the rest (integer buffers, the warp's record, the image size) and the step
are the last checkpoint's; ``train["averaged"]`` names the files averaged. The training state
(optimisers, critic) is left out: the result is for evaluating and shipping, not for resuming.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from img2gif import checkpoint  # noqa: E402

KIND = "img2gif.model"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    args = parser.parse_args(argv)
    records = [checkpoint.load(path, KIND) for path in args.checkpoints]
    last = records[-1]
    for path, record in zip(args.checkpoints, records):
        if record["velocity"] != last["velocity"] or set(record["state_dict"]) != set(last["state_dict"]):
            raise SystemExit(f"error: {path}: not the same velocity as {args.checkpoints[-1]}")
    payload = {k: v for k, v in last.items()
               if k not in ("format", "format_version", "img2gif_version", "digest", "training_state")}
    payload["state_dict"] = {
        name: (sum(r["state_dict"][name].float() for r in records) / len(records)).to(value.dtype)
        if value.is_floating_point() else value
        for name, value in last["state_dict"].items()}
    payload["train"] = {**last["train"], "averaged": [path.name for path in args.checkpoints]}
    checkpoint.save(args.output, payload, KIND)
    print(f"{args.output}: the mean of {len(records)} checkpoints (step {last['step']})")


if __name__ == "__main__":
    main()
