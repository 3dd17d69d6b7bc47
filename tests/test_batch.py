"""Fitting several pairs as one batch (fit.fit_pairs_tensors, pair.fit_pairs) and the gap
batches of keyframe paths and video (--gap-batch): each pair's fit is the one it has alone."""
import numpy as np
import pytest
import torch
from PIL import Image

import img2gif.pair as pair_module
from img2gif.fit import FitSettings, batches, build_ode, fit_pair_tensors, fit_pairs_tensors
from img2gif.pair import fit_pair, fit_pairs
from img2gif.path import fit_path
from img2gif.render import to_tensor
from img2gif.velocity.base import Stacks, has_hook

from conftest import blob_image, cli, moving_frames, one_error

FAST = FitSettings(working_size=32, steps=(20, 10, 5))
TIMES = torch.tensor([0.5, -0.5, 1.0])


def pairs_of(count, h=40, w=48):
    return [(blob_image(h, w, seed=k), blob_image(h, w, shift=(2 + k, 1 - k), seed=k)) for k in range(count)]


def stacked(pairs):
    return (torch.cat([to_tensor(a, "cpu") for a, _ in pairs]), torch.cat([to_tensor(b, "cpu") for _, b in pairs]))


def fields(ode, a):
    with torch.no_grad():
        return ode.fields(a, TIMES, (27, 32))


def test_svf_stacks_and_unstacks():
    settings = FitSettings(working_size=32)
    odes = [build_ode(settings, 3, (27, 32)) for _ in range(3)]
    for k, ode in enumerate(odes):
        ode.velocity.set_translation(0.1 * k, -0.05 * k)
    assert has_hook(odes[0].velocity, Stacks)
    batch = odes[0].velocity.stack([ode.velocity for ode in odes])
    assert batch.field().shape[0] == 3
    assert torch.equal(batch.field()[2:3], odes[2].velocity.field())
    with torch.no_grad():
        for grid in batch.grids:
            grid.add_(1.0)
    batch.unstack_into([ode.velocity for ode in odes])
    assert torch.allclose(odes[1].velocity.grids[0], batch.grids[0][1:2])


def test_a_stacking_velocity_needs_both_methods():
    class HalfStacks:
        def stack(self, velocities):
            return self

    assert not has_hook(HalfStacks(), Stacks)


def test_which_settings_batch():
    assert batches(FAST)
    assert not batches(FitSettings(solver="dopri5"))       # one adaptive step for all: not each one's own
    assert not batches(FitSettings(velocity="unet", solver="euler"))
    assert not batches(FitSettings(keep_still="auto"))


def fitted_pairs(monkeypatch) -> list:
    """How many pairs each call of pair.fit_pairs is given from now on."""
    seen, real = [], pair_module.fit_pairs

    def spy(pairs, *args, **kwargs):
        seen.append(len(pairs))
        return real(pairs, *args, **kwargs)

    monkeypatch.setattr(pair_module, "fit_pairs", spy)
    return seen


@pytest.mark.parametrize("settings, batched", [
    (FAST, True),
    (FitSettings(working_size=32, steps=(20, 10, 5), match=False, hypotheses=1), True),
    # three starting shifts for a pair: the pairs are fitted one after another
    (FitSettings(working_size=32, steps=(20, 10, 5), match=False, hypotheses=3), False),
])
def test_a_batch_fits_each_pair_as_it_is_fitted_alone(settings, batched):
    pairs = pairs_of(3)
    a, b = stacked(pairs)
    start = torch.zeros(2, 27, 32)
    start[0] = 0.05  # the third pair starts from a field, as a warm gap does
    initial = [None, None, start]
    totals = set()
    together = fit_pairs_tensors(a, b, settings, initial_fields=initial,
                                 progress=lambda done, total, loss: totals.add(total))
    # one batch runs the 35 steps of one fit; one pair after another, each pair's (and, without
    # a start, a pair's three shifts at the coarsest level: 20 steps each)
    assert totals == ({35} if batched else {35 + 35 + 20 * 2 + 35 + 20 * 2})
    for k in range(3):
        alone = fit_pair_tensors(a[k:k + 1], b[k:k + 1], settings, initial_field=initial[k])
        assert torch.allclose(fields(together[k], a[k:k + 1]), fields(alone, a[k:k + 1]), atol=1e-5)
    # and the fits are not all the same (the check above could pass on three copies of one)
    assert not torch.allclose(fields(together[0], a[0:1]), fields(together[1], a[1:2]), atol=1e-3)


def test_a_velocity_that_does_not_stack_is_fitted_one_pair_after_another():
    settings = FitSettings(working_size=16, steps=(3,), pyramid_levels=1, velocity="unet", solver="euler",
                           velocity_config={"width": 4, "depth": 1})
    pairs = pairs_of(2, 24, 24)
    a, b = stacked(pairs)
    together = fit_pairs_tensors(a, b, settings)
    alone = fit_pair_tensors(a[1:2], b[1:2], settings)
    with torch.no_grad():
        assert torch.allclose(together[1].fields(a[1:2], TIMES, (16, 16)), alone.fields(a[1:2], TIMES, (16, 16)), atol=1e-6)


def test_a_batch_refuses_what_it_cannot_fit():
    a, b = stacked(pairs_of(2))
    with pytest.raises(ValueError, match="one size"):
        fit_pairs_tensors(a, b[:1], FAST)
    with pytest.raises(ValueError, match="still overlays"):
        fit_pairs_tensors(a, b, FitSettings(working_size=32, keep_still="auto"))
    with pytest.raises(ValueError, match="initial fields"):
        fit_pairs_tensors(a, b, FAST, initial_fields=[None])


def test_fit_pairs_gives_pairs_like_fit_pair():
    pairs = pairs_of(2)
    together = fit_pairs(pairs, FAST, device="cpu")
    alone = fit_pair(*pairs[1], FAST, device="cpu")
    assert torch.allclose(together[1].fields([0.5]), alone.fields([0.5]), atol=1e-5)
    assert together[1].residual()[0] == pytest.approx(alone.residual()[0], abs=1e-3)


def test_fit_pairs_refuses_pairs_of_two_sizes():
    from img2gif.errors import InputError

    pairs = pairs_of(1) + pairs_of(1, 32, 48)
    with pytest.raises(InputError, match="pair 2"):
        fit_pairs(pairs, FAST, device="cpu")


def test_a_path_in_batches_fits_each_gap_of_a_batch_from_the_motion_before_it(monkeypatch):
    """Batches of 3 over 4 gaps: the first gap alone (nothing to start from: the full schedule),
    the next two together from its field, the last from the field of the gap before it; each
    gap of a batch is fit_pair's fit of its gap from that field."""
    images = [blob_image(40, 48, shift=(3 * k, k)) for k in range(5)]
    calls = fitted_pairs(monkeypatch)
    path = fit_path(images, None, False, FAST, device="cpu", gap_batch=3)
    assert calls == [1, 2, 1]
    start = path.pairs[0].fields([1.0])[0]
    for k in (1, 2):
        alone = fit_pair(images[k], images[k + 1], FAST.warm(), device="cpu", initial_field=start)
        assert torch.allclose(path.pairs[k].fields([0.5, 1.0]), alone.fields([0.5, 1.0]), atol=1e-5)
    first = fit_pair(images[0], images[1], FAST, device="cpu")
    assert torch.allclose(path.pairs[0].fields([0.5]), first.fields([0.5]), atol=1e-5)


def test_a_closed_path_in_one_batch_fits_its_seam_too(monkeypatch):
    images = [blob_image(40, 48, shift=(3 * k, k)) for k in range(3)]
    calls = fitted_pairs(monkeypatch)
    path = fit_path(images, None, True, FAST, device="cpu", gap_batch=3)
    assert calls == [1, 2] and batches(FAST) and len(path.pairs) == 3
    start = path.pairs[0].fields([1.0])[0]
    seam = fit_pair(images[2], images[0], FAST.warm(), device="cpu", initial_field=start)
    assert torch.allclose(path.pairs[2].fields([0.5]), seam.fields([0.5]), atol=1e-5)
    assert all(accel is not None for accel in path.accelerations)


def test_progress_over_batches_only_goes_forward():
    images = [blob_image(40, 48, shift=(2 * k, 0)) for k in range(5)]
    seen = []
    fit_path(images, None, False, FAST, device="cpu", gap_batch=3, progress=lambda done, total, loss: seen.append((done, total)))
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1] and len({t for _, t in seen}) == 1


def test_a_path_whose_settings_do_not_batch_fits_in_order_and_progress_goes_forward(monkeypatch):
    settings = FitSettings(working_size=16, steps=(3,), pyramid_levels=1, velocity="unet", solver="euler",
                           velocity_config={"width": 4, "depth": 1})
    images = [blob_image(24, 24, shift=(2 * k, 0)) for k in range(4)]
    calls, seen = fitted_pairs(monkeypatch), []
    fit_path(images, None, False, settings, device="cpu", gap_batch=3, progress=lambda d, t, loss: seen.append((d, t)))
    assert calls == [1, 1, 1]  # one gap at a time, each from the one before
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1]


def test_progress_of_pairs_fitted_one_after_another_only_goes_forward():
    settings = FitSettings(working_size=16, steps=(3,), pyramid_levels=1, velocity="unet", solver="euler",
                           velocity_config={"width": 4, "depth": 1})
    a, b = stacked(pairs_of(3, 24, 24))
    seen = []
    fit_pairs_tensors(a, b, settings, progress=lambda done, total, loss: seen.append((done, total)))
    assert [d for d, _ in seen] == list(range(1, 10)) and {t for _, t in seen} == {9}


def test_gap_batch_out_of_range_is_refused_by_the_api_too():
    from img2gif.errors import OptionError

    images = [blob_image(40, 48, shift=(3 * k, k)) for k in range(3)]
    for bad in (0, -1, 65, True, 2.0):
        with pytest.raises(OptionError, match="--gap-batch"):
            fit_path(images, None, False, FAST, device="cpu", gap_batch=bad)


def test_upconvert_in_gap_batches_gives_the_same_frames_count_and_keyframes(tmp_path, monkeypatch):
    folder = tmp_path / "frames"
    folder.mkdir()
    source = moving_frames(7)
    for k, frame in enumerate(source):
        Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")
    batches_fitted = fitted_pairs(monkeypatch)
    outputs = {}
    for batch in (1, 3):
        batches_fitted.clear()
        out = tmp_path / f"out{batch}"
        result = cli("animate", folder, "--multiply", "2", "--source-fps", "10", "--working-size", "32",
                     "--gap-batch", batch, "-o", f"{out}/", "--quiet")
        assert result.exit_code == 0, result.output
        outputs[batch] = [np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))]
        assert batches_fitted == ([1] * 6 if batch == 1 else [1, 2, 3])  # 6 gaps: the first alone
    assert len(outputs[3]) == len(outputs[1]) == 13
    for k, frame in enumerate(source):
        assert np.array_equal(outputs[3][2 * k], frame)  # every source frame is shown exactly
    # the in-betweens come from fits that start elsewhere: close, not equal
    middle = [np.abs(x.astype(float) - y).mean() for x, y in zip(outputs[1][1::2], outputs[3][1::2])]
    assert max(middle) < 6.0


def test_a_pause_inside_a_batch_stays_still(tmp_path):
    """Identical frames kept as keyframes (a pause of 4 frames) are a still gap: in a batch it is
    not fitted, and its in-betweens are the frame itself."""
    folder = tmp_path / "frames"
    folder.mkdir()
    moving = moving_frames(4)
    source = moving[:2] + [moving[2]] * 4 + moving[3:]
    for k, frame in enumerate(source):
        Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")
    out = tmp_path / "out"
    result = cli("animate", folder, "--multiply", "2", "--source-fps", "10", "--working-size", "32",
                 "--gap-batch", "4", "-o", f"{out}/", "--quiet")
    assert result.exit_code == 0, result.output
    frames = [np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))]
    assert len(frames) == 2 * len(source) - 1
    for k in range(4, 11):  # output frames 4 ... 10 lie in the pause (source frames 2 ... 5)
        assert np.array_equal(frames[k], moving[2])


@pytest.mark.parametrize("args, words", [
    (["--gap-batch", "0"], "--gap-batch"),
    (["--gap-batch", "2"], "--gap-batch applies to a video or three or more keyframes"),
])
def test_gap_batch_refused_where_it_does_not_apply(tmp_path, args, words):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(blob_image()).save(a)
    Image.fromarray(blob_image(shift=(3, 0))).save(b)
    result = cli("animate", a, b, "-o", tmp_path / "out.gif", *args)
    assert words in one_error(result)
    assert not (tmp_path / "out.gif").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_batch_on_cuda_fits_as_on_the_cpu():
    pairs = pairs_of(3)
    on_gpu = fit_pairs(pairs, FAST, device="cuda")
    on_cpu = fit_pairs(pairs, FAST, device="cpu")
    for gpu, cpu in zip(on_gpu, on_cpu):
        assert next(gpu.ode.parameters()).is_cuda
        assert np.abs(gpu.frames([0.5])[0].astype(float) - cpu.frames([0.5])[0]).mean() < 2.0
