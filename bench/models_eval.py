"""Evaluate a trained model the way issue 4 asks: does the warp change the class?

    python bench/models_eval.py digits MODEL.pt DATA_DIR   # DATA_DIR from prepare_data.py digits
    python bench/models_eval.py smile  MODEL.pt DATA_DIR   # DATA_DIR from prepare_data.py smiles

A small CNN classifier is trained here on the *training* start/end images (real 3s vs 4s, or
neutral vs smiling), then applied to the held-out start images warped by the model (t = 1).
Reported: the share of warped held-out images called 'end' (targets: digits >= 90 %, smile
>= 60 %), the same share for real held-out start and end images (the classifier's calibration),
folded pixels over t = 0.25 .. 1, for smile the share of the warp's displacement (|Phi_1|,
summed) that falls outside the mouth region (``smile_mask.MOUTH_BOX``, 15.6 % of the crop) and how much of the face
is kept there (PSNR of the last frame against the first outside that region: identity), the round trip PSNR(x0, reverse(animate(x0))) beside what
resampling alone costs (half a pixel there and back), and the wall time of one image to a
60-frame animation. For smile also colour portraits: held-out faces enlarged 3x, tinted and
pasted into 480x360 photos (``img2gif.scenes`` backgrounds), animated with ``--crop`` on the face
and without it (the whole photo as the model's input): the face judged smiling (its box cut out
again at 64 px) and the mean change outside the face's box. Prints a Markdown table; JSON to
bench/out/.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import OUT, environment  # noqa: E402
from bench.peers import psnr as _psnr  # noqa: E402
from img2gif.datasets import list_images, load_folder  # noqa: E402
from img2gif.learned import LearnedModel  # noqa: E402
from img2gif.region import Region, paste_field  # noqa: E402
from img2gif.warp import count_folds, sample  # noqa: E402


def classifier(channels: int, size: int) -> nn.Module:
    layers, c, s = [], channels, size
    for out in (16, 32, 64):
        layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c, s = out, s // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.3), nn.Linear(c * s * s, 1))


def train_classifier(x_start, x_end, epochs=8, seed=0):
    torch.manual_seed(seed)
    net = classifier(x_start.shape[1], x_start.shape[-1])
    x = torch.cat([x_start, x_end])
    y = torch.cat([torch.zeros(len(x_start)), torch.ones(len(x_end))])
    weight = torch.where(y == 1, len(x_start) / len(x_end), 1.0)  # balance the classes
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            # small shifts so it does not key on exact pixel positions
            batch = torch.roll(x[idx], shifts=tuple(torch.randint(-1, 2, (2,)).tolist()), dims=(2, 3))
            loss = nn.functional.binary_cross_entropy_with_logits(net(batch).squeeze(1), y[idx], weight=weight[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def share_end(net, x) -> float:
    with torch.no_grad():
        return float((net(x).squeeze(1) > 0).float().mean())


def psnr(a, b) -> float:
    """PSNR of two tensors in [0, 1]."""
    return _psnr(a.detach().cpu().numpy(), b.detach().cpu().numpy(), peak=1.0)


SELECT = 300  # training start images a choice between checkpoints is made on


def evaluate(task: str, model_path: Path, net, train_start, held_start, held_end, with_portraits: bool = True) -> dict:
    """Every figure for one model, judged by the classifier ``net``."""
    model = LearnedModel.load(model_path)
    size, ch = model.size, model.channels
    # digits_3_4 repeats images: keep only held-out starts that training never saw
    seen = {x.numpy().tobytes() for x in train_start}
    unseen = torch.tensor([x.numpy().tobytes() not in seen for x in held_start])
    with torch.no_grad():
        phi = model.ode.fields(held_start, [0.25, 0.5, 0.75, 1.0], (size, size))
        warped = sample(held_start, phi[-1])
        back = model.ode.fields(warped, [-1.0], (size, size))[0]
        returned = sample(warped, back)
        # What resampling alone costs at this size: half a pixel diagonally there and back,
        # bilinear. No warp that moves strokes by fractions of a pixel returns above this.
        half = torch.zeros(1, 2, size, size)
        half[:, :] = 0.5 * 2 / (size - 1)
        there_and_back = sample(sample(held_start, half.expand(len(held_start), -1, -1, -1)),
                                (-half).expand(len(held_start), -1, -1, -1))
        # the same two round trips with bicubic sampling (sharper, clamped): is it sampling or the warp?
        cubic = lambda x, f: sample(x, f, mode="bicubic").clamp(0, 1)  # noqa: E731
        warped_cubic = cubic(held_start, phi[-1])
        returned_cubic = cubic(warped_cubic, model.ode.fields(warped_cubic, [-1.0], (size, size))[0])
        there_and_back_cubic = cubic(cubic(held_start, half.expand(len(held_start), -1, -1, -1)),
                                     (-half).expand(len(held_start), -1, -1, -1))
    folds = sum(count_folds(p) for p in phi)
    # the same two figures on training start images: what a choice between checkpoints may
    # look at (the held-out figures are for reporting only)
    train_phi = model.ode.fields(train_start[:SELECT], [0.25, 0.5, 0.75, 1.0], (size, size))
    selection = {"images": len(train_start[:SELECT]), "warped_called_end": share_end(net, sample(train_start[:SELECT], train_phi[-1])),
                 "folded_pixels": sum(count_folds(p) for p in train_phi)}
    outside = None
    if task == "smile":
        from bench.smile_mask import MOUTH_BOX

        top, bottom, left, right = (round(f * size) for f in MOUTH_BOX)
        magnitude = (phi[-1] * (size - 1) / 2).norm(dim=1)  # (N, S, S) px
        inside = torch.zeros(size, size, dtype=torch.bool)
        inside[top:bottom, left:right] = True
        share = magnitude[:, ~inside].sum(1) / magnitude.sum((1, 2)).clamp_min(1e-12)
        kept = [psnr(a[:, ~inside], b[:, ~inside]) for a, b in zip(held_start, sample(held_start, phi[-1]))]
        outside = {"median": float(share.median()), "mean": float(share.mean()), "identity_psnr_db": float(np.median(kept)),
                   "box_area_share": float(inside.float().mean()),
                   "mean_px_inside": float(magnitude[:, inside].mean()), "mean_px_outside": float(magnitude[:, ~inside].mean())}
    result = {
        "task": task,
        "model": str(model_path),
        "warped_start_called_end": share_end(net, warped),
        "warped_unseen_start_called_end": share_end(net, warped[unseen]) if unseen.any() else None,
        "unseen_heldout": int(unseen.sum()),
        "real_start_called_end": share_end(net, held_start),
        "real_end_called_end": share_end(net, held_end),
        "folded_pixels": folds,
        "folded_share": folds / phi[:, :, 0].numel(),
        "displacement_outside_mouth": outside,
        "roundtrip_psnr_db": float(np.median([psnr(a, b) for a, b in zip(held_start, returned)])),
        "half_pixel_there_and_back_psnr_db": float(np.median([psnr(a, b) for a, b in zip(held_start, there_and_back)])),
        "roundtrip_bicubic_psnr_db": float(np.median([psnr(a, b) for a, b in zip(held_start, returned_cubic)])),
        "half_pixel_there_and_back_bicubic_psnr_db": float(np.median([psnr(a, b) for a, b in zip(held_start, there_and_back_cubic)])),
        "selection_on_training_images": selection,
        "step": model.record.get("step"),
        "solver": model.record.get("solver"),
        "heldout": len(held_start),
    }
    image = (held_start[0].permute(1, 2, 0).repeat(1, 1, 3 // ch).mul(255).byte().numpy())
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        model.frames(image, [k / 59 for k in range(60)])
        times.append(time.perf_counter() - t0)
    result["seconds_60_frames"] = float(np.median(times))
    if task == "smile" and with_portraits:
        result["portraits"] = portraits(model, net, held_start)
    result["environment"] = environment()
    result["sample_count"] = phi[:, :, 0].numel()
    return result


PORTRAIT = (360, 480)   # photo size (H, W)
FACE_SCALE = 3          # a 64-px face is pasted at 192 px
TINT = (1.0, 0.84, 0.72)  # gray faces made skin-coloured


def portraits(model: LearnedModel, net, faces: torch.Tensor, count: int = 60) -> dict:
    """The first ``count`` held-out faces as colour portraits, animated with and without --crop."""
    from img2gif.scenes import SceneGenerator, SceneSettings

    backgrounds = SceneGenerator(SceneSettings(size=PORTRAIT))
    rng = np.random.default_rng(0)
    side = model.size * FACE_SCALE
    judged = {"crop": [], "whole": []}
    changed_outside = {"crop": [], "whole": []}
    folds_in_photo = 0  # of the --crop fields at t = 0.25 ... 1, faded at the box's edge, over the photo
    for i, face in enumerate(faces[:count]):
        photo = backgrounds.scene(i).a.clone()  # (3, H, W) in [0, 1]
        big = torch.nn.functional.interpolate(face[None], size=(side, side), mode="bicubic", align_corners=False)[0].clamp(0, 1)
        box = Region(int(rng.integers(0, PORTRAIT[1] - side + 1)), int(rng.integers(0, PORTRAIT[0] - side + 1)), side, side)
        photo[:, box.y:box.y + side, box.x:box.x + side] = big * torch.tensor(TINT).view(3, 1, 1)
        image = (photo.permute(1, 2, 0) * 255).round().byte().numpy()
        outside = np.ones(image.shape[:2], dtype=bool)
        outside[box.y:box.y + side, box.x:box.x + side] = False
        pasted = paste_field(model.fields(image, [0.25, 0.5, 0.75, 1.0], box), box, *PORTRAIT)
        folds_in_photo += count_folds(pasted)
        for how, region in (("crop", box), ("whole", None)):
            last = model.frames(image, [1.0], region=region)[0]
            changed_outside[how].append(float(np.abs(last.astype(np.float64) - image)[outside].mean()))
            cut = torch.from_numpy(box.crop(last).copy()).permute(2, 0, 1).float()[None] / 255
            gray = (0.299 * cut[:, 0:1] + 0.587 * cut[:, 1:2] + 0.114 * cut[:, 2:3]) / TINT[0]
            judged[how].append(torch.nn.functional.interpolate(gray, size=(model.size, model.size), mode="area")[0])
    return {how: {"judged_smiling": share_end(net, torch.stack(judged[how])),
                  "mean_change_outside_face_levels": float(np.mean(changed_outside[how]))} for how in judged} | {
        "count": min(count, len(faces)), "photo": f"{PORTRAIT[1]}x{PORTRAIT[0]}", "face_px": side,
        "crop_folded_pixels": folds_in_photo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["digits", "smile"])
    parser.add_argument("model", type=Path, nargs="+", help="one or more models, all judged by one classifier")
    parser.add_argument("data", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-portraits", action="store_true", help="smile: skip the colour portraits (quicker, for choosing a checkpoint)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    first = LearnedModel.load(args.model[0])
    size, ch = first.size, first.channels
    for path in args.model[1:]:  # one classifier judges them all: one image size and channel count
        other = LearnedModel.load(path)
        if (other.size, other.channels) != (size, ch):
            sys.exit(f"{path}: {other.size}px x {other.channels} channel(s), but {args.model[0]} is {size}px x {ch}")
    load = lambda folder: load_folder(list_images(folder), size, ch)[0]  # noqa: E731
    train_start, train_end = load(args.data / "start"), load(args.data / "end")
    held_start, held_end = load(args.data / "heldout" / "start"), load(args.data / "heldout" / "end")
    net = train_classifier(train_start, train_end)
    results = [evaluate(args.task, path, net, train_start, held_start, held_end, not args.no_portraits) for path in args.model]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"models_eval_{args.task}.json").write_text(json.dumps(results if len(results) > 1 else results[0], indent=2))
    print("| model | warped held-out start called end (all / never in training) | real start / real end called end | folded pixels | round trip PSNR | half-pixel there and back | displacement outside the mouth | 60 frames (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        unseen_share = result["warped_unseen_start_called_end"]
        outside = result["displacement_outside_mouth"]
        outside_text = "—" if outside is None else f"{100 * outside['median']:.1f} %"
        print(f"| {result['model']} | {100 * result['warped_start_called_end']:.1f} % of {result['heldout']} / "
              f"{'n/a' if unseen_share is None else f'{100 * unseen_share:.1f} %'} of {result['unseen_heldout']} | "
              f"{100 * result['real_start_called_end']:.1f} % / "
              f"{100 * result['real_end_called_end']:.1f} % | {result['folded_pixels']} of {result['sample_count']:,} | "
              f"{result['roundtrip_psnr_db']:.1f} dB | {result['half_pixel_there_and_back_psnr_db']:.1f} dB | "
              f"{outside_text} | "
              f"{result['seconds_60_frames']:.2f} |")
    for result in results:
        chosen = result["selection_on_training_images"]
        print(f"{result['model']} (step {result['step']}): on {chosen['images']} training start images (for choosing a "
              f"checkpoint) {100 * chosen['warped_called_end']:.1f} % called end, {chosen['folded_pixels']} folded pixels")
    for result in results:
        outside = result["displacement_outside_mouth"]
        if outside is not None:
            print(f"\n{result['model']}: displacement outside the mouth region ({100 * outside['box_area_share']:.1f} % of the crop): "
                  f"median {100 * outside['median']:.1f} % of the warp's |Phi_1| per face (mean {outside['mean_px_inside']:.2f} px "
                  f"inside, {outside['mean_px_outside']:.2f} px outside).")
        if "portraits" in result:
            shots = result["portraits"]
            print(f"{result['model']}: identity outside the mouth (PSNR last frame vs first, median) "
                  f"{outside['identity_psnr_db']:.1f} dB; {shots['count']} colour portraits ({shots['photo']}, face "
                  f"{shots['face_px']} px; folded pixels with --crop {shots['crop_folded_pixels']}): judged smiling {100 * shots['crop']['judged_smiling']:.1f} % with --crop, "
                  f"{100 * shots['whole']['judged_smiling']:.1f} % on the whole photo; mean change outside the face "
                  f"{shots['crop']['mean_change_outside_face_levels']:.2f} / {shots['whole']['mean_change_outside_face_levels']:.2f} levels.")
        print(f"{result['model']}: with bicubic sampling instead of bilinear: round trip {result['roundtrip_bicubic_psnr_db']:.1f} dB, "
              f"half a pixel there and back {result['half_pixel_there_and_back_bicubic_psnr_db']:.1f} dB.")


if __name__ == "__main__":
    main()
