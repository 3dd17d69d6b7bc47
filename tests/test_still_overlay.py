"""Still overlays (img2gif.still): a caption burned into a panning scene stays put and sharp."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import cli, one_error
from img2gif import checkpoint
from img2gif.errors import InputError, OptionError
from img2gif.fit import FitSettings
from img2gif.pair import Pair, fit_pair
from img2gif.render import render, to_tensor
from img2gif.scenes import burn_caption, caption
from img2gif.still import soft_edge, still_mask

H, W, SHIFT = 64, 96, 12  # the scene pans SHIFT pixels left per frame; even, so mid-gap is on the pixel grid
FAST = FitSettings(working_size=96, keep_still="auto")  # off by default


def panning_frames(count: int = 2, with_caption: bool = True, seed: int = 0):
    """(frames, truths, cover): ``count`` frames (H, W, 3) uint8 of a smooth random texture
    panning left SHIFT px per frame, with sensor noise; truths: the noise-free frames at every
    half step (2 * count - 1 of them, float (3, H, W)); cover (H, W): the caption's opacity."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.random((1, 3, H // 4 + 1, (W + SHIFT * count) // 4 + 1))).float()
    texture = F.interpolate(coarse, scale_factor=4, mode="bilinear", align_corners=False)[0]
    fill, cover = caption((H, W), "12:34", scale=2)
    truths = []
    for half in range(2 * count - 1):
        x = half * SHIFT // 2
        frame = texture[:, :H, x:x + W]
        truths.append(burn_caption(frame, fill, cover) if with_caption else frame)
    noise = torch.Generator().manual_seed(seed)
    frames = [(truths[2 * k] + 0.01 * torch.randn(truths[0].shape, generator=noise)).clamp(0, 1) for k in range(count)]
    frames = [(f.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy() for f in frames]
    return frames, truths, cover[0]


def psnr(frame: np.ndarray, truth: torch.Tensor, where: torch.Tensor) -> float:
    got = torch.from_numpy(np.array(frame)).permute(2, 0, 1).float() / 255
    mse = float(((got - truth) ** 2)[:, where].mean())
    return 10 * math.log10(1 / max(mse, 1e-10))


@pytest.fixture(scope="module")
def captioned():
    (a, b), truths, cover = panning_frames()
    old = fit_pair(a, b, replace(FAST, keep_still="off"), device="cpu")
    new = fit_pair(a, b, FAST, device="cpu")
    return a, b, truths, cover, old, new


def test_mask_finds_a_burned_in_caption(captioned):
    _, _, _, cover, old, new = captioned
    assert old.still is None  # off: nothing is looked for
    mask = new.still[0, 0] > 0
    opaque = cover >= 0.99
    assert float(mask[opaque].float().mean()) > 0.6
    # and little beyond it: the panning texture around is not still
    near = F.max_pool2d(cover[None, None], 9, stride=1, padding=4)[0, 0] > 0
    assert float(mask[~near].float().mean()) < 0.01


def test_nothing_is_still_on_a_plain_panning_scene():
    (a, b), _, _ = panning_frames(with_caption=False)
    pair = fit_pair(a, b, FAST, device="cpu")
    assert pair.still is None


def test_caption_stays_sharp_and_the_scene_moves(captioned):
    a, b, truths, cover, old, new = captioned
    opaque = cover >= 0.99
    scene = F.max_pool2d(cover[None, None], 7, stride=1, padding=3)[0, 0] == 0
    scene[:, -SHIFT:] = False  # where the texture enters the frame: not in A
    old_mid, new_mid = old.frames([0.5])[0], new.frames([0.5])[0]
    assert psnr(new_mid, truths[1], opaque) >= 35
    assert psnr(old_mid, truths[1], opaque) < 30  # the old warp dragged the caption along
    fade = np.round(0.5 * a.astype(np.float64) + 0.5 * b).astype(np.uint8)
    assert psnr(new_mid, truths[1], scene) > psnr(fade, truths[1], scene) + 3
    assert psnr(new_mid, truths[1], scene) >= psnr(old_mid, truths[1], scene) - 0.5


def test_saved_pair_finds_the_same_overlay(tmp_path, captioned):
    *_, new = captioned
    path = tmp_path / "pair.pt"
    new.save(path)
    again = Pair.load(path)
    assert again.settings.keep_still == "auto" and torch.equal(again.still, new.still)
    for x, y in zip(new.frames([0.5]), again.frames([0.5])):
        assert np.array_equal(x, y)


def test_crafted_still_mask_in_a_pair_file_is_refused(tmp_path, captioned):
    *_, new = captioned
    path = tmp_path / "pair.pt"
    new.save(path)
    for bad in (torch.full((H, W), 2, dtype=torch.uint8), torch.zeros(H, W + 1, dtype=torch.uint8),
                torch.zeros(H, W), "mask"):
        record = checkpoint.load(path, "img2gif.pair")
        record["still"] = bad
        checkpoint.save(tmp_path / "bad.pt", record, "img2gif.pair")  # a valid checksum: the content is refused
        with pytest.raises(InputError, match="'still'"):
            Pair.load(tmp_path / "bad.pt")


def test_an_old_pair_record_keeps_every_pixel_warped():
    assert FitSettings.from_dict({"velocity": "svf"}).keep_still == "off"


def test_bad_keep_still_is_refused():
    with pytest.raises(OptionError, match="--keep-still"):
        FitSettings(keep_still="sometimes").check()


def test_crafted_keep_still_in_a_pair_file_is_refused(tmp_path, captioned):
    *_, new = captioned
    path = tmp_path / "pair.pt"
    new.save(path)
    record = checkpoint.load(path, "img2gif.pair")
    record["fit"]["keep_still"] = "sometimes"
    checkpoint.save(path, record, "img2gif.pair")
    with pytest.raises(InputError, match="keep_still"):
        Pair.load(path)


@pytest.mark.parametrize("mode", ["blend", "warp-only"])
def test_render_draws_still_pixels_unwarped(mode):
    a = torch.rand(1, 3, 12, 16)
    b = torch.rand(1, 3, 12, 16)
    mask = torch.zeros(1, 1, 12, 16)
    mask[..., 4:8, 5:11] = 1
    weight = soft_edge(mask)

    def shift(ts):  # everything else moves by 3 pixels per unit time
        phi = torch.zeros(len(ts), 2, 12, 16)
        phi[:, 0] = ts.view(-1, 1, 1) * 3 * 2 / 15
        return phi

    frame = next(render(shift, a, b, [0.25], mode=mode, still=weight))
    plain = next(render(shift, a, b, [0.25], mode=mode))
    # blend: A and B mixed in place (an overlay's rim fades as the blend does); warp-only: A
    in_place = 0.75 * a + 0.25 * b if mode == "blend" else a
    expected = (in_place[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    inside = (weight[0, 0] >= 0.999).numpy()
    assert inside[4:8, 5:11].all()
    assert np.abs(frame[inside].astype(int) - expected[inside]).max() <= 1
    assert not np.array_equal(frame[inside], plain[inside])
    outside = (weight[0, 0] == 0).numpy()
    assert np.array_equal(frame[outside], plain[outside])


def test_mask_needs_the_warp_to_move_the_pixels():
    # the same still caption, but a warp that moves nothing there: no evidence it is an overlay
    (a, b), _, _ = panning_frames()
    ta, tb = to_tensor(a, "cpu"), to_tensor(b, "cpu")
    assert not still_mask(ta, tb, torch.zeros(2, 2, 16, 24)).any()
    moving = torch.zeros(2, 2, 16, 24)  # the pan: A carried forward half a step, B back half a step
    moving[0, 0], moving[1, 0] = SHIFT / (W - 1), -SHIFT / (W - 1)
    assert still_mask(ta, tb, moving).any()


def _save(frames, folder):
    folder.mkdir()
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")


def test_cli_pair_keeps_the_caption(tmp_path):
    (a, b), truths, cover = panning_frames()
    _save([a, b], tmp_path / "in")
    out = tmp_path / "out"
    opaque = cover >= 0.99
    for keep, check in (("auto", lambda p: p >= 35), ("off", lambda p: p < 30)):
        result = cli("animate", tmp_path / "in" / "frame_0000.png", tmp_path / "in" / "frame_0001.png",
                     "--frames", "3", "--keep-still", keep, "--working-size", "96", "-q", "-o", f"{out}_{keep}/")
        assert result.exit_code == 0, result.output
        middle = np.asarray(Image.open(sorted((tmp_path / f"out_{keep}").glob("*.png"))[1]).convert("RGB"))
        assert check(psnr(middle, truths[1], opaque)), keep
    result = cli("fit-pair", tmp_path / "in" / "frame_0000.png", tmp_path / "in" / "frame_0001.png",
                 "--working-size", "96", "--keep-still", "auto", "-q", "-o", tmp_path / "p.pt")
    assert result.exit_code == 0 and "still overlays kept unwarped on" in result.output, result.output
    assert Pair.load(tmp_path / "p.pt").still is not None


def test_cli_frames_folder_keeps_the_caption(tmp_path):
    frames, truths, cover = panning_frames(count=3)
    _save(frames, tmp_path / "clip")
    result = cli("animate", tmp_path / "clip", "--source-fps", "10", "--multiply", "2", "--working-size", "96",
                 "--keep-still", "auto", "-q",
                 "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    made = sorted((tmp_path / "out").glob("*.png"))
    assert len(made) >= 5
    opaque = cover >= 0.99
    for k in (1, 3):  # the in-between frames
        middle = np.asarray(Image.open(made[k]).convert("RGB"))
        assert psnr(middle, truths[k], opaque) >= 35, k


def test_cli_keep_still_does_not_apply_to_a_saved_pair(tmp_path, image_files):
    a, b = image_files
    assert cli("fit-pair", a, b, "--working-size", "32", "--keep-still", "off", "-q", "-o", tmp_path / "p.pt").exit_code == 0
    assert Pair.load(tmp_path / "p.pt").settings.keep_still == "off"
    line = one_error(cli("animate", "--from", tmp_path / "p.pt", "--keep-still", "auto", "-o", tmp_path / "x.gif"))
    assert "--keep-still" in line and "--from" in line


def test_residual_counts_still_overlays_as_explained(captioned):
    """A video gap is crossfaded when the warp leaves much unexplained (gaps.warp_explains):
    the dragged caption, drawn unwarped, must not count against the warp."""
    *_, new = captioned
    same_warp_no_overlay = Pair(new.a, new.b, new.ode, replace(new.settings, keep_still="off"))
    assert new.residual()[0] < 0.8 * same_warp_no_overlay.residual()[0]
    assert new.residual()[1] == same_warp_no_overlay.residual()[1]


def test_cli_keep_still_does_not_apply_to_a_alone_with_a_model(tmp_path, image_files):
    a, _ = image_files
    line = one_error(cli("animate", a, "--model", "nosuch", "--keep-still", "off", "-o", tmp_path / "x.gif"))
    assert "--keep-still" in line and "--model" in line
    assert not (tmp_path / "x.gif").exists()
