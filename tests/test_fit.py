"""Fitting a pair: recovers known motions; frames have exact ends; pair files round-trip."""
import dataclasses
import math

import numpy as np
import pytest
import torch
from PIL import Image

from img2gif import FitSettings, Pair, fit_pair
from img2gif.errors import InputError
from tests.conftest import blob_image

FAST = FitSettings(working_size=64, steps=(40, 30, 20))


def psnr(x, y):
    return 10 * math.log10(255.0 ** 2 / max(np.mean((x.astype(float) - y.astype(float)) ** 2), 1e-12))


def test_fit_recovers_shift(pair_images):
    a, b = pair_images
    pair = fit_pair(a, b, FAST, device="cpu")
    last = pair.frames([1.0], mode="warp-only")[0]
    assert psnr(last, b) > psnr(a, b) + 8
    assert psnr(last, b) > 33
    # the fitted field is the shift: (3, 2) px in normalised units
    phi = pair.fields([1.0])[0]
    h, w = phi.shape[-2:]
    dx = -phi[0].mean() * (w - 1) / 2  # pull convention: content moving +x means phi = -x
    dy = -phi[1].mean() * (h - 1) / 2
    scale = w / a.shape[1]
    assert dx / scale == pytest.approx(3.0, abs=0.6) and dy / scale == pytest.approx(2.0, abs=0.6)
    assert pair.folds() == 0


def test_fit_recovers_rotation():
    a = blob_image(64, 64, seed=3)
    b = np.array(Image.fromarray(a).rotate(6, resample=Image.Resampling.BICUBIC))
    pair = fit_pair(a, b, FAST, device="cpu")
    last = pair.frames([1.0], mode="warp-only")[0]
    inner = (slice(12, -12), slice(12, -12))  # corners rotate out of frame
    assert psnr(last[inner], b[inner]) > psnr(a[inner], b[inner]) + 8
    assert pair.folds() == 0


def test_residual_of_a_fitted_shift_is_a_small_share(pair_images):
    a, b = pair_images
    pair = fit_pair(a, b, FAST, device="cpu")
    left, unwarped = pair.residual()
    # the unwarped difference is the images' own, at the working size
    assert pair.field_size == a.shape[:2]  # the working size is the image's: no resize
    assert unwarped == pytest.approx(np.abs(a.astype(float) - b).mean(), rel=1e-4)
    assert 0 <= left < 0.3 * unwarped
    same = fit_pair(a, a, FAST, device="cpu").residual()
    assert same[1] == 0 and same[0] < 0.05
    # at a smaller working size both images are averaged down first: still a small share
    small = fit_pair(a, b, dataclasses.replace(FAST, working_size=32), device="cpu")
    assert small.field_size != a.shape[:2]
    left, unwarped = small.residual()
    assert 0 < unwarped < np.abs(a.astype(float) - b).mean() and left < 0.3 * unwarped


def test_frames_exact_endpoints_and_count(pair_images):
    a, b = pair_images
    pair = fit_pair(a, b, FitSettings(working_size=32, steps=(5, 5, 5)), device="cpu")
    frames = pair.frames([0.0, 0.3, 0.7, 1.0])
    assert len(frames) == 4
    assert np.array_equal(frames[0], a) and np.array_equal(frames[-1], b)
    assert all(f.shape == a.shape and f.dtype == np.uint8 for f in frames)
    warp_only = pair.frames([0.0, 0.5], mode="warp-only")
    assert np.array_equal(warp_only[0], a)


def test_warp_only_brings_no_new_colours():
    # A holds two colours; every warp-only pixel must be a mix of those, i.e. on their segment
    a = np.zeros((32, 32, 3), np.uint8)
    a[:, :16] = (200, 40, 10)
    a[:, 16:] = (20, 60, 220)
    b = np.roll(a, 3, axis=1)
    pair = fit_pair(a, b, FitSettings(working_size=32, steps=(10, 10, 10)), device="cpu")
    c0, c1 = a[0, 0].astype(float), a[0, -1].astype(float)
    for frame in pair.frames([0.25, 0.5, 1.0, 1.5], mode="warp-only"):
        px = frame.reshape(-1, 3).astype(float)
        s = ((px - c0) @ (c1 - c0)) / ((c1 - c0) @ (c1 - c0))
        assert s.min() >= -0.01 and s.max() <= 1.01
        assert np.abs(px - (c0 + np.outer(s, c1 - c0))).max() <= 1.5  # rounding only


def test_times_beyond_the_pair_extrapolate(pair_images):
    a, b = pair_images
    pair = fit_pair(a, b, FAST, device="cpu")
    phi = pair.fields([-1.0, 1.0, 2.0])
    assert torch.allclose(phi[2], 2 * phi[1], atol=0.02)  # stationary: linear in t for a shift
    assert torch.allclose(phi[0], -phi[1], atol=0.02)


def test_pair_save_load_roundtrip(tmp_path, pair_images):
    a, b = pair_images
    pair = fit_pair(a, b, FitSettings(working_size=32, steps=(5, 5, 5)), device="cpu")
    path = tmp_path / "pair.pt"
    pair.save(path)
    record = torch.load(path, weights_only=True)
    assert record["format"] == "img2gif.pair" and record["velocity"]["name"] == "svf"
    again = Pair.load(path)
    for x, y in zip(pair.frames([0.0, 0.4, 1.0]), again.frames([0.0, 0.4, 1.0])):
        assert np.array_equal(x, y)


def test_unet_velocity_fits_too(pair_images):
    a, b = pair_images
    settings = FitSettings(velocity="unet", solver="euler", solver_config={"step_size": 0.25},
                           velocity_config={"width": 8, "depth": 2}, working_size=32, steps=(30, 20, 10), learning_rate=0.003)
    pair = fit_pair(a, b, settings, device="cpu")
    last = pair.frames([1.0], mode="warp-only")[0]
    assert psnr(last, b) > psnr(a, b) + 2


def test_checkpoint_errors(tmp_path):
    from img2gif import checkpoint

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="bad.pt"):
        checkpoint.load(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(InputError, match="not an img2gif checkpoint"):
        checkpoint.load(other)
    future = tmp_path / "future.pt"
    torch.save({"format": "img2gif.pair", "format_version": 99, "img2gif_version": "9.0"}, future)
    with pytest.raises(InputError, match="newer img2gif"):
        checkpoint.load(future)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_and_render_on_cuda(pair_images):
    a, b = pair_images
    pair = fit_pair(a, b, FitSettings(working_size=32, steps=(5, 5, 5)), device="cuda")
    assert next(pair.ode.parameters()).is_cuda
    frames = pair.frames([0.0, 0.5, 1.0])
    assert np.array_equal(frames[0], a) and np.array_equal(frames[-1], b)


class _Payload:
    """Pickles to a call of os.system: loading it unsafely would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_code_payload_is_refused_without_running(tmp_path):
    from img2gif import checkpoint

    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "img2gif.pair", "format_version": 1, "x": _Payload(marker)}, evil)
    with pytest.raises(InputError, match="refused.*import.*system"):
        checkpoint.load(evil)
    with pytest.raises(InputError, match="refused"):
        Pair.load(evil)
    assert not marker.exists()


def test_checkpoint_digest_catches_changed_tensor_and_config(tmp_path):
    from img2gif import checkpoint

    path = tmp_path / "m.pt"
    checkpoint.save(path, {"state_dict": {"w": torch.arange(6.0)}, "config": {"width": 16}}, "img2gif.model")
    record = checkpoint.load(path)
    assert record["digest"] == checkpoint.digest(record)
    for change in (lambda r: r["state_dict"]["w"].__setitem__(0, 1.0), lambda r: r["config"].__setitem__("width", 17)):
        tampered = torch.load(path, weights_only=True)
        change(tampered)
        torch.save(tampered, path)  # saved behind img2gif's back: the old digest stays
        with pytest.raises(InputError, match="checksum mismatch"):
            checkpoint.load(path)
        checkpoint.save(path, {"state_dict": {"w": torch.arange(6.0)}, "config": {"width": 16}}, "img2gif.model")
    stripped = {k: v for k, v in record.items() if k != "digest"}
    torch.save(stripped, path)
    with pytest.raises(InputError, match="has no checksum"):  # every format-1 file carries one
        checkpoint.load(path)


def test_several_hypotheses_fit_no_worse_than_one(pair_images):
    a, b = pair_images
    settings = FitSettings(working_size=32, steps=(10, 5, 5))
    one = fit_pair(a, b, settings)
    three = fit_pair(a, b, dataclasses.replace(settings, hypotheses=3))
    err = lambda p: float(np.abs(p.frames([1.0], mode="warp-only")[0].astype(float) - b).mean())  # noqa: E731
    assert err(three) <= err(one) + 0.5
    assert three.settings.hypotheses == 3
