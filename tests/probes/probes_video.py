"""Attack probes for video input and issue 28's causes: real processes on files crafted with ffmpeg.

    python tests/probes/probes_video.py                  # classes 21-26 (a few minutes); JSON to bench/out/probes_video.json
    python tests/probes/probes_video.py --only 22,25     # some classes
    python tests/probes/probes_video.py --list           # the probes, no run
    python tests/probes/probes_video.py --src DIR        # probe the img2gif package found in DIR (default: this checkout)

The harness, its promise and its outcome kinds are tests/probes/probes.py's (read its docstring). Each
probe here reproduces one of the causes an independent red team found (issue 28), as a real
process on a real file made with the ffmpeg binary imageio-ffmpeg ships (or by hand), on a real
tmpfs where the disk matters. Each says what correct is: ``expect`` ("ok", "error" or
"ok|error"), and a ``check`` (exit 0) or ``verify`` (any exit) that reads the output back with
ffmpeg: frame count, rate from the timestamps, frame size, audio present and where it starts,
no frozen tail, the summary line against the file. Resource probes carry a timeout and a bound
on the whole process tree's peak memory (img2gif and its ffmpeg children), so a regression is a
failure ("hang", "memory"), never a stuck run.

Classes: 21 data loss, 22 names read as URLs, 23 resources, 24 tracebacks, 25 wrong output, 26 feel.
Each probe's name starts with the cause's number in issue 28 ("c12").
"""
from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import probes as H  # noqa: E402
from probes import PREV, Ctx, P, Result, Run, Skip  # noqa: E402

CLASSES = "21,22,23,24,25,26"
VQ = ["--working-size", "32", "-q"]           # every video run: small fit, no progress bar
SUMMARY_VQ = ["--working-size", "32"]         # where the summary line is read (-q hides it)


# ----------------------------------------------------------------------------- ffmpeg

def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ff(*args, timeout=120) -> subprocess.CompletedProcess:
    """Run the ffmpeg binary (quiet, overwrite); Skip the probe if it fails (cannot craft the file)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if done.returncode != 0:
        raise Skip(f"crafting with ffmpeg failed: {done.stderr.decode(errors='replace').strip()[-200:]}")
    return done


def lavfi_clip(path, size="64x48", rate="10", seconds=None, frames=None, audio=None, vcodec=("libx264",),
               extra=(), pre=()):
    """A testsrc2 clip (every frame differs) at ``path``; ``audio``: lavfi audio source text or None."""
    args = [*pre, "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", audio]
    args += ["-map", "0:v"] + (["-map", "1:a"] if audio else [])
    if seconds is not None:
        args += ["-t", str(seconds)]
    if frames is not None:
        args += ["-frames:v", str(frames)]
    args += ["-c:v", *vcodec]
    if vcodec[0] == "libx264":
        args += ["-pix_fmt", "yuv420p"]
    ff(*args, *extra, path)
    return path


def streams(path) -> list[dict]:
    """The streams ffmpeg reads in ``path``: [{'index', 'type', 'codec', 'size'}] (from its stream summary)."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", "file:" + os.fspath(path)],
                          capture_output=True, timeout=60)
    out = []
    for line in done.stderr.decode(errors="replace").splitlines():
        m = re.search(r"Stream #0:(\d+)[^:]*: (Video|Audio|Data|Subtitle): (\w+)", line)
        if m:
            size = re.search(r", (\d{2,5})x(\d{2,5})", line)
            out.append({"index": int(m.group(1)), "type": m.group(2).lower(), "codec": m.group(3),
                        "size": (int(size.group(1)), int(size.group(2))) if size else None})
    return out


def has_audio(path) -> bool:
    return any(s["type"] == "audio" for s in streams(path))


def packet_times(path, selector: str) -> list[float]:
    """Presentation times (s) of the packets of stream ``selector`` ("v:0", "a:0"), as stored (-copyts)."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-copyts",
                           "-i", "file:" + os.fspath(path), "-map", f"0:{selector}", "-c", "copy", "-f", "framecrc", "-"],
                          capture_output=True, timeout=120)
    base, pts = None, []
    for line in done.stdout.decode("ascii", "replace").splitlines():
        if line.startswith("#tb 0:"):
            num, _, den = line.split(":", 1)[1].strip().partition("/")
            base = Fraction(int(num), int(den))
        elif line and not line.startswith("#"):
            f = [x.strip() for x in line.split(",")]
            if len(f) >= 3 and f[0] == "0":
                pts.append(int(f[2]))
    return sorted(float(p * base) for p in pts) if base else []


def decoded_frames(path, stream=0, size=None) -> list[np.ndarray]:
    """Every frame ffmpeg decodes from ``path``'s video stream ``stream`` (of the video streams),
    each once (small clips only); ``size`` (w, h): that stream's size where it is not the first's."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames("file:" + os.fspath(path), pix_fmt="rgb24",
                                     output_params=["-map", f"0:v:{stream}", "-fps_mode", "passthrough"])
    meta = next(gen)
    w, h = size or meta["size"]
    frames = [np.frombuffer(raw, np.uint8).reshape(h, w, 3) for raw in gen]
    return frames


def decoded_count(path) -> int:
    """Frames ffmpeg decodes from the first video stream (not packets)."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", "file:" + os.fspath(path),
                           "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framecrc", "-"],
                          capture_output=True, timeout=120)
    return sum(1 for line in done.stdout.decode("ascii", "replace").splitlines() if line and not line.startswith("#"))


def rate_of(path) -> float:
    """The output's frame rate from its stored timestamps: (frames - 1) / (last - first)."""
    t = packet_times(path, "v:0")
    if len(t) < 2 or t[-1] <= t[0]:
        raise ValueError(f"{path}: {len(t)} video packets, no rate")
    return (len(t) - 1) / (t[-1] - t[0])


def frozen_tail(frames) -> int:
    """How many frames at the end repeat the one before them (an up-conversion of a moving clip has none)."""
    n = 0
    for a, b in zip(frames[::-1][1:], frames[::-1]):
        if np.abs(a.astype(np.int16) - b.astype(np.int16)).max() > 2:
            break
        n += 1
    return n


# ----------------------------------------------------------------------------- checks

def expect_video(rel, frames=None, fps=None, size=None, rel_tol=2e-5, max_frozen=2, audio=None, audio_offset=None,
                 frames_of=None, multiply=2):
    """An exit-0 check of an output video: its frame count, rate (from timestamps), size, no frozen
    tail, audio present or not and the audio's start relative to the video's.

    ``frames_of``: the source (rel) whose decoded frame count sets the expected count (multiply x (n - 1) + 1)."""
    def check(c: Ctx, r: Result):
        path = c.p(rel)
        if not path.is_file():
            return [("lie", f"exit 0 but {rel} was not written")]
        fails = []
        got = decoded_frames(path)
        want = frames
        if frames_of is not None:
            want = multiply * (decoded_count(c.p(frames_of)) - 1) + 1
        if want is not None and len(got) != want:
            fails.append(("lie", f"{rel} holds {len(got)} frames, the source's decoded frames make {want}"))
        if size is not None and got and (got[0].shape[1], got[0].shape[0]) != tuple(size):
            fails.append(("lie", f"{rel} is {got[0].shape[1]}x{got[0].shape[0]}, expected {size[0]}x{size[1]}"))
        if fps is not None:
            rate = rate_of(path)
            if abs(rate - fps) > rel_tol * fps:
                fails.append(("lie", f"{rel} plays at {rate:.6g} fps (from its timestamps), expected {fps:.6g}"))
        if max_frozen is not None and len(got) > 3:
            tail = frozen_tail(got)
            if tail > max_frozen:
                fails.append(("lie", f"{rel}: its last {tail + 1} frames are one frozen frame (a shortfall filled by repeats?)"))
        if audio is not None:
            present = has_audio(path)
            if present != audio:
                fails.append(("lie", f"{rel} {'has no' if audio else 'has an'} audio stream"))
        if audio_offset is not None and has_audio(path):
            v, a = packet_times(path, "v:0"), packet_times(path, "a:0")
            off = a[0] - v[0]
            if abs(off - audio_offset) > 0.05:
                fails.append(("lie", f"{rel}: audio starts {off:+.3f} s from the video, the source's {audio_offset:+.3f} s"))
        return fails
    return check


def summary_true(rel, source_rel, must_say_without=True):
    """A verify of the summary: 'audio copied' only where the file holds audio; a source's audio
    missing from the output is said ('without audio')."""
    def verify(c: Ctx, r: Result):
        if r.rc != 0:
            return []
        text = re.sub(r"\s+", " ", r.stderr + r.stdout)
        path = c.p(rel)
        present = path.is_file() and has_audio(path)
        fails = []
        if "audio copied" in text and not present:
            fails.append(("lie", f"the summary says 'audio copied', {rel} holds no audio stream"))
        if must_say_without and not present and has_audio(c.p(source_rel)) and "without audio" not in text:
            fails.append(("lie", f"{source_rel} has audio, {rel} has none, and no line says it was written without audio"))
        return fails
    return verify


def no_text(*needles, kind="not-one-line"):
    def verify(c: Ctx, r: Result):
        text = r.stderr + r.stdout
        return [(kind, f"{n!r} reached the terminal") for n in needles if n in text]
    return verify


def all_of(*fns):
    def run(c, r):
        out = []
        for fn in fns:
            out += fn(c, r) or []
        return out
    return run


# ----------------------------------------------------------------------------- crafted files (cached per run)

def cached(c: Ctx, name: str, build) -> str:
    """Build ``name`` once per harness run (fixtures folder) and copy it into the probe's folder."""
    src = c.fx.cached("video-" + name, lambda p: build(p))
    if not src.exists():
        raise Skip(f"could not craft {name}")
    return c.copy(src, name)


def _boxes(data: bytes, start: int, end: int):
    i = start
    while i < end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        if size == 1:
            size = struct.unpack(">Q", data[i + 8:i + 16])[0]
        elif size == 0:
            size = end - i
        yield kind, i, size
        i += size


def repeat_by_edit_list(src: bytes, edits: int) -> bytes:
    """An MP4 (moov after mdat, one video track) whose samples play ``edits`` times through an edit
    list of ``edits`` entries: a file of ~12 bytes per entry declaring edits x samples frames, each
    with its own timestamp (ffmpeg's demuxer expands the list into that many packets)."""
    top = list(_boxes(src, 0, len(src)))
    kinds = [k for k, *_ in top]
    if b"moov" not in kinds or b"mdat" not in kinds or kinds.index(b"moov") < kinds.index(b"mdat"):
        raise Skip(f"unexpected MP4 layout {kinds}")
    _, mo, msize = next(b for b in top if b[0] == b"moov")
    moov = src[mo:mo + msize]
    children, movie_dur = [], None
    for kind, off, size in _boxes(moov, 8, len(moov)):
        body = moov[off:off + size]
        if kind == b"mvhd":  # version 0: timescale at 20, duration at 24
            movie_dur = struct.unpack(">I", body[24:28])[0]
            body = body[:24] + struct.pack(">I", min(movie_dur * edits, 0xFFFFFFFF)) + body[28:]
        elif kind == b"trak":
            elst = struct.pack(">I4sII", 16 + 12 * edits, b"elst", 0, edits) + struct.pack(">IiHH", movie_dur, 0, 1, 0) * edits
            edts = struct.pack(">I4s", 8 + len(elst), b"edts") + elst
            parts = []
            for k2, o2, s2 in _boxes(body, 8, len(body)):
                b2 = body[o2:o2 + s2]
                if k2 == b"edts":
                    continue
                if k2 == b"tkhd":  # version 0: duration at 28
                    b2 = b2[:28] + struct.pack(">I", min(movie_dur * edits, 0xFFFFFFFF)) + b2[32:]
                parts.append(b2)
                if k2 == b"tkhd":
                    parts.append(edts)
            inner = b"".join(parts)
            body = struct.pack(">I4s", 8 + len(inner), b"trak") + inner
        children.append(body)
    inner = b"".join(children)
    return src[:mo] + struct.pack(">I4s", 8 + len(inner), b"moov") + inner + src[mo + msize:]


def build_ten_million(path: Path) -> None:
    """~140 KB MP4 declaring 10,000,000 frames: 1000 16x16 H.264 frames, played 10,000 times by its edit list."""
    base = path.with_name("el-base.mp4")
    ff("-f", "lavfi", "-i", "color=c=gray:s=16x16:r=10", "-frames:v", "1000", "-c:v", "libx264", "-g", "100000",
       "-bf", "0", "-pix_fmt", "yuv420p", base)
    path.write_bytes(repeat_by_edit_list(base.read_bytes(), 10_000))


def build_16k(path: Path) -> None:
    """~54 KB MKV: two 16000x16000 frames of one grey (FFV1, 42 slices)."""
    ff("-f", "lavfi", "-i", "color=c=gray:s=16000x16000:r=10", "-frames:v", "2", "-c:v", "ffv1", "-level", "3",
       "-slices", "42", "-pix_fmt", "gray", path)


def build_grow(path: Path) -> None:
    """MKV (MJPEG, header 64x48): five 64x48 frames, then five 16000x16000 ones (~3 MB each, one grey)."""
    small, big, raw = (path.with_name(n) for n in ("grow-small.mjpg", "grow-big.mjpg", "grow.mjpg"))
    ff("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "5", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p",
       "-f", "mjpeg", small)
    ff("-f", "lavfi", "-i", "color=c=gray:s=16000x16000:r=10", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "31",
       "-pix_fmt", "yuvj420p", "-f", "mjpeg", big)
    raw.write_bytes(small.read_bytes() + big.read_bytes() * 5)
    ff("-f", "mjpeg", "-framerate", "10", "-i", raw, "-c", "copy", path)


# ----------------------------------------------------------------------------- 21. data loss

def _frames_folder(c: Ctx, name="F", n=6, h=48, w=64):
    for i in range(n):
        c.img(f"{name}/frame_{i + 1:04d}.png", h, w, shift=(1.5 * i, 0.7 * i))
    return name


P(21, "c1 frames folder: -o F/clip_0007.mp4 inside the input folder (a numbered name)",
  lambda c: (_frames_folder(c), Run(["animate", "F", "--source-fps", "10", "--multiply", "2", "-o", "F/clip_0007.mp4", *VQ],
                                    expect="error", protect=["F", "F/*"]))[-1])
P(21, "c1 `animate .` run inside a frames folder (no -o): default name beside it, from its real name",
  lambda c: (_frames_folder(c), Run(["animate", ".", "--source-fps", "10", "--multiply", "2", *VQ], cwd="F",
                                    expect="ok", outputs=["F_smooth.mp4"], protect=["F", "F/*"], anim="F_smooth.mp4",
                                    check=expect_video("F_smooth.mp4", frames=11, fps=20.0)))[-1])


def _audio_full(c: Ctx):
    # 1 s of video (the up-converted MP4 is ~4 KB) with 1 s of loud noise as AAC (~30 KB):
    # the video-only temp fits in 16 KB, the copy with its sound does not
    lavfi_clip(c.p("loud.mp4"), seconds=1, audio="anoisesrc=sample_rate=48000:amplitude=0.5",
               extra=["-c:a", "aac", "-b:a", "512k", "-ac", "2"])
    c.tmpfs("full", 1024, 16, files={"out.mp4": PREV})
    return Run(["animate", "loud.mp4", "--multiply", "2", "-o", "full/out.mp4", *VQ], expect="error", timeout=120)


P(21, "c2 the audio copy hits a full disk (16 KB free): a failed write, previous out.mp4 kept", _audio_full)


def _is_mux(pid, argv) -> bool:
    """An ffmpeg child reading two inputs (the frames just written and the source's sound) whose
    output (its last argument) is on disk already: the audio copy, caught while it writes."""
    if not argv or "ffmpeg" not in os.path.basename(argv[0]) or argv.count("-i") < 2:
        return False
    out = argv[-1][5:] if argv[-1].startswith("file:") else argv[-1]
    try:
        return os.path.isfile(os.path.join(os.readlink(f"/proc/{pid}/cwd"), out))
    except OSError:
        return False


def _killed_mux(c: Ctx):
    # ten minutes of sound (copied, not encoded) make the copy long enough to be caught
    lavfi_clip(c.p("short.mp4"), seconds=10, audio="sine=frequency=440:sample_rate=48000",
               extra=["-c:a", "aac", "-b:a", "192k"])
    ff("-stream_loop", "60", "-i", c.p("short.mp4"), "-map", "0:a", "-c", "copy", c.p("long.m4a"))
    ff("-t", "1", "-i", c.p("short.mp4"), "-i", c.p("long.m4a"), "-map", "0:v", "-map", "1:a", "-c", "copy", c.p("clip.mp4"))
    for name in ("short.mp4", "long.m4a"):
        c.p(name).unlink()
    killed = c.h.execute(Run(["animate", "clip.mp4", "--multiply", "2", "-o", "out.mp4", *VQ], expect="interrupted",
                             signal=(signal.SIGKILL, ("proc", _is_mux)), timeout=120), c)
    if not killed.signalled:
        raise Skip("the run ended before its audio copy could be killed")
    # the next run to the same output must leave no temp file behind: its own, or the killed run's
    return Run(["animate", "clip.mp4", "--multiply", "2", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"],
               ignore=[".*"], timeout=120, verify=lambda c, r: [
                   ("leftover", f"{n} (a temp file of the killed run, never removed)")
                   for n in sorted(os.listdir(c.w)) if H.is_temp(n)])


P(21, "c3 SIGKILL during the audio copy, then the same run again: no temp file left (the audio temp included)", _killed_mux)
LONG_NAME = "o" * 236 + ".mp4"  # 240 bytes: a legal name
P(21, "c3 legal 240-byte output name with audio: the copy still fits a temp name",
  lambda c: (lavfi_clip(c.p("clip.mp4"), seconds=1, audio="sine=frequency=440:sample_rate=48000"),
             Run(["animate", "clip.mp4", "--multiply", "2", "-o", LONG_NAME, *SUMMARY_VQ], expect="ok", outputs=[LONG_NAME],
                 check=expect_video(LONG_NAME, frames=19, fps=20.0, audio=True),
                 verify=summary_true(LONG_NAME, "clip.mp4")))[-1])


def _sheet_user_file(mask: bool):
    def fn(c: Ctx):
        c.data("D")
        c.img("m-samples/step_0000001.png", 16, 16, seed=5)  # the user's own file at a sheet's path
        extra = ["--still-mask", "m-samples/step_0000001.png", "--still-weight", "1"] if mask else []
        return Run(["train", "--data", "D", "--unpaired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "m.pt",
                    "--sample-every", "1", "-q", *extra], expect="ok|error", protect=["m-samples/step_0000001.png", "D/*/*"],
                   outputs=["m.pt", "m-samples", "m-samples/*"], timeout=120)
    return fn


P(21, "c4 train --sample-every 1 with a user's file at m-samples/step_0000001.png", _sheet_user_file(False))
P(21, "c4 train --sample-every 1 whose --still-mask is m-samples/step_0000001.png", _sheet_user_file(True))


# ----------------------------------------------------------------------------- 22. names read as URLs

def _url_named(name: str, inspect=False):
    """A local file named like a URL ffmpeg knows (concat:, http://, pipe:): 48x32, 8 frames, with
    sound; anything else ffmpeg could read under that name is 64x48 without sound."""
    def fn(c: Ctx):
        lavfi_clip(c.p("a.mp4"), frames=6)
        lavfi_clip(c.p("b.mp4"), frames=6)
        c.p(name).parent.mkdir(parents=True, exist_ok=True)
        lavfi_clip(c.p(name), size="48x32", frames=8, audio="sine=frequency=440:sample_rate=48000",
                   extra=["-t", "0.8"], pre=[])
        if inspect:
            def check(c, r):
                text = re.sub(r"[│┃|]", " ", r.stdout)
                fails = []
                if not re.search(r"size\s+48x32", text):
                    fails.append(("lie", "inspect does not show the local file's size 48x32"))
                if not re.search(r"frames\s+8\b", text):
                    fails.append(("lie", "inspect does not show the local file's 8 frames"))
                return fails
            return Run(["inspect", name], expect="ok", check=check, timeout=60)
        return Run(["animate", name, "--multiply", "2", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"], timeout=60,
                   check=expect_video("out.mp4", frames=15, fps=20.0, size=(48, 32), audio=True))
    return fn


P(22, "c5 animate 'concat:a.mp4|b.mp4' (a local file of that name): the file, its sound copied", _url_named("concat:a.mp4|b.mp4"))
P(22, "c5 animate http://host/x.mp4 while ./http:/host/x.mp4 exists", _url_named("http://host/x.mp4"))
P(22, "c5 animate pipe:0.mp4 (a local file of that name)", _url_named("pipe:0.mp4"))
P(22, "c5 inspect 'concat:a.mp4|b.mp4' (a local file of that name)", _url_named("concat:a.mp4|b.mp4", inspect=True))
P(22, "c5 inspect pipe:0.mp4 (a local file of that name)", _url_named("pipe:0.mp4", inspect=True))


# ----------------------------------------------------------------------------- 23. resources

BOUND = dict(timeout=40, mem_gb=8.0)
P(23, "c6 animate a 140 KB MP4 whose edit list declares 10,000,000 frames: refused fast, bounded",
  lambda c: Run(["animate", cached(c, "ten-million.mp4", build_ten_million), "--multiply", "2", "-o", "out.mp4", *VQ],
                expect="error", max_gb=1.0, **BOUND))
P(23, "c6 inspect the 10,000,000-frame MP4: fast, bounded",
  lambda c: Run(["inspect", cached(c, "ten-million.mp4", build_ten_million)], expect="ok|error", max_gb=1.0, **BOUND))
P(23, "c7 animate a 54 KB MKV of 16000x16000 frames: refused before decoding (peak under 1 GiB)",
  lambda c: Run(["animate", cached(c, "16k.mkv", build_16k), "--multiply", "2", "-o", "out.mp4", *VQ],
                expect="error", max_gb=1.0, **BOUND))
P(23, "c7 inspect the 16000x16000 MKV: peak under 1 GiB",
  lambda c: Run(["inspect", cached(c, "16k.mkv", build_16k)], expect="ok|error", max_gb=1.0, **BOUND))
P(23, "c7 frames grow mid-stream (64x48, then 16000x16000 MJPEG): refused, or never decoded at full size",
  lambda c: Run(["animate", cached(c, "grow.mkv", build_grow), "--multiply", "2", "-o", "out.mp4", *VQ],
                expect="ok|error", max_gb=0.8, outputs=["out.mp4"], check=expect_video("out.mp4", size=(64, 48), max_frozen=None),
                **BOUND))
P(23, "c8 animate a.png b.png --frames 60 --loop 65535 -o out.mp4: bounded (refused or quick)",
  lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.mp4", "--frames", "60", "--loop", "65535",
                          "--working-size", "32", "-q"], expect="ok|error", outputs=["out.mp4"], anim="out.mp4",
                         timeout=60, max_gb=2.0))[-1])
P(23, "c8 animate a.png b.png --frames 60 --loop 65535 -o out.webp: a stored count, quick",
  lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", "out.webp", "--frames", "60", "--loop", "65535",
                          "--working-size", "32", "-q"], expect="ok|error", outputs=["out.webp"], anim="out.webp",
                         timeout=60, max_gb=2.0))[-1])

HEAVY_PRIOR = r"""
import sys
from img2gif import checkpoint
from img2gif.ode import WarpODE, warp_record
config = {"image_channels": 3, "width": 16, "depth": 3}
ode = WarpODE.from_record(warp_record("pair-unet", "compose", config, {"step_size": 1e-3}))
checkpoint.save(sys.argv[1], {**ode.record(), "state_dict": ode.velocity.state_dict(), "image_size": 1024, "channels": 1},
                "img2gif.prior")
"""


def _heavy_prior(c: Ctx):
    """A prior whose every field is within its documented limit (1024 px, step 1e-3: 1000 steps)."""
    env = c.h.env({}, c.w)
    done = subprocess.run([sys.executable, "-c", HEAVY_PRIOR, str(c.p("prior.pt"))], env=env, capture_output=True,
                          timeout=120)
    if done.returncode != 0:
        raise Skip(f"cannot write the prior: {H.last_line(done.stderr.decode(errors='replace'))}")
    c.img("a.png", 48, 64)
    c.img("b.png", 48, 64, shift=(2.0, 0.0))
    return Run(["animate", "a.png", "b.png", "--prior", "prior.pt", "-o", "out.gif", "--frames", "4", "-q"],
               expect="ok|error", outputs=["out.gif"], anim="out.gif", timeout=60)


P(23, "c9 --prior within every size limit (1024 px, 1000 compose steps) on a 64x48 pair: bounded work", _heavy_prior)


# ----------------------------------------------------------------------------- 24. tracebacks

FF_NAME = "\udcff\udcfe"   # the bytes FF FE: not UTF-8 (os.fsencode gives them back)
P(24, "c10 animate a.png b.png -o <FF FE>.gif (a non-UTF-8 output name)",
  lambda c: (c.ab(), Run(["animate", "a.png", "b.png", "-o", f"{FF_NAME}.gif", *H.FAST], expect="ok",
                         outputs=[f"{FF_NAME}.gif"], anim=f"{FF_NAME}.gif"))[-1])
P(24, "c10 animate <FF FE>.mp4 --multiply 2 (no -o: the name derived from a non-UTF-8 input)",
  lambda c: (lavfi_clip(c.p(f"{FF_NAME}.mp4"), frames=6),
             Run(["animate", f"{FF_NAME}.mp4", "--multiply", "2", *VQ], expect="ok", outputs=["*_smooth.mp4"],
                 anim=f"{FF_NAME}_smooth.mp4", check=expect_video(f"{FF_NAME}_smooth.mp4", frames=11, fps=20.0)))[-1])
P(24, "c10 inspect <FF FE>.mp4 (a non-UTF-8 name in the table)",
  lambda c: (lavfi_clip(c.p(f"{FF_NAME}.mp4"), frames=6), Run(["inspect", f"{FF_NAME}.mp4"], expect="ok"))[-1])


def _two_streams(first, second):
    """MKV with two video streams, ``first`` and ``second`` = (size, rate, frames); every frame differs."""
    def fn(c: Ctx):
        lavfi_clip(c.p("s0.mkv"), size=first[0], rate=first[1], frames=first[2])
        lavfi_clip(c.p("s1.mkv"), size=second[0], rate=second[1], frames=second[2])
        # the second stream is the default one (what ffmpeg decodes when no stream is named)
        ff("-i", c.p("s0.mkv"), "-i", c.p("s1.mkv"), "-map", "0", "-map", "1", "-c", "copy", "-disposition:v:0", "0",
           "-disposition:v:1", "default", c.p("two.mkv"))
        c.p("s0.mkv").unlink()
        c.p("s1.mkv").unlink()

        def check(c, r):
            got = decoded_frames(c.p("out.mp4"))
            size = (got[0].shape[1], got[0].shape[0]) if got else None
            fits = [k for k, s in enumerate((first, second))
                    if size == tuple(map(int, s[0].split("x"))) and len(got) == 2 * s[2] - 1]
            fails = []
            if not fits:
                fails.append(("lie", f"out.mp4: {len(got)} frames of {size}; neither stream ({first[2]} frames of {first[0]}, "
                                     f"{second[2]} of {second[0]}) makes that"))
            else:  # every other output frame is a source frame of that stream (re-encoded: a few levels off)
                k = fits[0]
                src = decoded_frames(c.p("two.mkv"), k, size)
                off = max(float(np.abs(got[2 * i].astype(np.int16) - f.astype(np.int16)).mean()) for i, f in enumerate(src))
                if off > 8:
                    fails.append(("lie", f"out.mp4 has the shape of stream {k}, but its frames are not that stream's "
                                         f"(mean difference up to {off:.0f} levels)"))
            tail = frozen_tail(got)
            if tail > 2:
                fails.append(("lie", f"out.mp4: its last {tail + 1} frames are one frozen frame"))
            return fails
        return Run(["animate", "two.mkv", "--multiply", "2", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"],
                   check=check, timeout=90)
    return fn


P(24, "c11 MKV with two video streams: 32x24 10 fps x20, then 64x48 5 fps x4 (the default)",
  _two_streams(("32x24", "10", 20), ("64x48", "5", 4)))
P(24, "c11 MKV with two video streams: 64x48 5 fps x4, then 32x24 10 fps x20 (the default)",
  _two_streams(("64x48", "5", 4), ("32x24", "10", 20)))


# ----------------------------------------------------------------------------- 25. wrong output

def _held_last(c: Ctx):
    # ten frames 0.1 s apart; the last one's duration 4.4 s (stts): the stream's printed rate is ~1.9 fps
    lavfi_clip(c.p("src.mp4"), frames=10, extra=["-bf", "0"])
    ff("-i", c.p("src.mp4"), "-c", "copy", "-bsf:v", r"setts=duration=if(eq(N\,9)\,DURATION*44\,DURATION)", c.p("held.mp4"))
    c.p("src.mp4").unlink()
    return Run(["animate", "held.mp4", "--fps", "20", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"],
               check=expect_video("out.mp4", frames=19, fps=20.0), timeout=90)


P(25, "c12 MP4 whose last frame is held 4.4 s, --fps 20: 19 frames at 20 fps", _held_last)


def _stretched(c: Ctx, bframes=False):
    # H.264 says 10 fps; the MKV's timestamps are 0.4 s apart (2.5 fps): the file plays at 2.5
    lavfi_clip(c.p("src.mkv"), frames=10, extra=[] if bframes else ["-bf", "0"])
    ff("-i", c.p("src.mkv"), "-c", "copy", "-bsf:v", "setts=ts=TS*4", c.p("slow.mkv"))
    c.p("src.mkv").unlink()
    return Run(["animate", "slow.mkv", "--multiply", "2", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"],
               check=expect_video("out.mp4", frames=19, fps=5.0, rel_tol=1e-3), timeout=90)


P(25, "c12 MKV with timestamps stretched 4x (2.5 fps, codec says 10), --multiply 2: 5 fps", _stretched)
P(25, "c12 the same with B-frames (stored out of order): 5 fps", lambda c: _stretched(c, bframes=True))
P(25, "c12 23.976 fps MP4 with sound, --multiply 2: 47.952 fps (48000/1001), not 47.96",
  lambda c: (lavfi_clip(c.p("ntsc.mp4"), rate="24000/1001", frames=24, audio="sine=frequency=440:sample_rate=48000",
                        extra=["-t", "1.001"]),
             Run(["animate", "ntsc.mp4", "--multiply", "2", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"],
                 check=expect_video("out.mp4", frames=47, fps=48000 / 1001, rel_tol=2e-5, audio=True), timeout=120))[-1])
P(25, "c12 a 1000 fps MP4 (ffmpeg prints '1k'), --fps 1000: accepted, 16 frames at 1000 fps",
  # testsrc2 changes ten times a second: taken at 10 fps and stored at 1000 (a still clip is refused)
  lambda c: (lavfi_clip(c.p("k.rgb"), rate="10", frames=16, vcodec=("rawvideo",), extra=["-f", "rawvideo", "-pix_fmt", "rgb24"]),
             ff("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x48", "-r", "1000", "-i", c.p("k.rgb"), "-c:v", "libx264",
                "-pix_fmt", "yuv420p", c.p("k.mp4")), c.p("k.rgb").unlink(),
             Run(["animate", "k.mp4", "--fps", "1000", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"],
                 check=expect_video("out.mp4", frames=16, fps=1000.0, rel_tol=1e-3, max_frozen=None), timeout=90))[-1])


def _cut_copy(c: Ctx):
    # keyframes 3 s apart; cut at 1.7 s without re-encoding: the packets from the keyframe before
    # are kept (an edit list hides them), so packets outnumber the frames a player shows
    lavfi_clip(c.p("src.mp4"), seconds=6, extra=["-g", "30", "-bf", "0"])
    ff("-ss", "1.7", "-i", c.p("src.mp4"), "-c", "copy", "-t", "2.5", c.p("cut.mp4"))
    c.p("src.mp4").unlink()
    return Run(["animate", "cut.mp4", "--multiply", "2", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"],
               check=expect_video("out.mp4", frames_of="cut.mp4", fps=20.0), timeout=120)


P(25, "c13 clip cut with -ss 1.7 -c copy: frames of the decoded clip, no frozen tail", _cut_copy)


def _truncated(c: Ctx):
    lavfi_clip(c.p("src.mp4"), seconds=2, extra=["-movflags", "+faststart", "-g", "5"])
    data = c.p("src.mp4").read_bytes()
    c.write("cut.mp4", data[:int(len(data) * 0.6)])
    c.p("src.mp4").unlink()
    return Run(["animate", "cut.mp4", "--multiply", "2", "-o", "out.mp4", *VQ], expect="ok|error", outputs=["out.mp4"],
               check=expect_video("out.mp4", frames_of="cut.mp4", fps=20.0), timeout=120)


P(25, "c13 MP4 truncated at 60% (moov first): refused, or the decoded frames only, no frozen tail", _truncated)


def _offset(late: str):
    def fn(c: Ctx):
        # one stream starts 1 s after the other (-itsoffset 1): a camera that started before the
        # microphone, or a clip whose first second of picture was cut
        v_in = ["-f", "lavfi", "-t", "2", "-i", "testsrc2=size=64x48:rate=10"]
        a_in = ["-f", "lavfi", "-t", "3", "-i", "sine=frequency=440:sample_rate=48000"]
        if late == "video":
            v_in = ["-itsoffset", "1", *v_in]
        else:
            a_in = ["-itsoffset", "1", *a_in]
        ff(*v_in, *a_in, "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", c.p("late.mp4"))
        v, a = packet_times(c.p("late.mp4"), "v:0"), packet_times(c.p("late.mp4"), "a:0")
        offset = a[0] - v[0]
        if abs(abs(offset) - 1.0) > 0.1:
            raise Skip(f"the crafted clip's audio starts {offset:+.3f} s from its video, not 1 s apart")
        return Run(["animate", "late.mp4", "--multiply", "2", "-o", "out.mp4", *VQ], expect="ok", outputs=["out.mp4"],
                   check=expect_video("out.mp4", frames=39, fps=20.0, audio=True, audio_offset=offset), timeout=120)
    return fn


P(25, "c14 MP4 whose picture starts 1 s after its sound: the offset kept in the output", _offset("video"))
P(25, "c14 MP4 whose sound starts 1 s after its picture: the offset kept in the output", _offset("audio"))


def _alaw(ext):
    def fn(c: Ctx):
        lavfi_clip(c.p(f"alaw.{ext}"), seconds=1, audio="sine=frequency=440:sample_rate=8000", extra=["-c:a", "pcm_alaw"])
        if not has_audio(c.p(f"alaw.{ext}")):
            raise Skip(f"the crafted {ext} holds no audio")
        return Run(["animate", f"alaw.{ext}", "--multiply", "2", "-o", "out.mp4", *SUMMARY_VQ], expect="ok",
                   outputs=["out.mp4"], anim="out.mp4", verify=summary_true("out.mp4", f"alaw.{ext}", must_say_without=(ext == "mov")),
                   timeout=90)
    return fn


P(25, "c15 MOV with A-law sound (an MP4 cannot hold it): the summary says what the file holds", _alaw("mov"))
P(25, "c15 MKV with A-law sound: the summary says what the file holds", _alaw("mkv"))


def _slow_source(ext):
    def fn(c: Ctx):
        # three frames 12,500 s apart (MKV timestamps x 125,000): 8e-05 fps; --multiply 2 gives 1.6e-04
        lavfi_clip(c.p("src.mkv"), frames=3, extra=["-bf", "0"])
        ff("-i", c.p("src.mkv"), "-c", "copy", "-bsf:v", "setts=ts=TS*125000", c.p("slow.mkv"))
        c.p("src.mkv").unlink()
        c.prev(f"out.{ext}")
        return Run(["animate", "slow.mkv", "--multiply", "2", "-o", f"out.{ext}", *VQ], expect="error", timeout=90)
    return fn


P(25, "c16 source at 8e-05 fps, --multiply 2 -o out.png: under the 0.1 fps minimum, refused", _slow_source("png"))
P(25, "c16 source at 8e-05 fps, --multiply 2 -o out.mp4: under the 0.1 fps minimum, refused", _slow_source("mp4"))


def _gif_loop_pillow(c: Ctx):
    frames = [Image.fromarray(H.blob_image(24, 32, shift=(s, 0))).convert("P") for s in (0, 2, 4)]
    frames[0].save(c.p("two.gif"), save_all=True, append_images=frames[1:], duration=100, loop=1)  # NETSCAPE 1: plays twice
    return Run(["inspect", "two.gif"], expect="ok", check=lambda c, r: [] if re.search(r"loop\s+\S*\s*2 times", r.stdout)
               else [("lie", "inspect does not say the GIF plays 2 times (NETSCAPE repeat count 1)")])


P(25, "c17 inspect a GIF whose NETSCAPE count is 1 (plays twice): '2 times'", _gif_loop_pillow)


def _gif_loop_own(c: Ctx):
    c.ab()
    c.run_setup(["animate", "a.png", "b.png", "-o", "two.gif", "--loop", "2", *H.FAST])
    return Run(["inspect", "two.gif"], expect="ok", check=lambda c, r: [] if re.search(r"loop\s+\S*\s*2 times", r.stdout)
               else [("lie", "inspect does not say img2gif's own --loop 2 GIF plays 2 times")])


P(25, "c17 inspect img2gif's own --loop 2 GIF: '2 times'", _gif_loop_own)


def _tiny_gap(times):
    def fn(c: Ctx):
        names = [c.img(f"k{i}.png", 24, 32, shift=(2.0 * i, 0.0)) for i in range(3)]
        means = [float(H.blob_image(24, 32, shift=(2.0 * i, 0.0)).mean()) for i in range(3)]

        def check(c, r):
            with Image.open(c.p("out.gif")) as im:
                dark = []
                for k in range(getattr(im, "n_frames", 1)):
                    im.seek(k)
                    m = float(np.asarray(im.convert("RGB")).mean())
                    if m < 0.5 * min(means):
                        dark.append(f"frame {k}: mean {m:.1f}")
            return [("lie", f"black frames (inputs' mean {min(means):.0f}+): {', '.join(dark[:4])}")] if dark else []
        return Run(["animate", *names, "--times", times, "-o", "out.gif", "--frames", "7", "--working-size", "32", "-q"],
                   expect="ok|error", outputs=["out.gif"], anim="out.gif", check=check, timeout=90)
    return fn


P(25, "c18 keyframe --times 0,1e-40,1: refused, or no black frame", _tiny_gap("0,1e-40,1"))
P(25, "c18 keyframe --times 0,0.999999999,1: refused, or no black frame", _tiny_gap("0,0.999999999,1"))


# ----------------------------------------------------------------------------- 26. feel

P(26, "c19 inspect a 16000x16000 MKV: no 'We had to kill ffmpeg' on the terminal",
  lambda c: Run(["inspect", cached(c, "16k.mkv", build_16k)], expect="ok|error", timeout=60,
                verify=no_text("We had to kill ffmpeg")))
P(26, "c19 animate a 16000x16000 MKV: no 'We had to kill ffmpeg' on the terminal",
  lambda c: Run(["animate", cached(c, "16k.mkv", build_16k), "--multiply", "2", "-o", "out.mp4", *VQ], expect="error",
                timeout=60, verify=no_text("We had to kill ffmpeg")))
P(26, "c20 --fit pad with a video: refused (it does not apply)",
  lambda c: (lavfi_clip(c.p("clip.mp4"), frames=6),
             Run(["animate", "clip.mp4", "--multiply", "2", "--fit", "pad", "-o", "out.mp4", *VQ], expect="error"))[-1])
P(26, "c20 --fit pad with --from pair.pt: refused (the pair holds both images)",
  lambda c: (c.pair(), Run(["animate", "--from", "pair.pt", "--fit", "pad", "-o", "out.gif", "--frames", "4", "-q"],
                           expect="error"))[-1])
P(26, "c20 --fit stretch with A alone and --model digits: refused",
  lambda c: (c.img("a.png"), Run(["animate", "a.png", "--model", "digits", "--fit", "stretch", "-o", "out.gif",
                                  "--frames", "4", "-q"], expect="error"))[-1])


def _nan_step1(prev: bool):
    def fn(c: Ctx):
        c.data("D", paired_names=True)
        if prev:
            c.prev("m.pt")

        def verify(c, r):
            text = re.sub(r"\s+", " ", r.stderr)
            if "is kept" not in text:
                return []
            try:
                rec = H.load_record(c.p("m.pt"))
                ok = isinstance(rec, dict) and rec.get("format") == "img2gif.model"
            except Exception:  # noqa: BLE001
                ok = False
            return [] if ok else [("lie", f"says a checkpoint 'is kept', but m.pt {'is the user file' if prev else 'was never written'}")]
        return Run(["train", "--data", "D", "--paired", "--size", "8", "--steps", "2", "--batch-size", "4", "-o", "m.pt",
                    "--sample-every", "0", "-q", "--fold-weight", "1e300"], expect="error", verify=verify, timeout=90,
                   outputs=["m.pt"])
    return fn


P(26, "c21 train: NaN at step 1 (--fold-weight 1e300): no claim that a checkpoint is kept", _nan_step1(False))
P(26, "c21 train: NaN at step 1 with a user's file at m.pt: no claim that it is a kept checkpoint", _nan_step1(True))


if __name__ == "__main__":
    sys.exit(H.main(default_only=CLASSES, default_json="probes_video.json", description=__doc__.split("\n\n")[0]))
