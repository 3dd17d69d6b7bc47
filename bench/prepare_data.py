"""Lay out the shared training sets as img2gif expects (start/ and end/), minus a held-out slice.

    python bench/prepare_data.py digits OUT_DIR   # ../shared/data/rotating-mnist: 3 -> 4
    python bench/prepare_data.py smiles OUT_DIR   # ../shared/data/smiles: neutral -> smiling

The last HOLD_OUT images of each domain (by index / sorted file name) are kept out of
OUT_DIR/start and OUT_DIR/end and written to OUT_DIR/heldout/{start,end} for evaluation.
digits_3_4.npz repeats images (638 distinct of 1000 per digit), so digits are de-duplicated
first: otherwise most held-out images would also be training images.
Smiles are linked, not copied. The data stays outside the repository.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
HOLD_OUT = {"digits": 100, "smiles": 300}


def _place(items, out: Path, hold: int, write) -> None:
    for sub in ("start", "end"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        (out / "heldout" / sub).mkdir(parents=True, exist_ok=True)
    for sub, seq in zip(("start", "end"), items):
        for i, item in enumerate(seq):
            folder = out / sub if i < len(seq) - hold else out / "heldout" / sub
            write(item, folder, i)


def _distinct(images: np.ndarray) -> list[np.ndarray]:
    """Images in their first-seen order, each exact repeat dropped."""
    seen, kept = set(), []
    for img in images:
        key = img.tobytes()
        if key not in seen:
            seen.add(key)
            kept.append(img)
    return kept


def digits(out: Path) -> None:
    data = np.load(SHARED / "rotating-mnist" / "digits_3_4.npz")
    distinct = [_distinct(data[name]) for name in ("three", "four")]

    def write(img, folder, i):
        Image.fromarray(img).save(folder / f"{i:05d}.png")

    _place(distinct, out, HOLD_OUT["digits"], write)


def smiles(out: Path) -> None:
    src = SHARED / "smiles"
    seqs = [sorted((src / d).glob("*.jpg"), key=lambda p: p.name) for d in ("neutral", "smiling")]

    def write(path, folder, i):
        link = folder / path.name
        if not link.exists():
            os.symlink(path.resolve(), link)

    _place(seqs, out, HOLD_OUT["smiles"], write)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["digits", "smiles"])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    {"digits": digits, "smiles": smiles}[args.dataset](args.out)
    for sub in ("start", "end", "heldout/start", "heldout/end"):
        print(f"{args.out / sub}: {len(os.listdir(args.out / sub))} images", file=sys.stderr)


if __name__ == "__main__":
    main()
