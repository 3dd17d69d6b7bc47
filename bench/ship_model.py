"""Copy a trained checkpoint into the package as a shipped model and register it.

    python bench/ship_model.py NAME RUN.pt --description TEXT --license TEXT --command "img2gif train ..."

Writes img2gif/pretrained/NAME.pt (the model without its training state: optimisers and
critic are dropped) and its entry in img2gif/pretrained/registry.json (file, size, sha256,
licence, training command). The model card (NAME.md beside it) is written by hand.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from img2gif import checkpoint  # noqa: E402
from img2gif.models import sha256_of  # noqa: E402
from img2gif.training import shipped_copy  # noqa: E402

PRETRAINED = ROOT / "img2gif" / "pretrained"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("run", type=Path)
    parser.add_argument("--description", required=True)
    parser.add_argument("--license", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--solver", help="the solver the shipped model integrates with (default: the one it was trained with)")
    parser.add_argument("--step-size", type=float, default=0.25)
    parser.add_argument("--version", type=int, default=1,
                        help="the model's version: raise it when a name is shipped again (caches see a new hash and refetch)")
    args = parser.parse_args()
    record = checkpoint.load(args.run, "img2gif.model")
    payload = {k: v for k, v in shipped_copy(record).items() if k not in ("format", "format_version", "img2gif_version", "digest")}
    if args.solver:  # the velocity is what was learned; how to integrate it is the solver's business
        payload["solver"] = {"name": args.solver, "config": {"step_size": args.step_size}}
    target = PRETRAINED / f"{args.name}.pt"
    checkpoint.save(target, payload, "img2gif.model")
    registry_path = PRETRAINED / "registry.json"
    registry = json.loads(registry_path.read_text()) if registry_path.exists() else {}
    registry[args.name] = {
        "description": args.description,
        "file": target.name,
        "size": target.stat().st_size,
        "sha256": sha256_of(target),
        "license": args.license,
        "training_command": args.command,
        "source": "package",
        "card": f"{args.name}.md",
        "input": f"{record['image_size']}x{record['image_size']}, {record['channels']} channel(s)",
        "steps": record["step"],
        "version": args.version,
    }
    registry_path.write_text(json.dumps(registry, indent=2, sort_keys=True) + "\n")
    print(f"{target}: {target.stat().st_size / 1e6:.2f} MB, sha256 {registry[args.name]['sha256'][:16]}…")


if __name__ == "__main__":
    main()
