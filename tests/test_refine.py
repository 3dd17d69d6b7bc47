"""img2gif.refine: motion refined above the working size (levels, the Lucas-Kanade steps, the
residuals' use in rendering), and its place in a pair, a video and the command line."""
from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import blob_image
from helpers import error_line, run
from img2gif import checkpoint, refine
from img2gif.errors import InputError, OptionError
from img2gif.fit import FitSettings
from img2gif.pair import Pair, fit_pair
from img2gif.render import to_tensor
from img2gif.scenes import SceneGenerator, SceneSettings
from img2gif.warp import count_folds, pixels_to_normalised, resize_field, sample, to_pixels


def textured(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """(1, 3, H, W): smooth random colour texture with detail at every scale down to ~4 px."""
    g = torch.Generator().manual_seed(seed)
    layers = [F.interpolate(torch.rand(1, 3, max(2, height // s), max(2, width // s), generator=g), size=(height, width),
                            mode="bicubic", align_corners=False) for s in (4, 16)]
    return (0.5 * layers[0] + 0.5 * layers[1]).clamp(0, 1)


def shifted(x: torch.Tensor, dx: float, dy: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, phi): B = x o (id + phi) with phi the constant (dx, dy) px displacement."""
    h, w = x.shape[-2:]
    nx, ny = pixels_to_normalised((dx, dy), h, w)
    phi = torch.tensor([nx, ny]).view(1, 2, 1, 1).expand(1, 2, h, w).clone()
    return sample(x, phi), phi


# --- levels ---------------------------------------------------------------------------------

def test_levels_halve_the_image_down_to_the_working_size():
    assert refine.levels((144, 256), (720, 1280)) == [(180, 320), (360, 640)]   # from 720p's half
    assert refine.levels((144, 256), (1080, 1920)) == [(270, 480), (540, 960)]
    assert refine.levels((256, 256), (512, 512)) == [(512, 512)]


def test_no_levels_when_the_image_is_no_larger_than_the_working_size():
    assert refine.levels((144, 256), (144, 256)) == []
    assert refine.levels((100, 100), (60, 80)) == []


def test_levels_are_capped_at_max_pixels_with_the_aspect_kept():
    sizes = refine.levels((192, 256), (6000, 8000))
    assert sizes == [(375, 500)]
    assert 375 * 500 <= refine.MAX_PIXELS < 750 * 1000


# --- refine_field ---------------------------------------------------------------------------

def test_refine_field_shape_is_the_last_level():
    a = textured(64, 96)
    out = refine.refine_field(a, a, torch.zeros(1, 2, 16, 24), [(32, 48), (64, 96)])
    assert out.shape == (1, 2, 64, 96)


def test_refine_field_with_no_levels_returns_phi():
    a, phi = textured(32, 32), torch.zeros(1, 2, 8, 8)
    assert refine.refine_field(a, a, phi, []) is phi


def test_refine_field_finds_a_sub_pixel_shift_the_start_missed():
    a = textured(128, 160, seed=1)
    b, truth = shifted(a, 1.6, -1.1)
    start = torch.zeros(1, 2, 32, 40)     # the working size's field: no motion at all
    out = refine.refine_field(a, b, start, refine.levels((32, 40), (128, 160)))
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))
    error = (to_pixels(out - truth)[inner]).norm(dim=1).mean()
    assert float(error) < 0.25  # from 1.95 px


def test_refine_field_keeps_the_motion_where_there_is_no_texture():
    flat = torch.full((1, 3, 64, 64), 0.5)
    start = torch.full((1, 2, 16, 16), 0.03)
    out = refine.refine_field(flat, flat, start, [(32, 32), (64, 64)])
    assert torch.allclose(out, resize_field(start, 64, 64), atol=1e-6)


def test_refine_field_leaves_out_pixels_of_weight_zero():
    a = textured(64, 80, seed=5)
    b, _ = shifted(a, 1.0, 0.5)
    start = torch.zeros(1, 2, 16, 20)
    sizes = [(32, 40), (64, 80)]
    none = refine.refine_field(a, b, start, sizes, weight=torch.zeros(1, 1, 64, 80))
    assert torch.equal(none, resize_field(start, 64, 80))   # nothing counts: nothing moves
    half = torch.ones(1, 1, 64, 80)
    half[..., :, :40] = 0                                   # only the right half counts ...
    moved = to_pixels(refine.refine_field(a, b, start, sizes, weight=half))
    assert float(moved[..., 16:-16, 52:-12].norm(dim=1).mean()) > 0.8   # ... and moves there
    with pytest.raises(ValueError, match="weight"):
        refine.refine_field(a, b, start, sizes, weight=torch.ones(1, 1, 32, 40))


@pytest.mark.parametrize("a, b, phi", [
    (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9), torch.zeros(1, 2, 4, 4)),   # sizes differ
    (torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), torch.zeros(2, 2, 4, 4)),   # a batch
    (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 4, 4)),   # not a field
    (torch.zeros(3, 8, 8), torch.zeros(3, 8, 8), torch.zeros(1, 2, 4, 4)),         # not (B, C, H, W)
])
def test_refine_field_refuses_bad_shapes(a, b, phi):
    with pytest.raises(ValueError):
        refine.refine_field(a, b, phi, [(8, 8)])


def test_residuals_refuse_bad_shapes():
    with pytest.raises(ValueError):
        refine.residuals(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), torch.zeros(2, 2, 4, 4),
                         torch.zeros(1, 2, 4, 4), [(8, 8)])


def test_residuals_are_none_without_levels():
    a = textured(16, 16)
    assert refine.residuals(a, a, torch.zeros(1, 2, 16, 16), torch.zeros(1, 2, 16, 16), []) is None


def test_residuals_refine_both_ends():
    a = textured(96, 96, seed=2)
    b, truth = shifted(a, 1.2, 0.8)
    zero = torch.zeros(1, 2, 24, 24)
    delta_1, delta_back = refine.residuals(a, b, zero, zero, refine.levels((24, 24), (96, 96)))
    inner = (slice(None), slice(None), slice(12, -12), slice(12, -12))
    assert float(to_pixels(delta_1 - truth)[inner].norm(dim=1).mean()) < 0.25
    assert float(to_pixels(delta_back + truth)[inner].norm(dim=1).mean()) < 0.25  # B back onto A


# --- with_residuals -------------------------------------------------------------------------

def test_with_residuals_adds_each_end_in_proportion_to_time():
    base = torch.randn(1, 2, 4, 4)
    delta_1, delta_back = torch.randn(1, 2, 8, 8), torch.randn(1, 2, 8, 8)
    fields = refine.with_residuals(lambda ts: base.expand(len(ts), -1, -1, -1), (delta_1, delta_back))
    out = fields(torch.tensor([0.0, 0.25, 1.0, -0.5, -1.0]))
    up = resize_field(base, 8, 8)
    assert out.shape == (5, 2, 8, 8)
    torch.testing.assert_close(out[0], up[0])                       # A is shown exactly at t = 0
    torch.testing.assert_close(out[1], (up + 0.25 * delta_1)[0])
    torch.testing.assert_close(out[2], (up + delta_1)[0])
    torch.testing.assert_close(out[3], (up + 0.5 * delta_back)[0])
    torch.testing.assert_close(out[4], (up + delta_back)[0])


def test_with_residuals_without_any_is_the_same_callable():
    fields = lambda ts: torch.zeros(len(ts), 2, 4, 4)  # noqa: E731
    assert refine.with_residuals(fields, None) is fields


def test_with_residuals_gradcheck():
    base = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    delta = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    back = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    ts = torch.tensor([0.5, -0.25], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda b, d, k: refine.with_residuals(lambda t: b.expand(len(t), -1, -1, -1), (d, k))(ts), (base, delta, back))


# --- in a pair ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def large_scene():
    """A generated 384x512 pair (camera and layers moving, known middle frame), fitted at 128 px."""
    settings = SceneSettings(size=(384, 512), layers=(1, 2), max_shift=0.04, max_rotation=5, max_zoom=1.05,
                             background_shift=0.02, nonrigid=0.004, brightness=0.0, noise=0.0)
    scene = SceneGenerator(settings).scene(3)
    as_uint8 = lambda x: (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # noqa: E731
    a, b = as_uint8(scene.a), as_uint8(scene.b)
    fit = FitSettings(working_size=128, steps=(30, 20, 10))
    pairs = {mode: fit_pair(a, b, FitSettings(**{**fit.to_dict(), "steps": fit.steps, "refine": mode}), device="cpu")
             for mode in ("off", "auto")}
    return a, b, pairs


def test_a_refined_pair_carries_a_closer_onto_b(large_scene):
    a, b, pairs = large_scene
    # warp-only at t = 1 is A carried by Phi_1 alone: what the refinement is fitted to improve
    errors = {mode: np.abs(pair.frames([1.0], mode="warp-only")[0].astype(float) - b).mean()
              for mode, pair in pairs.items()}
    assert errors["auto"] < 0.9 * errors["off"]


def test_a_refined_pair_shows_both_images_exactly_and_folds_nothing(large_scene):
    a, b, pairs = large_scene
    pair = pairs["auto"]
    first, middle, last = pair.frames([0.0, 0.5, 1.0])
    assert np.array_equal(first, a) and np.array_equal(last, b)
    assert not np.array_equal(middle, pairs["off"].frames([0.5])[0])  # it did refine
    ta, tb = to_tensor(a, "cpu"), to_tensor(b, "cpu")
    fields = pair.refined(ta, tb, lambda ts: pair.fields(ts.tolist()))
    for phi in fields(torch.tensor([1.0, 0.5, -0.5, -1.0])):
        assert count_folds(phi.unsqueeze(0)) == 0


def test_refinement_does_nothing_at_the_working_size(pair_images):
    a, b = pair_images  # 64x48: smaller than the working size
    frames = {mode: fit_pair(a, b, FitSettings(refine=mode, steps=(10, 5, 5)), device="cpu").frames([0.25, 0.5])
              for mode in ("off", "auto")}
    assert all(np.array_equal(x, y) for x, y in zip(frames["off"], frames["auto"]))


def test_refine_is_a_checked_fit_setting():
    with pytest.raises(OptionError, match="--refine must be one of off, auto"):
        FitSettings(refine="on").check()
    assert FitSettings.from_dict({}).refine == "off"  # a pair saved before refinement renders as it did
    assert FitSettings().refine == "auto"


def test_a_saved_pair_keeps_its_refinement_and_a_crafted_one_is_refused(tmp_path, large_scene):
    a, b, pairs = large_scene
    path = tmp_path / "pair.pt"
    pairs["auto"].save(path)
    again = Pair.load(path)
    assert again.settings.refine == "auto"
    assert np.array_equal(again.frames([0.5])[0], pairs["auto"].frames([0.5])[0])
    record = checkpoint.load(path, "img2gif.pair")
    record["fit"]["refine"] = "everywhere"
    checkpoint.save(path, record, "img2gif.pair")  # a valid checksum: the content is refused
    with pytest.raises(InputError, match="'refine'"):
        Pair.load(path)


# --- command line ---------------------------------------------------------------------------

def test_cli_refine_applies_to_a_saved_pair(tmp_path, pair_images):
    pair_file = tmp_path / "p.pt"
    fit_pair(*pair_images, FitSettings(working_size=24, steps=(5, 5, 5), refine="off")).save(pair_file)
    made = {}
    for mode in ("auto", "off"):
        out = tmp_path / mode
        result = run("animate", "--from", str(pair_file), "-o", f"{out}/", "--frames", "3", "--refine", mode, "-q")
        assert result.exit_code == 0, result.output
        made[mode] = [np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))]
    assert not np.array_equal(made["auto"][1], made["off"][1])          # the in-between is refined ...
    assert np.array_equal(made["auto"][0], made["off"][0])              # ... the images are not
    assert Pair.load(pair_file).settings.refine == "off"                 # the file is left as it was


def test_cli_refuses_refine_for_a_model_alone(tmp_path, image_files):
    a, _ = image_files
    result = run("animate", str(a), "--model", "digits", "-o", str(tmp_path / "out.gif"), "--refine", "off")
    assert result.exit_code == 2
    assert "--refine applies to a fitted pair, path or video" in error_line(result)


# --- in a keyframe path and a video ---------------------------------------------------------

def test_a_refined_keyframe_path_shows_its_keyframes_exactly():
    from img2gif.path import fit_path

    images = [blob_image(40, 48, shift=(2.5 * k, (k % 2) * 1.5)) for k in range(4)]
    times = [k / 9 for k in range(10)]  # keyframes at frames 0, 3, 6, 9
    frames = {mode: list(fit_path(images, None, False, FitSettings(working_size=24, refine=mode),
                                  device="cpu").frame_renderer()(times)) for mode in ("auto", "off")}
    for k, index in enumerate((0, 3, 6, 9)):
        assert np.array_equal(frames["auto"][index], images[k])
    assert any(not np.array_equal(x, y) for x, y in zip(frames["auto"], frames["off"]))


def test_a_refined_video_is_closer_to_the_true_in_betweens(tmp_path):
    import img2gif

    # fine texture moving (2, 1) px a frame (whole pixels: the truth is not blurred by sampling),
    # given every 2nd frame: the others are the truth
    texture = textured(48, 64, seed=4)
    truth = [(shifted(texture, -2.0 * k, -1.0 * k)[0][0].permute(1, 2, 0) * 255).round().byte().numpy()
             for k in range(9)]
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(truth[::2]):
        Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")
    errors = {}
    for mode in ("auto", "off"):
        out = tmp_path / mode
        img2gif.upconvert(folder, f"{out}/", multiply=2, source_fps=10, device="cpu",
                          settings=FitSettings(working_size=24, refine=mode))
        made = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(out.glob("*.png"))]
        assert all(np.array_equal(made[2 * k], truth[2 * k]) for k in range(4))  # given frames exact
        errors[mode] = np.mean([np.abs(made[k].astype(float) - truth[k])[6:-6, 6:-6].mean() for k in (1, 3, 5)])
    assert errors["auto"] < 0.95 * errors["off"], errors  # 0.58 against 0.68 levels
