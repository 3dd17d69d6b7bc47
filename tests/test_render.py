"""The renderer: its modes, exact endpoints, bands for large images, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import img2gif.render as render_module
from conftest import blob_image
from img2gif.render import MODES, render, to_tensor


def shift_fields(dx: float):
    """fields_at for a uniform shift of dx (normalised units) per unit time."""
    def fields_at(wanted):
        phi = torch.zeros(len(wanted), 2, 6, 8)
        phi[:, 0] = wanted.view(-1, 1, 1) * dx
        return phi
    return fields_at


@pytest.fixture
def ab():
    a = blob_image(24, 32)
    b = blob_image(24, 32, shift=(3.0, 0.0))
    return a, b, to_tensor(a, "cpu"), to_tensor(b, "cpu")


@pytest.mark.parametrize("mode", list(MODES))
def test_modes_shapes_and_exact_start(ab, mode):
    a, b, ta, tb = ab
    frames = list(render(shift_fields(-0.2), ta, tb, [0.0, 0.3, 0.7, 1.0], mode=mode))
    assert len(frames) == 4 and all(f.shape == a.shape and f.dtype == np.uint8 for f in frames)
    assert np.array_equal(frames[0], a)
    if MODES[mode].needs_b:
        assert np.array_equal(frames[-1], b)


@pytest.mark.parametrize("mode", list(MODES))
def test_frames_that_are_an_image_are_copied_not_warped(ab, mode, monkeypatch):
    """Copied frames are the images; the warped ones are bit for bit what they were when every
    frame was warped (the solver reads a time off another's chain, so the times asked matter)."""
    from img2gif.fit import FitSettings, build_ode
    from img2gif.render import ode_fields

    a, b, ta, tb = ab
    ode = build_ode(FitSettings(), 3, (24, 32))
    with torch.no_grad():
        for grid in ode.velocity.grids:
            grid.normal_(0, 0.05, generator=torch.Generator().manual_seed(grid.numel()))
    asked = []
    inner = ode_fields(ode, ta, (24, 32))

    def fields_at(wanted):
        asked.append(wanted.tolist())
        return inner(wanted)

    times = [0.0, 0.5, 0.75, 1.0]
    frames = list(render(fields_at, ta, tb, times, mode=mode))
    assert np.array_equal(frames[0], a) and len(frames) == len(times)
    if MODES[mode].needs_b:
        assert np.array_equal(frames[-1], b)
    monkeypatch.setattr(MODES[mode], "exact_image", lambda t, a, b: None)  # warp every frame
    every = list(render(inner, ta, tb, times, mode=mode))
    assert np.array_equal(frames[1], every[1]) and np.array_equal(frames[2], every[2])
    assert not np.array_equal(frames[1], frames[0])  # the warp did move something
    monkeypatch.undo()
    asked.clear()
    assert [f.tobytes() for f in render(fields_at, ta, tb, [0.0], mode=mode)] == [a.tobytes()]
    assert asked == []  # nothing to warp: no field integrated


def test_warp_only_brings_in_no_new_colour_range(ab):
    a, _, ta, _ = ab
    (frame,) = render(shift_fields(0.37), ta, None, [0.5], mode="warp-only")
    # bilinear: every value lies within A's range per channel
    assert (frame.reshape(-1, 3).min(0) >= a.reshape(-1, 3).min(0)).all()
    assert (frame.reshape(-1, 3).max(0) <= a.reshape(-1, 3).max(0)).all()


@pytest.mark.parametrize("mode", list(MODES))
def test_bands_match_the_whole_frame(ab, monkeypatch, mode):
    _, _, ta, tb = ab
    times = [0.0, 0.25, 0.5, 1.0]
    whole = list(render(shift_fields(-0.15), ta, tb, times, mode=mode))
    monkeypatch.setattr(render_module, "BAND_PIXELS", 100)  # 3 rows at a time
    banded = list(render(shift_fields(-0.15), ta, tb, times, mode=mode))
    for w, b in zip(whole, banded):
        assert np.abs(w.astype(int) - b.astype(int)).max() <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mode", list(MODES))
def test_frames_rendered_on_cuda_match_the_cpus(ab, mode):
    """Frames are put together on the GPU and cross to the CPU once per chunk."""
    a, b, ta, tb = ab
    times = [0.0, 0.25, 0.5, 1.0]
    on_cpu = list(render(shift_fields(-0.15), ta, tb, times, mode=mode))

    def on_gpu_fields(wanted):
        return shift_fields(-0.15)(wanted.cpu()).cuda()

    on_gpu = list(render(on_gpu_fields, ta.cuda(), tb.cuda(), times, mode=mode))
    for c, g in zip(on_cpu, on_gpu):
        assert isinstance(g, np.ndarray) and np.abs(c.astype(int) - g.astype(int)).max() <= 1


def test_bad_input(ab):
    _, _, ta, tb = ab
    with pytest.raises(ValueError, match="unknown render mode"):
        list(render(shift_fields(0.1), ta, tb, [0.5], mode="morph"))
    with pytest.raises(ValueError, match="needs image b"):
        list(render(shift_fields(0.1), ta, None, [0.5], mode="blend"))


def test_learned_model_refuses_blend_without_b():
    from img2gif.learned import LearnedModel
    from img2gif.ode import WarpODE
    from img2gif.solvers.compose import Compose
    from img2gif.velocity.unet import UNetVelocity

    model = LearnedModel(WarpODE(UNetVelocity(1, 8, 1), Compose(0.5)), 16, 1)
    image = blob_image(20, 30)
    frames = model.frames(image, [0.0, 0.5, -0.5])
    assert len(frames) == 3 and np.array_equal(frames[0], image)  # untrained: the identity warp
    with pytest.raises(ValueError, match="render mode"):
        model.frames(image, [0.5], mode="blend")


def test_pairs_paths_and_models_on_an_image_are_one_renderable(pair_images):
    """One contract for what frames come from: shape and frame_renderer(mode)."""
    from img2gif.fit import FitSettings
    from img2gif.learned import load_model
    from img2gif.pair import fit_pair
    from img2gif.path import fit_path
    from img2gif.render import Renderable

    a, b = pair_images
    settings = FitSettings(working_size=32, steps=(3, 2, 1))
    pair = fit_pair(a, b, settings)
    path = fit_path([a, b, a], settings=settings)
    face = np.zeros((64, 64, 3), np.uint8)
    on_face = load_model("smile").on(face, [0.0, 0.5, 1.0])
    for renderable, mode, times in ((pair, "blend", [0.0, 0.5]), (path, "blend", [0.0, 0.5]),
                                    (on_face, "warp-only", [0.0, 0.5, 1.0])):
        assert isinstance(renderable, Renderable)
        frames = list(renderable.frame_renderer(mode)(times))
        assert len(frames) == len(times) and all(f.shape == renderable.shape for f in frames)
