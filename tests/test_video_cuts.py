"""Scene cuts are decided on what the motion cannot explain, among neighbouring gaps: two shots
spliced are a cut; a fast pan, a zoom, a close object, a flash and a dissolve are not.

Clips are generated (``img2gif.scenes``: the package's photos moved with known motion)."""
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import cli
from img2gif.scenes import SceneGenerator, SceneSettings, package_photos
from img2gif.gaps import CUT_CORRELATION, CUT_LEVELS, CUT_RATIO, STILL_GAP, GapFit, gap_kind, is_cut

SIZE = (72, 128)
FAST = ["--working-size", "96", "-q"]


def as_uint8(x: torch.Tensor) -> np.ndarray:
    return (x.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def shot(seed: int, frames: int = 5, photos=None, **settings) -> list[np.ndarray]:
    """One continuous shot: ``frames`` frames along one generated motion."""
    generator = SceneGenerator(SceneSettings(size=SIZE, **settings), photos=photos)
    scene = generator.scene(seed, [k / (frames - 1) for k in range(1, frames - 1)])
    return [as_uint8(scene.a)] + [as_uint8(f) for f in scene.frames] + [as_uint8(scene.b)]


def up(tmp_path, frames, name="clip"):
    """The frames as a 10 fps folder through ``animate --multiply 2``: its summary line."""
    folder = tmp_path / name
    folder.mkdir()
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")
    result = cli("animate", folder, "--source-fps", "10", "--multiply", "2", "-o", f"{tmp_path / (name + '-out')}/", *FAST)
    assert result.exit_code == 0, result.output
    return result.output


# --- the rule ----------------------------------------------------------------------------------

def fit(left, agreement=0.0, unwarped=None):
    return GapFit(left, 2 * left if unwarped is None else unwarped, agreement)


def test_gap_kind_cut_needs_a_change_left_that_is_not_the_same_picture_and_stands_out():
    calm = [fit(10.0, 0.85), fit(10.0, 0.75)]                     # 1 - agreement: 0.2 on average
    assert gap_kind(fit(CUT_LEVELS, 1 - CUT_RATIO * 0.2), calm) == "cut"
    assert gap_kind(fit(CUT_LEVELS, 1 - CUT_RATIO * 0.2 + 0.01), calm) == "warp"   # does not stand out
    restless = [fit(10.0, 0.3), fit(10.0, 0.3)]
    assert gap_kind(fit(50.0, 0.0, unwarped=100.0), restless) == "warp"            # nor here
    assert gap_kind(fit(50.0, CUT_CORRELATION + 0.01), [STILL_GAP]) == "warp"     # the same picture, changed
    assert gap_kind(fit(CUT_LEVELS - 0.1, 0.0), [STILL_GAP]) == "warp"           # too little left to be a cut
    assert gap_kind(fit(CUT_LEVELS, CUT_CORRELATION), [STILL_GAP]) == "cut"       # after a still shot


def test_gap_kind_a_run_of_unexplained_gaps_is_crossfaded_not_cut():
    """A dissolve over several frames, or motion the fit misses on every gap: no gap stands out."""
    run = [fit(40.0, 0.3, unwarped=42.0), fit(40.0, 0.3, unwarped=42.0)]
    assert gap_kind(fit(40.0, 0.3, unwarped=42.0), run) == "crossfade"


def test_gap_kind_without_neighbours_also_asks_the_raw_test():
    lone = fit(60.0, 0.1, unwarped=61.0)
    assert gap_kind(lone, [], looks_like_cut=True) == "cut"
    assert gap_kind(lone, [], looks_like_cut=False) == "crossfade"


# --- generated footage -------------------------------------------------------------------------

def test_two_shots_spliced_are_one_cut(tmp_path):
    summary = up(tmp_path, shot(1) + shot(2))
    assert "1 scene cut " in summary, summary


def test_a_cut_between_two_pans_of_the_same_colours_is_found(tmp_path):
    """The raw test misses it (one texture, then the same texture turned round: the same
    colours); the motion does not."""
    gravel = next(p for p in package_photos() if p.stem == "gravel")
    pan = dict(layers=(0, 0), background_shift=0.15, photos=[gravel, gravel])
    first, second = shot(3, **pan), [frame[::-1, ::-1].copy() for frame in shot(4, **pan)]
    assert not is_cut(first[-1], second[0])
    summary = up(tmp_path, first + second)
    assert "1 scene cut " in summary, summary


@pytest.mark.parametrize("name, settings", [
    ("fast pan", dict(layers=(0, 0), background_shift=0.3)),
    ("zoom", dict(layers=(0, 0), background_shift=0.05, max_zoom=1.8)),
    ("close object", dict(layers=(1, 1), max_shift=0.6, max_zoom=1.5)),
])
def test_fast_motion_is_not_a_cut(tmp_path, name, settings):
    summary = up(tmp_path, shot(5, frames=6, **settings))
    assert "0 scene cuts" in summary, f"{name}: {summary}"


def test_a_flash_is_not_a_cut(tmp_path):
    frames = shot(6, frames=6, layers=(0, 0), background_shift=0.05)
    frames[3] = np.clip(frames[3].astype(float) * 1.7, 0, 255).astype(np.uint8)
    summary = up(tmp_path, frames)
    assert "0 scene cuts" in summary, summary


def test_a_dissolve_is_not_a_cut(tmp_path):
    first, second = shot(7, frames=6, layers=(0, 0), background_shift=0.02), shot(8, frames=6, layers=(0, 0), background_shift=0.02)
    frames = [np.round((1 - w) * a.astype(float) + w * b).astype(np.uint8)
              for w, a, b in zip(np.linspace(0, 1, 6), first, second)]
    summary = up(tmp_path, frames)
    assert "0 scene cuts" in summary, summary
