"""Outputs and the copied audio under attack (issue 28): each cause proved with the real failure.

Real files made with the ffmpeg binary, a real full disk (a small tmpfs: root only, skipped
elsewhere), real signals to a real img2gif process, real non-UTF-8 names. The promise: bad
input is one "error:" line and exit 2, no traceback, no partial output, the previous file at
the path intact; the summary says what the file holds.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from conftest import blob_image, invoke as run, stderr_error as one_error
from helpers import assert_previous_intact, child_env, default_signals, previous_at, small_disk
from img2gif import timing
from img2gif.errors import Img2GifError
from img2gif.writers import has_audio, write_animation

FF = imageio_ffmpeg.get_ffmpeg_exe()
FAST = ["--working-size", "32", "-q"]


def ffmpeg(*args):
    subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *map(str, args)], check=True)


def frames_folder(folder: Path, n=4) -> Path:
    folder.mkdir()
    for k in range(n):
        Image.fromarray(blob_image(24, 32, shift=(k, 0))).save(folder / f"frame_{k:04d}.png")
    return folder


def av_clip(path: Path, audio="-c:a aac", seconds=0.6, audio_source="sine=frequency=440", audio_seconds=None) -> Path:
    """0.6 s of video with a sound ``audio_seconds`` long (as long as the video by default)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=48x32:rate=10:duration={seconds}",
           "-f", "lavfi", "-i", f"{audio_source}:duration={audio_seconds or seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           *audio.split(), path)
    return path


def temps_beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith("."))


# --- 1. an output inside an input folder --------------------------------------------------

def test_output_inside_the_frames_folder_is_refused(tmp_path):
    folder = frames_folder(tmp_path / "frames")
    before = sorted(os.listdir(folder))
    (tmp_path / "link").symlink_to(folder)
    for output in (folder / "frame_0099.png", folder / "out.mp4", f"{folder}/sub/", tmp_path / "link" / "x.gif", f"{folder}/"):
        line = one_error(run("animate", folder, "--source-fps", "10", "--multiply", "2", "-o", output, *FAST))
        assert "input" in line, line
        assert sorted(os.listdir(folder)) == before, output


def test_default_output_of_a_folder_is_beside_it_named_from_its_real_name(tmp_path, monkeypatch):
    folder = frames_folder(tmp_path / "shots")
    before = sorted(os.listdir(folder))
    monkeypatch.chdir(folder)
    for source in (".", "./", "../shots/"):
        result = run("animate", source, "--source-fps", "10", "--multiply", "2", *FAST)  # twice the same: both work
        assert result.exit_code == 0, result.output
        assert sorted(os.listdir(folder)) == before
        assert (tmp_path / "shots_smooth.mp4").is_file()


def test_training_outputs_inside_the_image_folders_are_refused(tmp_path):
    data = tmp_path / "data"
    for side in ("start", "end"):
        (data / side).mkdir(parents=True)
        Image.fromarray(blob_image(16, 16)).save(data / side / "0.png")
    for output in (data / "start" / "model.pt", data / "end" / "m.pt"):
        line = one_error(run("train", "--data", data, "--paired", "-o", output, "--steps", "1", "-q"))
        assert "inside the input folder" in line
    assert sorted(os.listdir(data / "start")) == ["0.png"]


# --- 2. a full disk while the audio is copied ---------------------------------------------

def test_full_disk_during_the_audio_copy_is_a_failed_write(tmp_path):
    # 20 s of loud noise: the video is a few KB, its copy with the sound ~550 KB
    short = av_clip(tmp_path / "loud.mp4", "-c:a aac -b:a 256k", audio_source="anoisesrc=a=0.5", audio_seconds=20)
    assert os.path.getsize(short) > 400_000  # the sound is the bulk of it
    with small_disk(tmp_path / "disk", free_bytes=200_000) as disk:
        target = previous_at(disk / "out.mp4")
        line = one_error(run("animate", short, "--multiply", "2", "-o", target, *FAST))
        assert "out.mp4: cannot write (copying the audio: " in line and "No space left" in line, line
        assert_previous_intact(target)


# --- 3. the audio-copy temp file is one of the scheme --------------------------------------

def test_longest_legal_output_name_gets_its_audio(tmp_path):
    src = av_clip(tmp_path / "av.mp4")
    target = tmp_path / ("n" * 240 + ".mp4")
    result = run("animate", src, "--multiply", "2", "-o", target, *FAST)
    assert result.exit_code == 0 and "audio copied" in result.stderr, result.output
    assert has_audio(target) and temps_beside(target) == []


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_run_killed_while_copying_the_audio(tmp_path, how):
    # a minute of 96 kHz noise in FLAC (~10 MB): the copy lasts long enough to be caught
    clip = av_clip(tmp_path / "av.mp4", "-c:a flac", audio_source="anoisesrc=a=0.5:r=96000", audio_seconds=60)
    out = tmp_path / "out"
    out.mkdir()
    target = previous_at(out / "o.mp4")
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "img2gif", "animate", str(clip), "--multiply", "2", "-o", str(target),
                                 *FAST], env=child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=default_signals)
        caught = False
        while proc.poll() is None:
            if len(temps_beside(target)) >= 2:  # the video's temp file and the copy's
                proc.send_signal(getattr(signal, how))
                caught = True
                break
        proc.communicate(timeout=120)
        if caught:
            break
        target.write_bytes(b"the previous file at this path; it must survive\n")
    assert caught, "the audio copy was never seen in progress"
    if how == "SIGTERM":
        assert proc.returncode == 130
        time.sleep(0.5)
        assert_previous_intact(target)
        return
    time.sleep(2.0)  # the orphaned ffmpeg finishes its copy
    left = temps_beside(target)
    assert left and all(re.fullmatch(r"\.o\.mp4\.\d+-\w+\.part\.mp4", n) for n in left), left
    assert run("animate", clip, "--multiply", "2", "-o", target, *FAST).exit_code == 0  # the next run cleans up
    assert temps_beside(target) == [] and has_audio(target)


# --- 14. the source's offset between its video and its audio -------------------------------

def _flashes_and_clicks(path: Path) -> tuple[list[float], list[float]]:
    """When the video turns white and when the sound starts, on the file's one timeline."""
    err = subprocess.run([FF, "-hide_banner", "-nostdin", "-i", f"file:{path}", "-filter_complex",
                          "[0:v:0]showinfo[v];[0:a:0]silencedetect=n=-30dB:d=0.05[a]", "-map", "[v]", "-map", "[a]",
                          "-f", "null", "-"], capture_output=True).stderr.decode(errors="replace")
    flashes, bright_before = [], False
    for m in re.finditer(r"pts_time:\s*([-\d.e]+).*?mean:\[(\d+)", err):
        bright = int(m.group(2)) > 128
        if bright and not bright_before:
            flashes.append(float(m.group(1)))
        bright_before = bright
    return flashes, [float(t) for t in re.findall(r"silence_end: ([-\d.e]+)", err)]


def _offset_clip(tmp_path: Path, video_start: float, audio_start: float) -> Path:
    """Black video at 10 fps with one white frame, and a click at the same moment; the video's
    first frame at ``video_start`` s, the sound's first sample at ``audio_start`` s."""
    at = 1.5
    video, audio = tmp_path / "v.mp4", tmp_path / "a.m4a"
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:size=64x48:rate=10:duration=3,"
           f"geq=lum='if(between(T,{at - video_start},{at - video_start + 0.09}),255,0)':cb=128:cr=128",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", video)
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc='if(between(t,{at - audio_start},{at - audio_start + 0.02}),sin(2*PI*1000*t),0)'"
           ":s=48000:d=3.5", "-c:a", "aac", audio)
    clip = tmp_path / f"v{video_start:g}a{audio_start:g}.mp4"
    ffmpeg("-itsoffset", video_start, "-i", video, "-itsoffset", audio_start, "-i", audio, "-map", "0:v", "-map", "1:a",
           "-c", "copy", clip)
    flashes, clicks = _flashes_and_clicks(clip)
    assert flashes[0] == pytest.approx(clicks[0], abs=0.01)  # the source is in sync
    return clip


@pytest.mark.parametrize("video_start, audio_start", [(1.0, 0.0), (0.0, 1.0)])
def test_the_copied_audio_keeps_the_sources_offset(tmp_path, video_start, audio_start):
    clip = _offset_clip(tmp_path, video_start, audio_start)
    out = tmp_path / "out.mp4"
    result = run("animate", clip, "--multiply", "2", "-o", out, *FAST)
    assert result.exit_code == 0 and "audio copied" in result.stderr, result.output
    flashes, clicks = _flashes_and_clicks(out)
    # a flash is no scene cut (the same picture, lit): crossfaded, it is brightest at its own time
    assert clicks[0] - flashes[0] == pytest.approx(0.0, abs=0.03), (flashes, clicks)


# --- 15. the summary says what the file holds -----------------------------------------------

@pytest.mark.parametrize("name, codec, held", [("alaw.mov", "pcm_alaw", False), ("alaw.mkv", "pcm_alaw", False),
                                                ("aac.mkv", "aac", True)])
def test_the_summary_says_whether_the_file_has_the_audio(tmp_path, name, codec, held):
    clip = av_clip(tmp_path / name, f"-c:a {codec}")
    out = tmp_path / "out.mp4"
    result = run("animate", clip, "--multiply", "2", "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    assert has_audio(out) == held
    assert ("audio copied" in result.stderr) == held and ("written without audio" in result.stderr) != held
    if not held:
        assert "pcm_alaw" in result.stderr  # the warning says why


# --- 8. frames x plays x pixels --------------------------------------------------------------

def test_an_mp4_play_count_is_bounded_before_any_work(tmp_path, image_files):
    a, _ = image_files
    target = previous_at(tmp_path / "many.mp4")
    started = time.monotonic()
    line = one_error(run("animate", a, "--model", "digits", "--loop", "65535", "-o", target, "--frames", "60", "-q"))
    assert "written" in line and "over the limit" in line, line
    assert time.monotonic() - started < 30
    assert_previous_intact(target)
    # holds repeat frames in an MP4 too
    line = one_error(run("animate", a, "--model", "digits", "--hold-end", "60", "--fps", "240", "-o", target,
                         "--frames", "4", "-q", env={"IMG2GIF_MAX_OUTPUT_PIXELS": "10000000"}))
    assert "over the limit" in line


# --- 16. the output rate's minimum -------------------------------------------------------------

def test_a_slow_output_rate_is_refused_up_front(tmp_path):
    for k in range(3):
        Image.fromarray(blob_image(24, 32, shift=(k, 0))).save(tmp_path / f"f{k}.png")
    slow = tmp_path / "slow.mp4"  # one frame every 100 s (0.01 fps)
    ffmpeg("-framerate", "1/100", "-i", tmp_path / "f%d.png", "-c:v", "libx264", "-pix_fmt", "yuv420p", slow)
    for ext, extra in ((".mp4", ["--multiply", "2"]), (".png", ["--multiply", "4"]), (".gif", ["--fps", "0.05"]),
                       ("/", ["--multiply", "2"])):
        target = tmp_path / f"out{ext}" if ext == "/" else previous_at(tmp_path / f"out{ext}")
        line = one_error(run("animate", slow, *extra, "-o", f"{target}{'/' if ext == '/' else ''}", *FAST))
        assert "fps" in line and "0.1" in line, line
        assert not target.exists() if ext == "/" else assert_previous_intact(target) is None
    with pytest.raises(Img2GifError, match="0.1"):
        write_animation(tmp_path / "api.png", [blob_image(8, 8)] * 2, timing.playback(2, 4e-5), fps=4e-5)


# --- 10. names that are not UTF-8 --------------------------------------------------------------

def _bytes_run(args, tmp_path, cwd):
    return subprocess.run([sys.executable.encode(), b"-m", b"img2gif", *[a if isinstance(a, bytes) else str(a).encode()
                                                                        for a in args]],
                          env=child_env(tmp_path), cwd=cwd, capture_output=True)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix" or sys.platform == "darwin", reason="file names are bytes on Linux")
def test_names_that_are_not_utf8(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    Image.fromarray(blob_image(24, 32)).save(work / "a.png")
    os.rename(work / "a.png", os.path.join(os.fsencode(work), b"\xff\xfe.png"))
    Image.fromarray(blob_image(24, 32, shift=(2, 1))).save(work / "b.png")
    cases = [
        ([b"\xff\xfe.png", b"b.png"], b"\xff\xfe_to_b.gif"),           # derived from the input's name
        ([b"b.png", b"\xff\xfe.png", b"-o", b"\xff.gif"], b"\xff.gif"),  # given
        ([b"b.png", b"\xff\xfe.png", b"-o", b"\xe9" * 200 + b".mp4"], b"\xe9" * 200 + b".mp4"),  # long: temp name cut
    ]
    for args, made in cases:
        done = _bytes_run(["animate", *args, "--frames", "4", *FAST], tmp_path, work)
        err = done.stderr.decode(errors="replace")
        assert done.returncode == 0 and "Traceback" not in err, err
        assert os.path.isfile(os.path.join(os.fsencode(work), made))
        assert "\\xff" in err or "\\xe9" in err  # the name shown escaped, byte for byte
    frames = os.path.join(os.fsencode(tmp_path), b"fr\xff")
    os.mkdir(frames)
    for k in range(3):
        Image.fromarray(blob_image(24, 32, shift=(k, 0))).save(os.fsdecode(os.path.join(frames, b"%d.png" % k)))
    done = _bytes_run(["animate", frames, b"--source-fps", b"10", b"--multiply", b"2", *FAST], tmp_path, tmp_path)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert os.path.isfile(os.path.join(os.fsencode(tmp_path), b"fr\xff_smooth.mp4"))
    assert not [n for n in os.listdir(os.fsencode(work)) if n.startswith(b".")]
