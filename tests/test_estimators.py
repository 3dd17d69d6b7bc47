"""Motion estimators (img2gif.estimators): the built-ins per function (smoke, shapes, a known
motion, bad input), the proposal check, and the fit's use of them (--estimator)."""
import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import cli, one_error
from img2gif.errors import OptionError, PluginError
from img2gif.estimators import Estimator, check_proposal, is_translation
from img2gif.estimators.blocks import BlockMatching
from img2gif.estimators.shift import GlobalShift, shift_candidates
from img2gif.fit import FitSettings
from img2gif.pair import fit_pair
from img2gif.warp import pixels_to_normalised, sample


def texture(h=48, w=64, seed=0):
    torch.manual_seed(seed)
    return F.avg_pool2d(torch.rand(1, 3, h, w), 5, stride=1, padding=2)


def moved(a, dx, dy):
    """b with b(p) = a(p + (dx, dy)) (pixels)."""
    h, w = a.shape[-2:]
    phi = torch.tensor(pixels_to_normalised((dx, dy), h, w)).view(1, 2, 1, 1).expand(1, 2, h, w)
    return sample(a, phi)


def test_shift_candidates_are_distinct_and_best_first():
    torch.manual_seed(0)
    a = torch.rand(1, 3, 36, 48)
    b = torch.roll(a, shifts=(3, 5), dims=(2, 3))  # content moved 5 px right, 3 px down
    (best,) = shift_candidates(a, b, 0.25, 1)
    candidates = shift_candidates(a, b, 0.25, 3)
    assert best == (-5.0, -3.0) and candidates[0] == best and len(candidates) == 3
    for i, p in enumerate(candidates):
        for q in candidates[i + 1:]:
            assert max(abs(p[0] - q[0]), abs(p[1] - q[1])) > 2


def test_global_shift_proposes_translations_best_first():
    a = texture(96, 128)
    b = moved(a, 8, -4)
    shift = GlobalShift(count=3)
    assert isinstance(shift, Estimator)
    proposal = shift.propose(a, b)
    assert proposal.shape == (3, 2, 1, 1) and is_translation(proposal)
    # found on a 48-pixel copy: 8 and -4 px at 128 px are 3 and -1.5 px there, to a whole pixel
    h, w = 36, 48
    dx, dy = float(proposal[0, 0]) * (w - 1) / 2 * 128 / w, float(proposal[0, 1]) * (h - 1) / 2 * 96 / h
    assert abs(dx - 8) <= 128 / w and abs(dy + 4) <= 96 / h
    start = torch.zeros(1, 2, 5, 5)
    assert shift.propose(a, b, start=start) is start  # a field knows more than one shift
    with pytest.raises(ValueError, match="reach"):
        GlobalShift(reach=0)


def test_block_matching_is_match_blocks_around_the_best_start():
    """The search itself is tested in test_correspondence; here: the adapter passes its options
    and the first (best) of several proposals as the start."""
    from img2gif.correspondence import match_blocks

    a = texture()
    b = moved(a, 5, 2)
    starts = torch.tensor([[0.1, 0.0], [-0.5, 0.3]]).view(2, 2, 1, 1)
    field = BlockMatching(finest=0, radius=3).propose(a, b, start=starts)
    assert field.shape == (1, 2, 48, 64)
    assert torch.equal(field, match_blocks(a, b, starts[:1], finest=0, radius=3))
    assert not torch.equal(field, match_blocks(a, b, starts[1:], finest=0, radius=3))


def test_block_matching_fills_still_overlays_from_around():
    """Still pixels (and the rim fit_weight adds) take the motion around them; the rest is the
    plain match, unchanged."""
    from img2gif.still import fit_weight

    a = texture()
    b = moved(a, 4, 0)
    caption = torch.zeros(1, 1, 48, 64)
    caption[..., 22:25, 10:50] = 1  # thin: the fill averages over a window a quarter of the frame wide
    plain = BlockMatching(finest=0).propose(a, b)
    filled = BlockMatching(finest=0).propose(a, b, still=caption)
    keep = fit_weight(caption, (48, 64)) > 0.5
    assert torch.equal(filled[:, :, keep[0, 0]], plain[:, :, keep[0, 0]])
    inside = filled[0, 0, 22:25, 20:40] * (64 - 1) / 2  # pixels: b(p) = a(p + 4 px) around it
    assert (inside - 4).abs().max() < 1.0


@pytest.mark.parametrize("bad, says", [
    ([1.0], "not a tensor"),
    (torch.zeros(2, 1, 1), "shape"),
    (torch.zeros(1, 3, 4, 4), "shape"),
    (torch.full((1, 2, 4, 4), float("nan")), "not finite"),
])
def test_check_proposal_names_the_estimator(bad, says):
    with pytest.raises(PluginError, match=f"estimator 'mine'.*{says}"):
        check_proposal(bad, "mine", torch.zeros(1))


def test_check_proposal_moves_to_the_images_device_and_dtype():
    out = check_proposal(torch.zeros(2, 2, 3, 3, dtype=torch.float64), "mine", torch.zeros(1))
    assert out.dtype == torch.float32 and out.shape == (2, 2, 3, 3)


def test_the_fit_starts_from_the_chosen_estimator(pair_images):
    a, b = pair_images
    settings = FitSettings(working_size=32, steps=(6, 4, 2))
    for name in ("shift", "blocks"):
        pair = fit_pair(a, b, dataclasses.replace(settings, estimator=name))
        assert pair.settings.estimator == name
        err = float(np.abs(pair.frames([1.0], mode="warp-only")[0].astype(float) - b).mean())
        assert err < float(np.abs(a.astype(float) - b).mean())


def test_the_fit_refuses_an_unknown_estimator_or_one_it_cannot_start_from(pair_images):
    a, b = pair_images
    with pytest.raises(OptionError, match="unknown --estimator 'flow9'; known: blocks, shift"):
        fit_pair(a, b, FitSettings(estimator="flow9"))
    with pytest.raises(OptionError, match="--estimator needs a velocity that can start from a field"):
        fit_pair(a, b, FitSettings(estimator="blocks", velocity="unet", solver="euler"))


def test_an_estimator_that_returns_garbage_is_an_error_naming_it(pair_images, install_plugin):
    """A third-party estimator's wrong output stops the fit with a PluginError naming it."""
    install_plugin("img2gif-wrong", {"img2gif.estimators": {"wrong": "wrong_estimator:Wrong"}}, {"wrong_estimator": (
        "import torch\n"
        "class Wrong:\n"
        "    def propose(self, a, b, *, start=None, still=None):\n"
        "        return torch.zeros(1, 3, 2, 2)\n")})
    a, b = pair_images
    with pytest.raises(PluginError, match="estimator 'wrong' returned a tensor of shape"):
        fit_pair(a, b, FitSettings(estimator="wrong", working_size=32, steps=(2, 0, 0)))


def test_the_cli_takes_an_estimator_or_match_not_both(image_files, tmp_path):
    a, b = image_files
    out = tmp_path / "o.gif"
    line = one_error(cli("animate", a, b, "-o", out, "--estimator", "blocks", "--no-match", "-q"))
    assert "--estimator replaces" in line and not out.exists()
    line = one_error(cli("animate", a, b, "-o", out, "--estimator", "lk", "-q"))
    assert "unknown --estimator 'lk'; known: blocks, shift" in line and not out.exists()
    done = cli("animate", a, b, "-o", out, "--estimator", "shift", "--frames", "3", "--working-size", "32", "-q")
    assert done.exit_code == 0, done.output
    assert out.is_file()
