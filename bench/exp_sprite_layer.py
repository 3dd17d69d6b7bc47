"""Experiment, not shipped (issue 27, deliverables 2 and 3): a small fast object as a sprite layer
over the fitted warp, measured on bench/ghosts.py's scenes.

    python bench/exp_sprite_layer.py      # 8 scenes at 256x144 and 8 at 640x360, ~5 min on 2 CPU cores

The warp cannot carry a small square 2.4x its side without folding, so it leaves two faint
copies (bench/ghosts.py). Here, after the usual ``fit_pair``:

1. A's pixels that B carried back does not explain (mean absolute difference over 5x5 above
   ``tau``) are the candidates;
2. one displacement v for them is searched exhaustively (whole pixels, up to ``reach`` of the
   frame), keeping the v under which most of them match B (the inliers);
3. the sprite is the inliers under v, closed; the middle frame is the blend with each side's
   sprite place taken from the other side, and A's sprite pasted moved by t v.

Nothing here is tuned per scene; nothing of it runs in img2gif. What it lacks before it could:
a coarse-to-fine search (the exhaustive one takes seconds at 640x360), a test that it finds no
sprite on real clips (video-dev, video-hd, vfi-dev must not lose), more than one sprite, and
the video path. Results go to stdout; BENCHMARKS.md has them.
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ghosts import SIZES, measure  # noqa: E402
from img2gif.pair import fit_pair  # noqa: E402
from img2gif.render import to_tensor  # noqa: E402
from img2gif.scenes import fast_object_scene  # noqa: E402
from img2gif.warp import identity_grid, pixels_to_normalised, resize_field, sample  # noqa: E402


def sprite_frame(pair, t, tau=0.12, reach=0.3, step=1):
    """(the frame at t, v in pixels, its inlier count), or None when A holds nothing unexplained."""
    a, b = to_tensor(pair.a, "cpu"), to_tensor(pair.b, "cpu")
    H, W = a.shape[-2:]
    phi = resize_field(pair.fields([1.0, -1.0, t, t - 1.0]), H, W)
    b_on_a = sample(b, phi[1:2])  # B carried back onto A
    ra = (a - b_on_a).abs().mean(1, keepdim=True)  # A's pixels B does not explain
    ma = (F.avg_pool2d(ra, 5, 1, 2) > tau).float()
    if ma.sum() < 16:
        return None
    ys, xs = torch.nonzero(ma[0, 0], as_tuple=True)
    ga, gb = a[0], b[0]
    best, best_v = -1, (0, 0)
    R = int(reach * max(H, W))
    for dy in range(-R // 2, R // 2 + 1, step):
        for dx in range(-R, R + 1, step):
            y2, x2 = ys + dy, xs + dx
            ok = (y2 >= 0) & (y2 < H) & (x2 >= 0) & (x2 < W)
            if ok.sum() < 16: continue
            d = (ga[:, ys[ok], xs[ok]] - gb[:, y2[ok], x2[ok]]).abs().mean(0)
            inl = int((d < 0.04).sum())
            if inl > best:
                best, best_v = inl, (dx, dy)
    dx, dy = best_v
    # sprite mask: A's unexplained pixels that match B under v
    sh = torch.zeros_like(ma)
    y2, x2 = ys + dy, xs + dx
    ok = (y2 >= 0) & (y2 < H) & (x2 >= 0) & (x2 < W)
    d = (ga[:, ys[ok], xs[ok]] - gb[:, y2[ok], x2[ok]]).abs().mean(0)
    sel = d < 0.06
    sh[0, 0, ys[ok][sel], xs[ok][sel]] = 1
    sprite = (F.max_pool2d(sh, 3, 1, 1) > 0).float()
    sprite = -F.max_pool2d(-sprite, 3, 1, 1)  # close
    # base blend, with each side's sprite place taken from the other side
    fa = F.grid_sample(a, (identity_grid(H, W) + phi[2:3]).permute(0, 2, 3, 1), mode="bicubic", padding_mode="border", align_corners=True).clamp(0, 1)
    fb = F.grid_sample(b, (identity_grid(H, W) + phi[3:4]).permute(0, 2, 3, 1), mode="bicubic", padding_mode="border", align_corners=True).clamp(0, 1)
    at_a = sample(sprite, phi[2:3])            # where A-side shows the sprite
    b_sprite = torch.roll(sprite, shifts=(dy, dx), dims=(2, 3))
    at_b = sample(b_sprite, phi[3:4])          # where B-side shows the sprite
    wa = (1 - t) * (1 - at_a)
    wb = t * (1 - at_b)
    wsum = (wa + wb).clamp_min(1e-6)
    base = (fa * wa + fb * wb) / wsum
    # paste the sprite moved t v
    nx, ny = pixels_to_normalised((dx * t, dy * t), H, W)
    shift = torch.tensor([-nx, -ny]).view(1, 2, 1, 1)
    moved = sample(a, shift.expand(1, 2, H, W)); alpha = sample(sprite, shift.expand(1, 2, H, W))
    out = base * (1 - alpha) + moved * alpha
    return (out[0].permute(1, 2, 0) * 255).round().clamp(0, 255).byte().numpy(), best_v, best

def main() -> None:
    torch.set_num_threads(2)
    for size_name, shape in SIZES.items():
        results = []
        for seed in range(8):
            scene = fast_object_scene(seed, **shape)
            pair = fit_pair(scene.a, scene.b, device="cpu")
            plain = measure(pair.frames([0.5])[0], scene)
            found = sprite_frame(pair, 0.5)
            layered = measure(found[0], scene) if found else plain
            truth = (scene.at_b[0] - scene.at_a[0], scene.at_b[1] - scene.at_a[1])
            print(f"{size_name} scene {seed}: v found {found and found[1]}, true {truth}", flush=True)
            results.append((plain, layered))
        for k, name in ((0, "img2gif as shipped"), (1, "with the sprite layer")):
            rows = [r[k] for r in results]
            print(f"| {size_name} | {name} | {np.mean([r['object_psnr'] for r in rows]):.2f} | "
                  f"{np.mean([r['background_psnr'] for r in rows]):.2f} | "
                  f"{sum(r['ghosts'] for r in rows)} of {sum(len(r['ghost_weights']) for r in rows)} | "
                  f"{np.mean([r['shown'] for r in rows if r['shown'] is not None]):.2f} |", flush=True)


if __name__ == "__main__":
    main()
