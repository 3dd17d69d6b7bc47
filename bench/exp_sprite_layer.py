"""Experiment, not shipped (issue 27, deliverables 2 and 3): a small fast object as a sprite layer
over the fitted warp, measured on bench/ghosts.py's scenes.

    python bench/exp_sprite_layer.py            # 8 scenes at 256x144 and 8 at 640x360, ~5 min on 2 CPU cores
    python bench/exp_sprite_layer.py --vfi-dev  # real far-apart pairs: how often it fires, what it costs
    (either with --no-fill-test: any sprite found is drawn, however scattered)

The warp cannot carry a small square 2.4x its side without folding, so it leaves two faint
copies (bench/ghosts.py). Here, after the usual ``fit_pair``:

1. A's pixels that B carried back does not explain (mean absolute difference over 5x5 above
   ``tau``) are the candidates;
2. one displacement v for them is searched exhaustively (whole pixels, up to ``reach`` of the
   frame), keeping the v under which most of them match B (the inliers);
3. the sprite is the inliers under v, closed, kept only if compact (it fills a quarter of its
   bounding box or more); the middle frame is the blend with each side's sprite place taken
   from the other side, and A's sprite pasted moved by t v.

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


def find_sprite(pair, tau=0.12, reach=0.3, step=1, min_fill=0.25):
    """(sprite mask (1, 1, H, W), v = (dx, dy) pixels, inliers) from A's pixels that B carried
    back does not explain, or None when there are fewer than 16 of them or the sprite is not
    compact: it fills less than ``min_fill`` of its bounding box (``--no-fill-test``: 0).

    Why the fill: on the ghost scenes the sprite fills 0.27-0.82 of its box; on every 3rd
    vfi-dev pair, where no small object jumps, the "sprite" is scattered, 0.00-0.16."""
    a, b = to_tensor(pair.a, "cpu"), to_tensor(pair.b, "cpu")
    H, W = a.shape[-2:]
    b_on_a = sample(b, resize_field(pair.fields([-1.0]), H, W))  # B carried back onto A
    unexplained = (F.avg_pool2d((a - b_on_a).abs().mean(1, keepdim=True), 5, 1, 2) > tau).float()
    if unexplained.sum() < 16:
        return None
    ys, xs = torch.nonzero(unexplained[0, 0], as_tuple=True)
    ga, gb = a[0], b[0]

    def matching(dx, dy, level):
        y2, x2 = ys + dy, xs + dx
        ok = (y2 >= 0) & (y2 < H) & (x2 >= 0) & (x2 < W)
        d = (ga[:, ys[ok], xs[ok]] - gb[:, y2[ok], x2[ok]]).abs().mean(0)
        return ys[ok][d < level], xs[ok][d < level]

    best, best_v = -1, (0, 0)
    reach_px = int(reach * max(H, W))
    for dy in range(-reach_px // 2, reach_px // 2 + 1, step):
        for dx in range(-reach_px, reach_px + 1, step):
            inliers = len(matching(dx, dy, 0.04)[0])
            if inliers > best:
                best, best_v = inliers, (dx, dy)
    dx, dy = best_v
    mask = torch.zeros_like(unexplained)
    sy, sx = matching(dx, dy, 0.06)
    mask[0, 0, sy, sx] = 1
    mask = (F.max_pool2d(mask, 3, 1, 1) > 0).float()
    mask = -F.max_pool2d(-mask, 3, 1, 1)  # closed
    ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
    if not len(ys) or float(mask.sum()) < min_fill * int(ys.max() - ys.min() + 1) * int(xs.max() - xs.min() + 1):
        return None
    return mask, best_v, best


def frame_with_sprite(pair, found, t):
    """The blend at t with each side's sprite place filled from the other side, and A's sprite
    pasted moved by t v; (H, W, 3) uint8."""
    mask, (dx, dy), _ = found
    a, b = to_tensor(pair.a, "cpu"), to_tensor(pair.b, "cpu")
    H, W = a.shape[-2:]
    phi = resize_field(pair.fields([t, t - 1.0]), H, W)
    grid = identity_grid(H, W)
    fa = F.grid_sample(a, (grid + phi[0:1]).permute(0, 2, 3, 1), mode="bicubic", padding_mode="border", align_corners=True).clamp(0, 1)
    fb = F.grid_sample(b, (grid + phi[1:2]).permute(0, 2, 3, 1), mode="bicubic", padding_mode="border", align_corners=True).clamp(0, 1)
    at_a = sample(mask, phi[0:1])                                          # where A's side shows the sprite
    at_b = sample(torch.roll(mask, shifts=(dy, dx), dims=(2, 3)), phi[1:2])  # where B's side shows it
    wa, wb = (1 - t) * (1 - at_a), t * (1 - at_b)
    base = (fa * wa + fb * wb) / (wa + wb).clamp_min(1e-6)
    nx, ny = pixels_to_normalised((dx * t, dy * t), H, W)
    shift = torch.tensor([-nx, -ny]).view(1, 2, 1, 1).expand(1, 2, H, W)
    alpha = sample(mask, shift)
    out = base * (1 - alpha) + sample(a, shift) * alpha
    return (out[0].permute(1, 2, 0) * 255).round().clamp(0, 255).byte().numpy()


def vfi_dev(limit):
    """The layer on real far-apart pairs (vfi-dev): how often a sprite is found and what it
    does to the in-betweens' PSNR, against the frames as shipped."""
    from peers import psnr, shared_set

    import img2gif

    cases = sorted(p for p in shared_set("vfi-dev").iterdir() if p.is_dir())[:limit]
    plain_all, layered_all, found_count = [], [], 0
    for case in cases:
        G = int(case.name.rsplit("_g", 1)[1])
        a, b = (img2gif.read_image(case / f"frame_{k:03d}.png") for k in (0, G))
        truths = [img2gif.read_image(case / f"frame_{k:03d}.png") for k in range(1, G)]
        pair = fit_pair(a, b, device="cpu")
        times = [k / G for k in range(1, G)]
        plain = [psnr(x, y) for x, y in zip(pair.frames(times), truths)]
        found = find_sprite(pair, min_fill=MIN_FILL)
        layered = plain if found is None else [psnr(frame_with_sprite(pair, found, t), y) for t, y in zip(times, truths)]
        found_count += found is not None
        plain_all += plain
        layered_all += layered
        print(f"{case.name}: sprite {'none' if found is None else f'v {found[1]}, {found[2]} inliers'}; "
              f"PSNR {np.mean(plain):.2f} -> {np.mean(layered):.2f}", flush=True)
    print(f"vfi-dev, {len(cases)} pairs: a sprite found in {found_count}; in-betweens' mean PSNR "
          f"{np.mean(plain_all):.2f} as shipped, {np.mean(layered_all):.2f} with the layer")


MIN_FILL = 0.0 if "--no-fill-test" in sys.argv else 0.25


def main() -> None:
    torch.set_num_threads(2)
    if "--vfi-dev" in sys.argv:
        return vfi_dev(None)
    for size_name, shape in SIZES.items():
        results = []
        for seed in range(8):
            scene = fast_object_scene(seed, **shape)
            pair = fit_pair(scene.a, scene.b, device="cpu")
            plain = measure(pair.frames([0.5])[0], scene)
            found = find_sprite(pair, min_fill=MIN_FILL)
            layered = measure(frame_with_sprite(pair, found, 0.5), scene) if found else plain
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
