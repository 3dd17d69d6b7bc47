"""Write the `smile` model's still mask: where a 64x64 face crop should not move.

    python bench/smile_mask.py MASK.png

Black (free to move) is an ellipse around the mouth of a centred frontal crop (centre at
80 % of the height, half the width; semi-axes 22 % of the width and 14 % of the height),
fading to white (keep still) over 10 % of the size beyond it. `MOUTH_BOX` is the region
`bench/models_eval.py` measures the warp's displacement in, and holds the ellipse.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 64
MOUTH_BOX = (0.625, 0.9375, 0.25, 0.75)  # top, bottom, left, right as fractions of the crop


def still_mask(size: int = SIZE) -> np.ndarray:
    """(size, size) float in [0, 1]: 0 on the mouth, 1 away from it, a smooth ramp between."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    y, x = rows / size, cols / size
    r = np.sqrt(((x - 0.5) / 0.22) ** 2 + ((y - 0.80) / 0.14) ** 2)  # 1 on the ellipse
    ramp = np.clip((r - 1.0) * 0.14 / 0.10, 0.0, 1.0)  # ~10 % of the size from 0 to 1
    return 0.5 - 0.5 * np.cos(np.pi * ramp)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    Image.fromarray(np.round(still_mask() * 255).astype(np.uint8)).save(out)
    print(f"{out}: {SIZE}x{SIZE}, {float((still_mask() < 0.5).mean()) * 100:.1f} % of the crop free to move")


if __name__ == "__main__":
    main()
