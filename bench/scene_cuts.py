"""Scene cuts on generated footage: what is a cut, what is only fast (issue 27, deliverable 4).

    python bench/scene_cuts.py [--seeds 3] [--first-seed 100]     # ~3 min on one CPU thread
    python bench/scene_cuts.py --part pairs [--seeds 8] [--first-seed 0]   # what the thresholds were chosen on

``--part pairs`` fits single 144x256 pairs of each kind (seeds 0-7) and prints what each fit
leaves (levels), its share of the difference and the correlation of A and B carried to the
middle of the gap (``Pair.agreement``): the figures ``img2gif.video``'s cut thresholds were
chosen on.

Clips of ``img2gif.scenes`` (the package's photos moved with known motion), 144x256, through
``img2gif.animate`` on a folder of frames at 10 fps, ``--multiply 2``, as a user runs it:

- spliced: two 8-frame shots of different scenes (one cut);
- spliced, same colours: a pan over one texture, then a pan over the same texture turned round
  (one cut the raw test misses: the colours are the same);
- fast pan (a pan, turn and zoom of the background: up to 0.8 of the frame over 6 frames, a
  sixth of the frame a gap), zoom (to 2x), close object (a cut-out moving up to 0.8 of the
  frame and growing up to 2x): no cut;
- flash: one frame 70 % brighter; dissolve: one shot fading into another over the whole clip:
  no cut (what each gets instead is counted).

"Raw test" counts the gaps the old rule called cuts (``gaps.is_cut`` on the frames alone: mean
difference or colour histograms); "cuts" is what the video path reports now, "crossfaded" the
gaps it crossfades. Seeds from 100: the thresholds were chosen on seeds 0-7 (pairs, not clips).
Results: bench/out/scene_cuts.json.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, markdown_table, write_json  # noqa: E402

SIZE = (144, 256)
FRAMES = 8   # per shot of a splice
FAST = 6     # frames of a fast clip: each gap moves a fifth of the whole motion


def pairs(seeds) -> None:
    """One pair per kind and seed: what the fit leaves, its share, and the agreement."""
    import torch

    from img2gif.fit import FitSettings
    from img2gif.pair import fit_pair
    from img2gif.scenes import SceneGenerator, SceneSettings

    as_uint8 = lambda x: (x.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()  # noqa: E731
    generator = SceneGenerator(SceneSettings(size=SIZE))
    moving = {"motion": generator,
              "fast pan": SceneGenerator(SceneSettings(size=SIZE, background_shift=0.35, layers=(0, 0))),
              "zoom": SceneGenerator(SceneSettings(size=SIZE, background_shift=0.05, max_zoom=1.8, layers=(0, 0))),
              "close object": SceneGenerator(SceneSettings(size=SIZE, layers=(1, 1), max_shift=0.6, max_zoom=1.5))}
    records = {}
    for seed in seeds:
        scene, other = generator.scene(seed), generator.scene(seed + 50)
        cases = {name: (g.scene(seed).a, g.scene(seed).b) for name, g in moving.items()}
        cases["splice"] = (scene.a, other.b)
        cases["dissolve 30 %"] = (scene.a, 0.7 * scene.a + 0.3 * other.a)
        cases["flash (x1.6)"] = (scene.a, (scene.a * 1.6).clamp(0, 1))
        for name, (a, b) in cases.items():
            pair = fit_pair(as_uint8(a), as_uint8(b), FitSettings(), device="cpu")
            left, unwarped = pair.residual()
            row = {"seed": seed, "left": left, "share": left / max(unwarped, 1e-9), "agreement": pair.agreement()}
            records.setdefault(name, []).append(row)
            print(f"{seed} {name:14s} left {left:6.2f} share {row['share']:.2f} agreement {row['agreement']:.3f}", flush=True)
    rows = [[name, str(len(r)), f"{min(x['left'] for x in r):.1f}-{max(x['left'] for x in r):.1f}",
             f"{min(x['agreement'] for x in r):.2f}-{max(x['agreement'] for x in r):.2f}"] for name, r in records.items()]
    print(markdown_table(["pairs", "n", "left (levels)", "agreement"], rows))
    write_json("scene_cuts_pairs", {"environment": environment(), "size": list(SIZE), "kinds": records})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["clips", "pairs"], default="clips")
    parser.add_argument("--seeds", type=int, default=None, help="default: 3 clips per kind, 8 pairs per kind")
    parser.add_argument("--first-seed", type=int, default=None, help="default: 100 for clips, 0 for pairs")
    args = parser.parse_args()
    if args.part == "pairs":
        first = 0 if args.first_seed is None else args.first_seed
        pairs(range(first, first + (args.seeds or 8)))
        return
    args.seeds = args.seeds or 3
    args.first_seed = 100 if args.first_seed is None else args.first_seed

    import torch
    from PIL import Image

    import img2gif
    from img2gif.scenes import SceneGenerator, SceneSettings, package_photos
    from img2gif.gaps import is_cut

    def shot(seed, frames=FRAMES, photos=None, **settings):
        generator = SceneGenerator(SceneSettings(size=SIZE, **settings), photos=photos)
        scene = generator.scene(seed, [k / (frames - 1) for k in range(frames)])
        return [(f.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy() for f in scene.frames]

    gravel = next(p for p in package_photos() if p.stem == "gravel")
    pan = dict(layers=(0, 0), background_shift=0.15, photos=[gravel, gravel])

    def flash(seed):
        frames = shot(seed, 2 * FRAMES, layers=(0, 0), background_shift=0.05)
        frames[FRAMES] = np.clip(frames[FRAMES].astype(float) * 1.7, 0, 255).astype(np.uint8)
        return frames

    def dissolve(seed):
        first, second = (shot(s, 2 * FRAMES, layers=(0, 0), background_shift=0.02) for s in (seed, seed + 500))
        weights = np.linspace(0, 1, 2 * FRAMES)
        return [np.round((1 - w) * a.astype(float) + w * b).astype(np.uint8) for w, a, b in zip(weights, first, second)]

    kinds = {  # name: (clip for a seed, true cuts)
        "spliced": (lambda s: shot(s) + shot(s + 500), 1),
        "spliced, same colours": (lambda s: shot(s, **pan) + [f[::-1, ::-1].copy() for f in shot(s + 500, **pan)], 1),
        "fast pan": (lambda s: shot(s, FAST, layers=(0, 0), background_shift=0.8), 0),
        "zoom": (lambda s: shot(s, FAST, layers=(0, 0), background_shift=0.05, max_zoom=2.0), 0),
        "close object": (lambda s: shot(s, FAST, layers=(1, 1), max_shift=0.8, max_zoom=2.0), 0),
        "flash": (flash, 0),
        "dissolve": (dissolve, 0),
    }
    records, rows = {}, []
    started = time.time()
    for name, (make, truth) in kinds.items():
        cases = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            frames = make(seed)
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "clip"
                folder.mkdir()
                for k, frame in enumerate(frames):
                    Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")
                result = img2gif.upconvert(folder, f"{tmp}/out/", multiply=2, source_fps=10, device="cpu")
            raw = sum(bool(is_cut(a, b)) for a, b in zip(frames, frames[1:]))
            cases.append({"seed": seed, "gaps": len(frames) - 1, "raw_cuts": raw, "cuts": result.cuts,
                          "crossfaded": result.blended})
            print(name, cases[-1], flush=True)
        records[name] = {"true_cuts": truth, "clips": cases}
        rows.append([name, str(len(cases)), str(truth * len(cases)), str(sum(c["raw_cuts"] for c in cases)),
                     str(sum(c["cuts"] for c in cases)), str(sum(c["crossfaded"] for c in cases)),
                     str(sum(c["gaps"] for c in cases))])
    print(f"\n{args.seeds} clips per kind (seeds {args.first_seed}+), {SIZE[1]}x{SIZE[0]}, {time.time() - started:.0f} s")
    print(markdown_table(["clips", "n", "true cuts", "raw test (old rule)", "cuts (now)", "crossfaded (now)", "gaps"], rows))
    write_json("scene_cuts", {"environment": environment(), "size": list(SIZE), "kinds": records})


if __name__ == "__main__":
    main()
