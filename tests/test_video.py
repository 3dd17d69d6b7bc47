"""Video in: a file or a folder of frames up-converted as it is decoded; cuts, audio, bad input."""
import os
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from img2gif import timing
from img2gif.errors import InputError, OptionError
from img2gif.clip import open_source, target_rate
from img2gif.gaps import is_cut
from img2gif.writers import write_animation

from conftest import blob_image, cli, moving_frames, one_error

FAST = ["--working-size", "32", "-q"]






@pytest.fixture
def folder(tmp_path):
    out = tmp_path / "frames"
    out.mkdir()
    for k, frame in enumerate(moving_frames()):
        Image.fromarray(frame).save(out / f"frame_{k:04d}.png")
    return out


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    write_animation(path, moving_frames(8), timing.playback(8, 10), fps=10)
    return path


def read_folder(path):
    names = sorted(n for n in os.listdir(path) if n.endswith(".png"))
    return [np.asarray(Image.open(path / n).convert("RGB")) for n in names]


def test_folder_doubled_keeps_every_source_frame(tmp_path, folder):
    out = tmp_path / "out"
    result = cli("animate", folder, "--source-fps", "10", "--multiply", "2", "-o", f"{out}/", *FAST)
    assert result.exit_code == 0, result.output
    frames, source = read_folder(out), moving_frames()
    assert len(frames) == 2 * (len(source) - 1) + 1
    for k, frame in enumerate(source):
        assert np.array_equal(frames[2 * k], frame)
    assert "0 scene cuts" in result.output


def test_video_file_to_a_higher_rate(tmp_path, clip):
    out = tmp_path / "smooth.mp4"
    result = cli("animate", clip, "--fps", "30", "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    count, seconds = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert count == 22 and seconds == pytest.approx(22 / 30, abs=0.05)  # 7 gaps of 1/10 s at 30 fps, + 1


def test_a_play_count_reaches_a_gif_from_a_video(tmp_path, clip):
    from img2gif.gif import read_blocks

    out = tmp_path / "three.gif"
    result = cli("animate", clip, "--multiply", "2", "--loop", "3", "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    assert read_blocks(out.read_bytes())[2] == 2


def test_slow_motion_plays_at_the_playback_rate(tmp_path, clip):
    out = tmp_path / "slow.gif"
    result = cli("animate", clip, "--multiply", "3", "--playback-fps", "10", "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    with Image.open(out) as im:
        assert im.n_frames == 22
        total = 0
        for k in range(im.n_frames):
            im.seek(k)
            total += im.info["duration"]
    assert total == 2200


def test_audio_is_copied_at_an_unchanged_duration(tmp_path):
    src = tmp_path / "av.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc=size=48x32:rate=10:duration=0.6",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=0.6", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(src)], check=True)
    out = tmp_path / "av2.mp4"
    result = cli("animate", src, "--multiply", "2", "-o", out, *FAST)
    assert result.exit_code == 0 and "audio copied" in result.output, result.output
    reader = imageio_ffmpeg.read_frames(str(out))
    assert next(reader).get("audio_codec") == "aac"
    reader.close()
    slow = tmp_path / "slow.mp4"
    result = cli("animate", src, "--multiply", "2", "--playback-fps", "5", "-o", slow, *FAST)
    assert result.exit_code == 0 and "audio copied" not in result.output


def test_a_scene_cut_is_never_warped_across(tmp_path):
    first = moving_frames(3)
    second = [255 - blob_image(40, 48, seed=7, shift=(k, 0)) for k in range(3)]
    folder = tmp_path / "cut"
    folder.mkdir()
    for k, frame in enumerate(first + second):
        Image.fromarray(frame).save(folder / f"{k:03d}.png")
    assert is_cut(first[-1], second[0]) and not is_cut(first[0], first[1])
    out = tmp_path / "out"
    result = cli("animate", folder, "--source-fps", "10", "--multiply", "4", "-o", f"{out}/", *FAST)
    assert result.exit_code == 0 and "1 scene cut " in result.output, result.output
    frames = read_folder(out)
    # the cut gap is source frames 2 -> 3, output frames 8 ... 12: the two sides, nothing between
    for j in range(9, 12):
        assert np.array_equal(frames[j], first[-1]) or np.array_equal(frames[j], second[0])
    assert np.array_equal(frames[9], first[-1]) and np.array_equal(frames[11], second[0])


# --- bad input ----------------------------------------------------------------------------

def test_rate_checks(folder):
    source = open_source(folder, 10)
    assert target_rate(source, 30, None) == (30.0, 16)
    for fps, multiply, words in ((5, None, "below"), (None, 1, "--multiply"), (None, None, "one of them"),
                                 (30, 2, "one of them")):
        with pytest.raises(OptionError, match=words):
            target_rate(source, fps, multiply)


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(b"not a video"), "not a video ffmpeg can decode"),
    (lambda p: p.write_bytes(b""), "not a video ffmpeg can decode"),
])
def test_undecodable_video_is_one_line(tmp_path, make, words):
    bad = tmp_path / "bad.mp4"
    make(bad)
    line = one_error(cli("animate", bad, "--fps", "30", "-o", tmp_path / "x.mp4", *FAST))
    assert words in line and str(bad) in line
    assert sorted(os.listdir(tmp_path)) == ["bad.mp4"]


def test_one_frame_video_is_refused(tmp_path):
    one = tmp_path / "one.mp4"
    write_animation(one, moving_frames(1) * 1, timing.playback(1, 10), fps=10)
    line = one_error(cli("animate", one, "--multiply", "2", "-o", tmp_path / "x.mp4", *FAST))
    assert "one frame" in line


def test_folder_problems_are_one_line(tmp_path, folder):
    (folder / "notes.txt").write_text("hello")
    line = one_error(cli("animate", folder, "--source-fps", "10", "--multiply", "2", "-o", tmp_path / "x.mp4", *FAST))
    assert "notes.txt" in line and "not a numbered frame" in line
    (folder / "notes.txt").unlink()
    Image.fromarray(blob_image(30, 30)).save(folder / "frame_9999.png")
    line = one_error(cli("animate", folder, "--source-fps", "10", "--multiply", "2", "-o", tmp_path / "x.mp4", *FAST))
    assert "frame_9999.png" in line and "one size" in line
    assert not (tmp_path / "x.mp4").exists()
    line = one_error(cli("animate", folder, "--multiply", "2", "-o", tmp_path / "x.mp4", *FAST))
    assert "--source-fps" in line


@pytest.mark.parametrize("extra, words", [
    (["--fps", "5"], "below the source"),
    (["--multiply", "1"], "--multiply"),
    (["--loop", "pingpong", "--multiply", "2"], "does not apply to a video"),
    (["--multiply", "2", "--playback-fps", "100", "-o", "fast.gif"], "at most 50"),
    (["--multiply", "2", "--loop", "3"], "would repeat an up-converted video"),
    (["--multiply", "2", "--warm-steps", "10,10"], "give 3 whole numbers"),
    (["--multiply", "2", "--warm-steps", "0,0,0"], "not all 0"),
    (["--multiply", "2", "--warm-steps", "5,x,5"], "--warm-steps"),
])
def test_video_option_errors(tmp_path, clip, extra, words, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["animate", clip, *extra] + ([] if "-o" in extra else ["-o", "x.mp4"])
    line = one_error(cli(*args, *FAST))
    assert words in line
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]


def test_video_options_on_images_are_refused(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(blob_image()).save(a)
    Image.fromarray(blob_image(shift=(2, 0))).save(b)
    line = one_error(cli("animate", a, b, "--multiply", "2", "-o", tmp_path / "x.gif", *FAST))
    assert "--multiply applies to a video" in line
    line = one_error(cli("animate", a, b, "--warm-steps", "0,15,15", "-o", tmp_path / "x.gif", *FAST))
    assert "--warm-steps applies to a video or three or more keyframes" in line
    assert not (tmp_path / "x.gif").exists()


def test_fit_is_refused_where_there_is_no_b_to_fit(tmp_path):
    """--fit makes B A's size: with A alone and --model, or --from (both images in the file), it would be ignored."""
    a = tmp_path / "a.png"
    Image.fromarray(blob_image()).save(a)
    line = one_error(cli("animate", a, "--model", "digits", "--fit", "pad", "-o", tmp_path / "x.gif", *FAST))
    assert "--fit" in line and "--model" in line
    line = one_error(cli("animate", "--from", tmp_path / "pair.pt", "--fit", "stretch", "-o", tmp_path / "x.gif"))
    assert "--fit" in line and "--from" in line
    assert not (tmp_path / "x.gif").exists()


def test_warm_steps_from_the_command_line_reach_the_later_gaps(tmp_path, folder, monkeypatch):
    """The option is what the fits are given: a spy on pair.fit_pairs records each gap's steps."""
    import img2gif.pair as pair_module

    steps = []
    real = pair_module.fit_pairs

    def recording(pairs, settings, *rest, **options):
        steps.extend([tuple(settings.steps)] * len(pairs))
        return real(pairs, settings, *rest, **options)

    monkeypatch.setattr(pair_module, "fit_pairs", recording)
    result = cli("animate", folder, "--source-fps", "10", "--multiply", "2", "--warm-steps", "0,3,2",
                 "-o", tmp_path / "w.mp4", *FAST)
    assert result.exit_code == 0, result.output
    # 6 frames, 5 gaps: the first from the shift search with the full schedule, the rest warm
    assert steps == [(80, 50, 30)] + [(0, 3, 2)] * 4


def test_api_upconvert(tmp_path, folder):
    import img2gif

    result = img2gif.upconvert(folder, tmp_path / "api.mp4", multiply=2, source_fps=10, device="cpu",
                               settings=img2gif.FitSettings(working_size=32))
    assert result.frames_written == 11 and result.cuts == 0


def test_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_source(tmp_path / "missing.mp4")


def test_a_cut_off_video_is_one_line(tmp_path, clip):
    cut = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    result = cli("animate", cut, "--multiply", "2", "-o", tmp_path / "x.mp4", *FAST)
    assert result.exit_code == 2 and str(cut) in one_error(result)
    assert not (tmp_path / "x.mp4").exists()


def test_source_frames_stay_exact_at_an_odd_rate(tmp_path, folder):
    out = tmp_path / "odd"
    result = cli("animate", folder, "--source-fps", "29.97", "--multiply", "3", "-o", f"{out}/", *FAST)
    assert result.exit_code == 0, result.output
    frames = read_folder(out)
    assert all(np.array_equal(frames[3 * k], f) for k, f in enumerate(moving_frames()))


@pytest.mark.parametrize("extra", [["--duration", "3"], ["--frames", "9"], ["--hold-end", "1"], ["--ease", "smooth"],
                                   ["--fit", "pad"], ["--fit", "crop"]])
def test_options_a_video_cannot_use_are_refused(tmp_path, clip, extra):
    line = one_error(cli("animate", clip, "--multiply", "2", *extra, "-o", tmp_path / "x.mp4", *FAST))
    assert "does not apply to a video" in line


def test_a_rotated_video_comes_out_upright(tmp_path):
    """A phone's portrait clip: stored 64x48 with a 90-degree display rotation."""
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    flat, rotated = tmp_path / "flat.mp4", tmp_path / "rot.mp4"
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=10:duration=0.4", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(flat)],
                   check=True)
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-display_rotation", "90", "-i", str(flat),
                    "-c", "copy", str(rotated)], check=True)
    out = tmp_path / "up"
    import sys  # the installed command in a process of its own: pytest would catch a library's log line
    from pathlib import Path

    done = subprocess.run([sys.executable, "-m", "img2gif", "animate", str(rotated), "--multiply", "2", "-o", f"{out}/",
                           *FAST], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("wrote"), lines  # no library warning
    assert Image.open(out / "frame_0001.png").size == (48, 64)


def test_size_caps_the_frames_as_they_are_decoded(tmp_path, folder):
    out = tmp_path / "small"
    result = cli("animate", folder, "--source-fps", "10", "--multiply", "2", "--size", "24", "-o", f"{out}/", *FAST)
    assert result.exit_code == 0, result.output
    frames = read_folder(out)
    assert len(frames) == 11 and all(f.shape == (20, 24, 3) for f in frames)


@pytest.fixture
def vfr_clip(tmp_path):
    """A variable-rate MP4 (a phone's kind): 4 frames 0.1 s apart, then 4 frames 0.3 s apart."""
    for k, frame in enumerate(moving_frames(8)):
        Image.fromarray(frame).save(tmp_path / f"f{k}.png")
    path = tmp_path / "vfr.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-framerate", "10", "-i",
                    str(tmp_path / "f%d.png"), "-vf", "setpts='if(lt(N,4),N,4+(N-4)*3)'",
                    "-fps_mode", "vfr", "-video_track_timescale", "1000", "-c:v", "libx264", "-bf", "0",
                    "-pix_fmt", "yuv444p", "-crf", "0", str(path)], check=True)
    return path


def test_a_variable_rate_video_keeps_its_timestamps(tmp_path, vfr_clip):
    source = open_source(vfr_clip)
    assert source.count == 8
    assert np.allclose(source.frame_times(), [0, 0.1, 0.2, 0.3, 0.4, 0.7, 1.0, 1.3], atol=2e-3)
    assert source.fps == pytest.approx(7 / 1.3, rel=1e-3)  # the average rate
    fps, count = target_rate(source, 10, None)
    assert count == 14  # 1.3 s at 10 fps, + 1
    decoded = list(source.frames())  # each stored frame once, not repeated to fill a constant rate
    assert len(decoded) == 8
    out = tmp_path / "out"
    result = cli("animate", vfr_clip, "--fps", "10", "-o", f"{out}/", *FAST)
    assert result.exit_code == 0, result.output
    frames = read_folder(out)
    assert len(frames) == 14
    for i, j in enumerate([0, 1, 2, 3, 4, 7, 10, 13]):  # source frame i is at 0.1 j s
        assert np.array_equal(frames[j], decoded[i]), (i, j)
    diff = lambda x, y: float(np.abs(x.astype(int) - y.astype(int)).mean())  # noqa: E731
    # within the 0.3 s gaps the motion goes on: no frame is a copy of a source frame
    for j in (5, 6, 8, 9):
        assert diff(frames[j], frames[4 if j < 7 else 7]) > 0.5 and diff(frames[j], frames[7 if j < 7 else 10]) > 0.5
    assert open_source(vfr_clip, source_fps=5).times == ()  # --source-fps sets an even rate


def test_an_even_rate_video_has_no_timestamp_list(clip):
    source = open_source(clip)
    assert source.times == () and source.fps == pytest.approx(10) and source.count == 8


def _double_the_rate(tmp_path, frames) -> tuple[str, list[np.ndarray]]:
    """``frames`` as a numbered folder at 10 fps through ``animate --multiply 2``: (summary, frames out)."""
    folder = tmp_path / "given"
    folder.mkdir()
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"frame_{k:04d}.png")
    result = cli("animate", folder, "--source-fps", "10", "--multiply", "2", "-o", f"{tmp_path / 'out'}/", *FAST)
    assert result.exit_code == 0, result.output
    return result.output, read_folder(tmp_path / "out")


def test_a_gap_the_warp_cannot_explain_is_crossfaded_and_counted(tmp_path):
    """A dissolve between two photos (30 % of the second mixed in): under the cut thresholds,
    and no warp of the first is the mix."""
    from img2gif.scenes import package_photos

    pytest.importorskip("skimage")
    photos = package_photos()
    first, other = (np.asarray(Image.open(photos[k]).convert("RGB").resize((64, 36), Image.Resampling.BILINEAR), float)
                    for k in (0, 2))
    mixed = np.round(0.7 * first + 0.3 * other).astype(np.uint8)
    first = first.astype(np.uint8)
    assert not is_cut(first, mixed)
    summary, out = _double_the_rate(tmp_path, [first, first, mixed, mixed])
    assert "0 scene cuts" in summary and "1 gap crossfaded" in summary
    middle = out[3]  # between frames 1 and 2
    assert np.abs(middle.astype(int) - (first.astype(int) + mixed) / 2).max() <= 1


def test_a_small_change_the_warp_leaves_is_warped_not_crossfaded(tmp_path):
    """A flat frame turning to faint grain: nothing in A to move, but what is left (3.5 levels)
    is too faint to count; the gap stays warped (a crossfade would also break the next gap's
    warm start and its neighbours' bend)."""
    rng = np.random.default_rng(0)
    flat = np.full((24, 32, 3), 128, np.uint8)
    grain = (128 + rng.integers(0, 8, (24, 32, 1))).repeat(3, 2).astype(np.uint8)
    summary, _ = _double_the_rate(tmp_path, [flat, flat, grain, grain])
    assert "0 scene cuts" in summary and "0 gaps crossfaded" in summary


@pytest.mark.parametrize("left, unwarped, warped", [
    (5.0, 5.5, False),    # most of a visible change left: crossfaded
    (4.9, 4.9, True),     # all of it left, but too faint to count
    (10.0, 12.0, True),   # visible, but the warp explains a sixth of it
    (7.0, 0.0, True),     # identical frames: nothing to explain
])
def test_the_crossfade_rule(left, unwarped, warped):
    from img2gif.gaps import warp_explains

    class Fitted:
        def residual(self):
            return left, unwarped

    assert warp_explains(Fitted()) is warped
