"""When a video gap is crossfaded instead of warped: the residual rule on generated clips.

    python bench/video_fallback.py            # ~2 min on 2 CPU cores

A gap of a video is crossfaded when its fitted warp leaves most of the frames' difference and
what it leaves is plainly visible (``img2gif.gaps.warp_explains``, ``Pair.residual``). This
measures, per kind of gap, the share of the difference the fit leaves and how much is left
(mean absolute difference in levels, 0-255, at the working size), and how often the rule fires
and the cut detector does:

- motion: 17-frame clips of ``img2gif.scenes`` (photo background and moving cut-outs, noise,
  brightness change), gaps of 2 and 4 frames: the warp should stay; once as a fresh fit, once
  as a video fits a later gap (``warm_steps``, from the gap before's field);
- flicker: the same frames with 12 % and 30 % more light on the second frame, mostly moving: the
  warp should stay (what moves is still moved);
- dissolve: still photos, the second with 15-60 % of another photo mixed in: no warp explains
  it; the rule should fire (or the cut detector);
- grain: a flat frame turning to faint grain (3.5 levels): too faint to matter either way.

These are the clips the thresholds were chosen on (not the video-dev windows, which are for
measuring). Needs the ``[prior]`` extra (scikit-image's sample photos). Results:
bench/out/video_fallback.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, markdown_table, write_json  # noqa: E402

SIZE = (144, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    args = parser.parse_args()

    import torch
    from PIL import Image

    from img2gif.fit import FitSettings
    from img2gif.pair import fit_pair
    from img2gif.scenes import SceneGenerator, SceneSettings, package_photos
    from img2gif.gaps import UNEXPLAINED_LEVELS, UNEXPLAINED_SHARE, is_cut, warp_explains

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    as_uint8 = lambda x: np.clip(np.round(x), 0, 255).astype(np.uint8)  # noqa: E731
    noisy = lambda x: as_uint8(x + rng.normal(0, 2, x.shape))  # noqa: E731
    generator = SceneGenerator(SceneSettings(size=SIZE))
    clips = []
    for k in range(args.scenes):  # seeds apart from the prior's training stream
        scene = generator.scene(1000 + k, times=[i / 16 for i in range(17)])
        clips.append([as_uint8(f.permute(1, 2, 0).clamp(0, 1).numpy() * 255) for f in scene.frames])
    photos = [np.asarray(Image.open(p).convert("RGB").resize(SIZE[::-1], Image.Resampling.BILINEAR), float)
              for p in package_photos()[:6]]
    assert len(photos) == 6, "the dissolves need 6 of scikit-image's sample photos"
    flat = np.full((*SIZE, 3), 128, np.uint8)
    kinds = {
        "motion, 2-frame gaps": [(c[i], c[i + 2]) for c in clips for i in (0, 8)],
        "motion, 4-frame gaps": [(c[i], c[i + 4]) for c in clips for i in (0, 8)],
        "flicker (+12 %, +30 % light)": [(c[0], as_uint8(c[1] * g)) for c in clips for g in (1.12, 1.3)],
        "dissolve of still photos (15-60 %)": [(noisy(p * (1 - s) + q * s), noisy(p * (1 - s - d) + q * (s + d)))
                                               for p, q in zip(photos[:3], photos[3:])
                                               for s, d in ((0.2, 0.15), (0.5, 0.15), (0.0, 0.3), (0.0, 0.6))],
        "flat to faint grain": [(flat, (128 + rng.integers(0, 8, (*SIZE, 1))).repeat(3, 2).astype(np.uint8))],
    }
    # as in a video: a gap after the first starts from the gap before's field, with warm_steps
    kinds["motion, 2-frame gaps, warm-started"] = [(c[i], c[i + 2], (c[i - 2], c[i])) for c in clips for i in (2, 10)]
    kinds["motion, 4-frame gaps, warm-started"] = [(c[i], c[i + 4], (c[i - 4], c[i])) for c in clips for i in (4, 12)]
    rows, records = [], {}
    for kind, pairs in kinds.items():
        cases = []
        for a, b, *before in pairs:
            cut = bool(is_cut(a, b))
            if before:
                start = fit_pair(*before[0], FitSettings(), device="cpu").fields([1.0])[0]
                pair = fit_pair(a, b, FitSettings().warm(), device="cpu", initial_field=start)
            else:
                pair = fit_pair(a, b, FitSettings(), device="cpu")
            left, unwarped = pair.residual()
            cases.append({"cut": cut, "left": left, "unwarped": unwarped, "share": left / unwarped,
                          "crossfaded": not cut and not warp_explains(pair)})
            print(kind, {k: round(v, 3) if isinstance(v, float) else v for k, v in cases[-1].items()}, flush=True)
        records[kind] = cases
        shares, lefts = [c["share"] for c in cases], [c["left"] for c in cases]
        rows.append([kind, str(len(cases)), f"{min(shares):.2f}-{max(shares):.2f}", f"{min(lefts):.1f}-{max(lefts):.1f}",
                     str(sum(c["cut"] for c in cases)), str(sum(c["crossfaded"] for c in cases))])
    print(f"rule: crossfade when left >= {UNEXPLAINED_LEVELS} levels and left >= {UNEXPLAINED_SHARE} x unwarped")
    print(markdown_table(["gaps", "n", "share left", "left (levels)", "cuts found", "crossfaded"], rows))
    write_json("video_fallback", {"environment": environment(), "size": list(SIZE), "share": UNEXPLAINED_SHARE,
                                  "levels": UNEXPLAINED_LEVELS, "kinds": records})


if __name__ == "__main__":
    main()
