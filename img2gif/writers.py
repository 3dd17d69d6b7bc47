"""Writing animations: GIF, MP4, WebP, APNG or numbered PNG frames, always atomically.

Every writer renders into a temporary file beside the target and renames it into
place, so an interrupted or failed run never leaves a partial file (and a previous
file at that path stays intact until the new one is complete).
"""
from __future__ import annotations

import os
import subprocess
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from . import ffmpeg, timing
from .apng import write_apng
from .encoding import Encoding, plays_of
from .errors import OptionError, OutputError
from .gif import read_blocks
from .gif import write_gif as _write_gif
from .imagefile import Img2GifWarning
from .safefile import (  # noqa: F401  (re-exported: the writers' own file-safety helpers)
    atomic_replace_file,
    check_not_an_input,
    check_writable_dir,
    check_writable_file,
    remove_stale_temp_files,
    replace_frames_dir,
    temp_beside,
)

FORMATS = {".gif": "gif", ".mp4": "mp4", ".webp": "webp", ".png": "apng", ".apng": "apng"}


def output_format(path) -> str:
    """'gif', 'mp4', 'webp', 'apng' or 'frames' (a directory, or a path ending in '/')."""
    text = os.fspath(path)
    ext = Path(text).suffix.lower()
    # An existing directory named like a file (out.gif/) is refused by check_output,
    # not silently filled with PNG frames; a trailing '/' still asks for frames.
    if text.endswith(("/", os.sep)) or (os.path.isdir(text) and ext not in FORMATS):
        return "frames"
    if ext not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise OutputError(f"{text}: unknown output extension {ext or '(none)'!r}; use one of {known}, or a directory ending in '/'")
    return FORMATS[ext]


# Largest side each encoder accepts (GIF: 16-bit sizes; WebP: 14 bits; libx264: 16384).
MAX_SIDE = {"gif": 65535, "webp": 16383, "mp4": 16384, "apng": 2**31 - 1, "frames": 2**31 - 1}


def check_output(path, inputs=()) -> str:
    """Fail fast, before any work, if ``path`` cannot be written; returns its format.

    ``inputs``: files the run reads; an output that is one of them (or a frames folder
    that holds one) is refused, since writing it would destroy the input.
    """
    fmt = output_format(path)
    target = os.fspath(path).rstrip("/" + os.sep) or os.fspath(path)  # "out/" names the folder out
    if fmt == "frames":
        check_writable_dir(target)
    else:
        check_writable_file(target)
    check_not_an_input(target, inputs)
    return fmt


def check_frame_size(path, fmt: str, width: int, height: int) -> None:
    """Refuse, before any work, frames larger than the format can hold."""
    side = MAX_SIDE[fmt]
    w, h = (width + width % 2, height + height % 2) if fmt == "mp4" else (width, height)
    if w > side or h > side:
        raise OutputError(f"{os.fspath(path)}: {fmt.upper()} frames can be at most {side} pixels on a side, "
                          f"these would be {w}x{h}; lower --size or choose another format")


MAX_VIDEO_FPS = 1000.0  # the fastest a video is up-converted to (an animation's own limit is lower)


def check_rate(path, fps: float) -> None:
    """Refuse, before any work, a rate no format plays right: under 0.1 fps (a frame over 10 s:
    holds show one longer) or over 1000 fps."""
    if not (timing.MIN_FPS <= fps <= MAX_VIDEO_FPS):
        raise OptionError(f"{os.fspath(path)}: frames played at {fps:g} fps; the rate must be between "
                          f"{timing.MIN_FPS:g} and {MAX_VIDEO_FPS:g} fps")


@dataclass(frozen=True)
class Written:
    """What is in the file on disk, read back after writing it."""

    format: str
    frames: int          # frames in the file (GIF/WebP/APNG merge identical neighbours)
    seconds: float       # how long one play lasts
    size: tuple[int, int]
    audio: bool = False  # an MP4 holds an audio stream (read from the file, not the plan)


def mp4_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sides: the MP4's size (the last row/column is repeated)."""
    return width + width % 2, height + height % 2


def _write_mp4(tmp: Path, source, shown, fps: float, encoding: Encoding = Encoding()) -> None:
    if source.shape[2] != 3:  # the pipeline refuses this before any work (or composites onto --background)
        raise OutputError("MP4 has no alpha: composite the frames onto a background first (--background COLOUR)")
    exe = ffmpeg.find()
    if exe is None:
        raise OutputError("MP4 needs ffmpeg (from imageio-ffmpeg), which is missing on this platform")
    h, w = source.shape[:2]
    (pw, ph) = mp4_size(w, h)
    pad_h, pad_w = ph - h, pw - w
    # a video plays once (players loop it): N plays are written one after another
    shown = list(shown) * max(1, encoding.plays)

    def chunks():
        for fr, n in zip(source.frames([i for i, _ in shown]), timing.repeat_counts([s for _, s in shown], fps)):
            fr = np.pad(fr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge") if (pad_h or pad_w) else fr
            data = np.ascontiguousarray(fr).tobytes()
            for _ in range(n):
                yield data

    codec = encoding.mp4_encoder()
    tag = ["-tag:v", "hvc1"] if codec == "libx265" else []  # hvc1: what Apple's players want
    quiet = ["-x265-params", "log-level=error"] if codec == "libx265" else []
    ffmpeg.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{pw}x{ph}", "-r", f"{fps:.6g}", "-i", "-",
                "-c:v", codec, "-pix_fmt", "yuv420p", "-crf", str(encoding.mp4_crf()), *quiet, *tag,
                "-movflags", "+faststart", "-f", "mp4", ffmpeg.input_name(tmp)], chunks())


def _copy_audio(video: Path, source, target: Path) -> bool:
    """Put ``source``'s first audio stream into the MP4 ``video`` (copied, not re-encoded), at
    the source's own offset from its first video frame; returns whether it did.

    Only a stream the MP4 cannot hold (A-law, ...) leaves the video without sound, with a
    warning: the frames are never lost for the sound. Any other failure (a full disk) is a
    failed write (OutputError). The muxed file is a temp file of ``target`` (safefile's scheme:
    a short name, removed on any exit, and by the next write of ``target`` after a SIGKILL).
    """
    exe = ffmpeg.find()
    source_name = ffmpeg.input_name(source)
    refused = _mp4_cannot_hold_audio(exe, source_name)
    if refused:
        warnings.warn(f"{os.fspath(source)}: its audio cannot go into an MP4 ({refused}); written without audio",
                      Img2GifWarning, stacklevel=3)
        return False
    # our video starts at 0: the audio moves by the source's first video time, so that the
    # two keep the offset they had (audio that came before the first frame is cut)
    start = _first_video_time(exe, source_name)
    shift = ["-itsoffset", f"{-start:.6f}"] if start else []
    muxed = temp_beside(target)
    try:
        ffmpeg.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", ffmpeg.input_name(video),
                    *shift, "-i", source_name, "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
                    "-movflags", "+faststart", "-f", "mp4", ffmpeg.input_name(muxed)], iter(()))
        os.replace(muxed, video)
    except OutputError as exc:  # the stream was accepted above: this is a failed write
        reason = str(exc).split("): ", 1)[-1]
        raise OutputError(f"{target}: cannot write (copying the audio: {reason})") from None
    finally:
        if muxed.exists():
            muxed.unlink()
    return True


def _mp4_cannot_hold_audio(exe: str, source_name: str) -> str | None:
    """Why the MP4 muxer refuses the first audio stream of ``source_name``, or None if it takes it.

    Asked of the muxer itself, writing a moment of the stream to the null device: nothing of
    the output's disk is involved, so a later failure of the real copy is a write failure.
    """
    done = subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", source_name,
                           "-map", "0:a:0", "-c", "copy", "-t", "0.1", "-f", "mp4", "-y", os.devnull],
                          capture_output=True, timeout=120)
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
    found = next((line.split("] ", 1)[-1] for line in lines if "codec not currently supported" in line), None)
    return (found or (lines[0] if lines else "refused by the MP4 muxer"))[:160]


def _first_video_time(exe: str, source_name: str) -> float:
    """Seconds from the start of ``source_name``'s timeline to its first video frame, as ffmpeg
    reads the file (the same clock the audio copy shifts). The earliest of the first packets:
    frames are stored in decoding order, not shown order."""
    done = subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", source_name,
                           "-map", "0:v:0", "-c", "copy", "-frames:v", "16", "-f", "framecrc", "-"],
                          capture_output=True, timeout=120)
    base, stamps = None, []
    for line in done.stdout.decode("ascii", "replace").splitlines():
        if line.startswith("#tb 0:"):
            num, _, den = line.split(":", 1)[1].strip().partition("/")
            base = int(num) / int(den)
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            if len(fields) >= 3 and fields[0] == "0" and fields[2].lstrip("-").isdigit():
                stamps.append(int(fields[2]))
    return min(stamps) * base if stamps and base else 0.0


def has_audio(path) -> bool:
    """Whether the file at ``path`` holds an audio stream (ffmpeg's own listing of it)."""
    exe = ffmpeg.find()
    if exe is None:
        return False
    done = subprocess.run([exe, "-hide_banner", "-nostdin", "-i", ffmpeg.input_name(path)], capture_output=True, timeout=120)
    return any(line.lstrip().startswith("Stream #") and ": Audio:" in line
               for line in done.stderr.decode(errors="replace").splitlines())


def _write_webp(tmp: Path, source, shown, fps: float, encoding: Encoding) -> None:
    """libwebp's animation encoder through ffmpeg, fed frame by frame at ``fps`` (holds become
    repeats, which libwebp merges back into one longer frame)."""
    exe = ffmpeg.find()
    if exe is None or not ffmpeg.has_encoder("libwebp_anim"):
        _write_webp_pillow(tmp, source, shown, encoding)
        return
    h, w = source.shape[:2]
    pix_fmt = "rgba" if source.shape[2] == 4 else "rgb24"
    settings = encoding.webp()

    def chunks():
        for fr, n in zip(source.frames([i for i, _ in shown]), timing.repeat_counts([s for _, s in shown], fps)):
            data = np.ascontiguousarray(fr).tobytes()
            for _ in range(n):
                yield data

    ffmpeg.run([exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{w}x{h}", "-r", f"{fps:.6g}", "-i", "-",
                "-enc_time_base", "1:1000",  # WebP delays are whole ms: each frame's end rounded, not cut
                "-c:v", "libwebp_anim", "-lossless", "1" if settings["lossless"] else "0",
                "-quality", str(settings["quality"]), "-compression_level", "4",
                "-loop", str(encoding.plays), "-f", "webp", ffmpeg.input_name(tmp)], chunks())


def _write_webp_pillow(tmp: Path, source, shown, encoding: Encoding) -> None:
    # Without ffmpeg: Pillow's WebP writer takes every frame at once (3 bytes per frame pixel)
    images = [Image.fromarray(fr) for fr in source.frames([i for i, _ in shown])]
    settings = encoding.webp()
    images[0].save(tmp, format="WEBP", save_all=True, append_images=images[1:],
                   duration=timing.delays_ms([s for _, s in shown]), loop=encoding.plays,
                   quality=settings["quality"], lossless=settings["lossless"], method=4)


def _write_frames(folder: Path, source) -> list[str]:
    names = []
    for k, fr in enumerate(source.frames(range(len(source)))):
        name = f"frame_{k:04d}.png"
        Image.fromarray(fr).save(folder / name)
        names.append(name)
    return names


def _gif(tmp, source, shown, *, fps, encoding):
    _write_gif(tmp, source, shown, encoding)


def _mp4(tmp, source, shown, *, fps, encoding):
    _write_mp4(tmp, source, shown, fps, encoding)


def _webp(tmp, source, shown, *, fps, encoding):
    _write_webp(tmp, source, shown, fps, encoding)


def _apng(tmp, source, shown, *, fps, encoding):
    write_apng(tmp, source, shown, encoding.plays)


# One writer per format, keyed by output_format(): each writes a complete file at ``tmp``
# from a FrameSource, in playback order; write_animation makes it atomic and reads it back.
# (A frames folder is written by replace_frames_dir + _write_frames: a folder, not a file.)
# Every writer streams: frames are encoded as they are rendered (WebP falls back to
# Pillow's writer, which holds every frame, where ffmpeg lacks libwebp).
WRITERS = {"gif": _gif, "mp4": _mp4, "webp": _webp, "apng": _apng}


def read_back(path, fmt: str, expected_frames: int | None = None, size=None) -> Written:
    """Open a file just written and say what it holds; OutputError if it is not readable.

    Why: an encoder can exit without an error and still leave an empty or cut file (ffmpeg
    on a full disk did); nothing is renamed into place before it reads back.
    """
    path = Path(os.fspath(path))
    try:
        if fmt == "mp4":
            import imageio_ffmpeg

            # the container's packets, counted without decoding: a cut or empty file fails here
            count, seconds = imageio_ffmpeg.count_frames_and_secs(ffmpeg.input_name(path))
            if expected_frames is not None and count != expected_frames:
                raise OutputError(f"{path}: the MP4 encoder wrote {count} of {expected_frames} frames")
            return Written(fmt, int(count), float(seconds), tuple(size) if size else (0, 0), has_audio(path))
        if fmt == "gif":
            # the block structure, not the pixels: decoding a 1080p GIF back costs seconds,
            # and the LZW data comes from Pillow's own encoder
            try:
                screen, delays, _ = read_blocks(path.read_bytes(), need_trailer=True)
            except ValueError as exc:
                raise OutputError(f"{path}: the GIF encoder wrote a file that cannot be read back ({exc})") from None
            return Written(fmt, len(delays), sum(delays) / 100.0, screen)
        with Image.open(path) as im:
            n = getattr(im, "n_frames", 1)
            total_ms = 0
            for k in range(n):
                im.seek(k)
                im.load()  # WebP sets a frame's duration only once decoded
                total_ms += int(im.info.get("duration", 0))
            return Written(fmt, n, total_ms / 1000.0, im.size)
    except OutputError:
        raise
    except Exception as exc:  # noqa: BLE001  any decoder failure means the file is not good
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OutputError(f"{path}: the {fmt.upper()} encoder wrote a file that cannot be read back ({first[:160]})") from None


def write_animation(path, frames, shown: list[tuple[int, float]], *, fps: float, loop: str = "forever",
                    encoding: Encoding | None = None, inputs=(), checked: bool = False, audio_from=None) -> Written:
    """Write ``frames`` played as ``shown`` ((rendered index, seconds) pairs) to ``path``.

    ``frames``: a list of (H, W, 3) uint8 arrays, or a ``sequence.FrameSource`` that renders
    them as the encoder asks (then no writer holds them all). The format comes from the
    extension (see ``output_format``). ``loop``: forever, once, pingpong (the order is already
    in ``shown``: it loops) or a number of plays; ``encoding``: quality and MP4 codec.
    ``audio_from``: an MP4 gets this file's first audio stream, copied (not re-encoded).
    Returns what the file on disk holds, read back from it.
    """
    from .sequence import FrameSource

    encoding = replace(encoding or Encoding(), plays=plays_of(loop)).check()

    # ``checked``: the caller ran check_output before its work (the pipeline does)
    fmt = output_format(path) if checked else check_output(path, inputs)
    check_rate(path, fps)
    if len(frames) == 0:
        raise OutputError(f"{path}: nothing to write (no frames)")
    source = frames if isinstance(frames, FrameSource) else FrameSource.of_list(list(frames))
    h, w = source.shape[:2]
    check_frame_size(path, fmt, w, h)
    target = Path(os.fspath(path))
    if fmt == "frames":
        replace_frames_dir(lambda folder: _write_frames(folder, source), target)
        return Written(fmt, len(source), len(source) / fps, (w, h))
    result = []

    def write(tmp: Path) -> None:
        WRITERS[fmt](tmp, source, shown, fps=fps, encoding=encoding)
        if audio_from is not None and fmt == "mp4":
            _copy_audio(tmp, audio_from, target)
        expected = max(1, encoding.plays) * sum(timing.repeat_counts([s for _, s in shown], fps)) if fmt == "mp4" else None
        result.append(read_back(tmp, fmt, expected, mp4_size(w, h)))

    try:
        atomic_replace_file(write, target)
    except OutputError as exc:
        text = str(exc)
        raise OutputError(text if text.startswith(os.fspath(target)) else f"{target}: {text}") from None
    return result[0]
