"""Layered scenes with known motion (img2gif.scenes): shapes, determinism, the true fields."""
import numpy as np
import pytest
import torch

from img2gif.scenes import SceneGenerator, SceneSettings, package_photos
from img2gif.warp import sample

pytest.importorskip("skimage", reason="the scene photos come from scikit-image's sample data")


@pytest.fixture(scope="module")
def clean():
    """No brightness change, no noise: what the fields say is all there is between frames."""
    return SceneGenerator(SceneSettings(size=(48, 64), brightness=0.0, noise=0.0))


def test_package_photos_are_found():
    photos = package_photos()
    assert len(photos) >= 8 and all(p.is_file() for p in photos)


def test_shapes_and_ranges(clean):
    scene = clean.scene(0, times=(0.25, 0.5, 1.0))
    assert scene.a.shape == scene.b.shape == (3, 48, 64)
    assert scene.frames.shape == (3, 3, 48, 64) and scene.fields.shape == (3, 2, 48, 64)
    assert scene.valid.shape == (3, 1, 48, 64) and scene.valid.dtype == torch.bool
    assert torch.equal(scene.times, torch.tensor([0.25, 0.5, 1.0]))
    assert float(scene.a.min()) >= 0 and float(scene.a.max()) <= 1
    assert torch.equal(scene.frames[-1], scene.b)  # t = 1 is B
    noisy = SceneGenerator(SceneSettings(size=(32, 32), noise=0.05)).scene(0, times=(0.5, 1.0))
    assert torch.equal(noisy.frames[-1], noisy.b)  # with noise too: one frame, not two draws
    batch = clean.batch([0, 1], times=(0.5,))
    assert batch.a.shape == (2, 3, 48, 64) and batch.frames.shape == (1, 2, 3, 48, 64)
    assert batch.fields.shape == (1, 2, 2, 48, 64) and torch.equal(batch.a[0], scene.a)
    gray = SceneGenerator(SceneSettings(size=(32, 32)), channels=1).scene(0)
    assert gray.a.shape == (1, 32, 32)


def test_same_seed_same_scene_other_seed_other_scene():
    gen = SceneGenerator(SceneSettings(size=(32, 32)))  # with noise and brightness: they are seeded too
    one, again, other = gen.scene(7, (0.5,)), gen.scene(7, (0.5,)), gen.scene(8, (0.5,))
    for name in ("a", "b", "frames", "fields", "valid"):
        assert torch.equal(getattr(one, name), getattr(again, name)), name
    assert not torch.equal(one.a, other.a)
    assert torch.equal(SceneGenerator(SceneSettings(size=(32, 32))).scene(7, (0.5,)).b, one.b)  # a new generator too


def test_true_field_warps_a_onto_each_frame_where_nothing_is_occluded(clean):
    for seed in range(4):
        scene = clean.scene(seed, times=(0.5, 1.0))
        for k in range(2):
            err = (sample(scene.a[None], scene.fields[k][None])[0] - scene.frames[k]).abs().mean(0)
            valid = scene.valid[k, 0]
            assert 0.3 < float(valid.float().mean()) < 1.0  # layers occlude something, most is seen
            # what remains where valid is bilinear resampling of photo texture (~0.01)
            assert float(err[valid].mean()) < 0.03
            assert float(err[~valid].mean()) > 4 * float(err[valid].mean())  # occlusions are real misses


def test_motion_is_large():
    gen = SceneGenerator(SceneSettings(size=(64, 64), layers=(3, 3)))
    largest = max(float((gen.scene(seed).fields[0] * 31.5).norm(dim=0).amax()) for seed in range(6))
    assert largest > 8  # px at t = 0.5 in a 64-px frame: a cut-out moves up to a quarter of the frame by t = 1


def test_brightness_and_noise_change_b():
    flat = SceneGenerator(SceneSettings(size=(32, 32), brightness=0.0, noise=0.0)).scene(3, (0.5,))
    lit = SceneGenerator(SceneSettings(size=(32, 32), brightness=0.3, noise=0.0)).scene(3, (0.5,))
    assert torch.equal(flat.a, lit.a) and not torch.equal(flat.b, lit.b)
    noisy = SceneGenerator(SceneSettings(size=(32, 32), brightness=0.0, noise=0.05)).scene(3, (0.5,))
    assert 0.02 < float((noisy.a - flat.a).std()) < 0.08


def test_bad_settings_and_inputs(tmp_path):
    with pytest.raises(ValueError, match="size"):
        SceneSettings(size=(8, 64))
    with pytest.raises(ValueError, match="layers"):
        SceneSettings(layers=(3, 1))
    with pytest.raises(ValueError, match="max_shift"):
        SceneSettings(max_shift=1.5)
    with pytest.raises(ValueError, match="at least 2 photos"):
        SceneGenerator(photos=[package_photos()[0]])
    with pytest.raises(ValueError, match="channels"):
        SceneGenerator(channels=4)
    with pytest.raises(ValueError, match="times"):
        SceneGenerator(SceneSettings(size=(32, 32))).scene(0, times=(1.5,))
    with pytest.raises(ValueError, match="times"):
        SceneGenerator(SceneSettings(size=(32, 32))).scene(0, times=())


def test_fast_object_scene_places_the_square_where_it_says():
    from img2gif.scenes import fast_object_scene

    scene = fast_object_scene(2)
    assert scene.a.shape == scene.middle.shape == scene.b.shape == (144, 256, 3)
    assert scene.square.shape == (20, 20, 3)
    for frame, (x, y) in ((scene.a, scene.at_a), (scene.middle, scene.at_middle), (scene.b, scene.at_b)):
        assert np.array_equal(frame[y:y + 20, x:x + 20], scene.square)
    assert abs(scene.at_b[0] - scene.at_a[0]) >= 40  # further than twice its side
    x, y = scene.at_middle
    outside = np.ones(scene.middle.shape[:2], bool)
    outside[y:y + 20, x:x + 20] = False
    assert np.array_equal(scene.middle_background[outside], scene.middle[outside])  # the same frame ...
    assert not np.array_equal(scene.middle_background[~outside], scene.middle[~outside])  # ... less the square
    again = fast_object_scene(2)
    assert np.array_equal(again.middle, scene.middle)  # deterministic


def test_fast_object_scene_refuses_a_square_that_does_not_fit():
    from img2gif.scenes import fast_object_scene

    with pytest.raises(ValueError, match="does not fit"):
        fast_object_scene(0, size=(60, 60), side=20, move=48)
