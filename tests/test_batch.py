"""Fitting several pairs as one batch (fit.fit_pairs_tensors, pair.fit_pairs) and the gap
batches of keyframe paths and video (--gap-batch): each pair's fit is the one it has alone."""
import numpy as np
import pytest
import torch
from PIL import Image

from img2gif.fit import FitSettings, build_ode, fit_pair_tensors, fit_pairs_tensors
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


@pytest.mark.parametrize("settings", [FAST, FitSettings(working_size=32, steps=(20, 10, 5), match=False, hypotheses=1)])
def test_a_batch_fits_each_pair_as_it_is_fitted_alone(settings):
    pairs = pairs_of(3)
    a, b = stacked(pairs)
    start = torch.zeros(2, 27, 32)
    start[0] = 0.05  # the third pair starts from a field, as a warm gap does
    initial = [None, None, start]
    together = fit_pairs_tensors(a, b, settings, initial_fields=initial)
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


def test_a_path_of_one_batch_fits_every_gap_from_nothing():
    """--gap-batch as large as the path: every gap starts as the first does (from the shift
    search and block matching, the full schedule), so each is fit_pair's fit of its gap."""
    images = [blob_image(40, 48, shift=(3 * k, k)) for k in range(3)]
    path = fit_path(images, None, False, FAST, device="cpu", gap_batch=2)
    for k in range(2):
        alone = fit_pair(images[k], images[k + 1], FAST, device="cpu")
        assert torch.allclose(path.pairs[k].fields([0.5, 1.0]), alone.fields([0.5, 1.0]), atol=1e-5)


def test_upconvert_in_gap_batches_gives_the_same_frames_count_and_keyframes(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    source = moving_frames(7)
    for k, frame in enumerate(source):
        Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")
    outputs = {}
    for batch in (1, 3):
        out = tmp_path / f"out{batch}"
        result = cli("animate", folder, "--multiply", "2", "--source-fps", "10", "--working-size", "32",
                     "--gap-batch", batch, "-o", f"{out}/", "--quiet")
        assert result.exit_code == 0, result.output
        outputs[batch] = [np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))]
    assert len(outputs[3]) == len(outputs[1]) == 13
    for k, frame in enumerate(source):
        assert np.array_equal(outputs[3][2 * k], frame)  # every source frame is shown exactly
    # the in-betweens come from fits that start elsewhere: close, not equal
    middle = [np.abs(x.astype(float) - y).mean() for x, y in zip(outputs[1][1::2], outputs[3][1::2])]
    assert max(middle) < 6.0


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
