"""Whether two checkouts fit the same pairs bit for bit: a hash of every fitted state.

    python bench/fit_identity.py                  # this checkout
    python bench/fit_identity.py --src /tmp/old   # another checkout (a git worktree)

For a refactor that must not change behaviour (issue 31: estimators as plugins, one request,
writers by capability): five fits of a generated pair (a smoothed noise texture moved by
(7, 3) px, one with a burned-in white bar) under settings that take each path of the fit's
start (the default shift search then block matching, three shift hypotheses without matching,
no search, still overlays, the unet velocity), and the MD5 of each fitted velocity's state
and the mean of its middle frame; then the written frames of the whole pipeline: a pair
animated to a frames folder, a keyframe path of three images, and a frames folder of six frames
up-converted x2 (``img2gif.animate`` and ``img2gif.upconvert``), each as the MD5 of all its
pixels. Same lines from two checkouts: the same fits and the same files. One thread.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the checkout whose img2gif is imported (default: this one)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.src.resolve()))
    import torch

    torch.set_num_threads(1)
    fit = importlib.import_module("img2gif.fit")
    pair_module = importlib.import_module("img2gif.pair")
    print(f"img2gif from {Path(pair_module.__file__).resolve().parent}")
    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.random((1, 3, 80, 100))).float()
    base = (torch.nn.functional.avg_pool2d(noise, 5, 1, 2)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    a, b = base, np.roll(base, (3, 7), (0, 1))
    a_bar, b_bar = a.copy(), b.copy()
    a_bar[5:15, 5:40] = 255
    b_bar[5:15, 5:40] = 255
    settings = fit.FitSettings(working_size=64, steps=(10, 6, 4))
    cases = [("default", settings, a, b),
             ("no matching, 3 hypotheses", dataclasses.replace(settings, match=False, hypotheses=3), a, b),
             ("no search", dataclasses.replace(settings, search=False), a, b),
             ("still overlays", dataclasses.replace(settings, keep_still="auto"), a_bar, b_bar),
             ("unet, euler", dataclasses.replace(settings, velocity="unet", solver="euler", steps=(3, 2, 1)), a, b)]
    for name, case, x, y in cases:
        pair = pair_module.fit_pair(x, y, case)
        state = b"".join(v.detach().cpu().numpy().tobytes() for v in pair.ode.velocity.state_dict().values())
        middle = float(np.asarray(pair.frames([0.5])[0], dtype=np.float64).mean())
        print(f"{name:28s} {hashlib.md5(state).hexdigest()}  middle frame mean {middle:.6f}")
    api = importlib.import_module("img2gif")
    from PIL import Image

    def pixels(folder: Path) -> str:
        digest = hashlib.md5()
        for frame in sorted(folder.glob("frame_*.png")):
            digest.update(np.asarray(Image.open(frame)).tobytes())
        return f"{digest.hexdigest()}  ({len(list(folder.glob('frame_*.png')))} frames)"

    quick = fit.FitSettings(working_size=64, steps=(10, 6, 4))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip"
        clip.mkdir()
        for k in range(6):
            Image.fromarray(np.roll(base, (k, 2 * k), (0, 1))).save(clip / f"frame_{k:03d}.png")
        keys = []
        for k, shift in enumerate([(0, 0), (2, 4), (3, 7), (5, 12)]):
            keys.append(tmp / f"key{k}.png")
            Image.fromarray(np.roll(base, shift, (0, 1))).save(keys[-1])
        api.animate(keys[0], keys[2], f"{tmp / 'pair'}/", frames=5, settings=quick)
        api.animate(keys, output=f"{tmp / 'path'}/", frames=7, settings=quick)
        api.upconvert(clip, f"{tmp / 'video'}/", multiply=2, source_fps=10, settings=quick)
        for name in ("pair", "path", "video"):
            print(f"{'written: ' + name:28s} {pixels(tmp / name)}")


if __name__ == "__main__":
    main()
