"""What a video file holds, as ffmpeg decodes it, and its frames.

One stream is used for everything: the first video stream that is not a cover picture
(ffmpeg's ``0:V:0``). Its frames are counted as they are decoded, not as packets (a clip cut
with ``-ss ... -c copy`` stores packets it never shows), and their times are the decoded
frames' own timestamps, not the rounded rate ffmpeg prints. Every decode runs under the same
caps: the frame count stops at a limit (ffmpeg is stopped there, nothing is held beyond it)
and the decoder refuses frames over the pixel limit before it allocates them (libavcodec's
``max_pixels``), so a tiny file that declares huge or countless frames costs little.
"""
from __future__ import annotations

import re
import subprocess
import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import ffmpeg
from .errors import InputError

STREAM = "0:V:0"       # the first video stream that is not an attached picture
PROBE_TIMEOUT_S = 600  # a decode that takes longer than this is stopped
# libavcodec checks max_pixels against the row length rounded up for SIMD (up to 64 pixels):
# a little room keeps a frame just within our own limit from being refused by ffmpeg; the
# exact limit is checked on the decoded size
_ALIGN_ROOM = 1.0 / 16


@dataclass(frozen=True)
class Probe:
    """The video stream img2gif uses and its decoded frames."""

    stream: str                    # ffmpeg's name of the stream, "0:1"
    video_streams: int             # video streams in the file (cover pictures not counted)
    codec: str
    size: tuple[int, int]          # (width, height) as decoded (display rotation applied)
    ticks: tuple[int, ...]         # each decoded frame's time in time_base units, in order
    time_base: Fraction
    end: int                       # the last frame's end, in time_base units (its time + duration)
    has_audio: bool
    over_limit: bool               # more frames than the limit: counting stopped there

    @property
    def count(self) -> int:
        return len(self.ticks)


# Containers a video file is read as. Why a list: ffmpeg picks the reader by content, and a
# file named x.mp4 that holds a concat script or a playlist makes it read other files.
CONTAINERS = "mov,matroska,avi,gif,mpegts,flv,mpeg,ogg,asf,h264,hevc,m4v,ivf,nut"


def input_options() -> list[str]:
    """The input options of every decode: the pixel cap, the file itself as the only input
    (no other protocol, no container that points at other files)."""
    from .imagefile import max_pixels

    return ["-max_pixels", str(int(max_pixels() * (1 + _ALIGN_ROOM))),
            "-protocol_whitelist", "file", "-format_whitelist", CONTAINERS]


def _command(path, output: list[str], loglevel: str) -> list[str]:
    exe = ffmpeg.find()
    if exe is None:
        raise InputError(f"{path}: reading a video needs ffmpeg (from imageio-ffmpeg), missing on this platform")
    return [exe, "-nostdin", "-hide_banner", "-nostats", "-loglevel", loglevel, *input_options(),
            "-i", ffmpeg.input_name(path), "-map", STREAM, "-fps_mode", "passthrough", *output]


class _Messages:
    """ffmpeg's stderr read as it comes (``-loglevel level+info``): the input's stream lines
    and the first error. Only those are kept, so a file that makes ffmpeg print without end
    costs no memory."""

    def __init__(self, pipe):
        self.streams: list[str] = []
        self.error: str | None = None
        self.over_pixels: str | None = None
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe):
        in_input = False
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip()
            # only lines with a level prefix: a name or tag holding a newline cannot fake one
            level = re.match(r"(?:\[[^\]]*\] )*?\[(info|warning|error|fatal|panic)\] ", line)
            if level is None:
                continue
            text = line[level.end():]
            if level.group(1) == "info":
                if text.startswith("Input #0"):
                    in_input = True
                elif text.startswith(("Stream mapping", "Output #")):
                    in_input = False
                elif in_input and len(self.streams) < 1000 and text.lstrip().startswith("Stream #0:"):
                    self.streams.append(text.strip())
            elif level.group(1) != "warning":
                size = re.search(r"Picture size (\d+x\d+) exceeds specified max pixel count", text)
                if size and self.over_pixels is None:
                    self.over_pixels = size.group(1)
                if self.error is None:
                    self.error = text.strip()[:200]

    def wait(self) -> None:
        self._thread.join()

    def video_streams(self) -> list[tuple[str, str]]:
        """(ffmpeg's stream name "0:1", codec) of each video stream that is not a cover picture."""
        found = []
        for line in self.streams:
            match = re.match(r"Stream #(0:\d+)\S*: Video: (\w+)", line)
            if match and "(attached pic)" not in line and "(timed thumbnails)" not in line:
                found.append((match.group(1), match.group(2)))
        return found

    def has_audio(self) -> bool:
        return any(re.match(r"Stream #0:\d+\S*: Audio: ", line) for line in self.streams)


def _stop(proc, at_end: bool) -> None:
    """Let ffmpeg finish where its output was read to the end (its exit status counts), else
    stop it now (the limit was reached, the reader gave up or failed)."""
    if at_end:
        try:
            proc.wait(timeout=60)
            return
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _start(cmd: list[str], path):
    """ffmpeg running ``cmd``, its frames on stdout, and its messages read as they come."""
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise InputError(f"{path}: cannot run ffmpeg ({exc})") from None
    return proc, _Messages(proc.stderr)


def probe(path, limit: int) -> Probe:
    """Decode ``path``'s video stream once, counting its frames and reading their times; stop
    after ``limit`` + 1 frames (``over_limit``). InputError where ffmpeg cannot decode it, a
    frame is over the pixel limit, or ffmpeg reports the file cut or corrupt."""
    # each line flushed as it is made: the count is read, and stopped, as ffmpeg decodes
    cmd = _command(path, ["-enc_time_base", "demux", "-flush_packets", "1", "-f", "framecrc", "-"], "level+info")
    proc, messages = _start(cmd, path)
    timed_out = threading.Event()
    timer = threading.Timer(PROBE_TIMEOUT_S, lambda: (timed_out.set(), proc.kill()))
    timer.start()
    ticks, ends, time_base, size, over, at_end = [], 0, None, None, False, False
    try:
        for raw in proc.stdout:  # framecrc: one line per decoded frame, read as ffmpeg writes it
            line = raw.decode("ascii", "replace")
            if line.startswith("#tb 0:"):
                num, _, den = line.split(":", 1)[1].strip().partition("/")
                time_base = Fraction(int(num), int(den))
            elif line.startswith("#dimensions 0:"):
                w, _, h = line.split(":", 1)[1].strip().partition("x")
                size = (int(w), int(h))
            elif line.startswith("0,"):
                fields = [f.strip() for f in line.split(",")]
                if len(ticks) == limit:
                    over = True
                    break  # the limit is reached: nothing past it is decoded or kept
                ticks.append(int(fields[1]))
                ends = int(fields[1]) + int(fields[3])
        else:
            at_end = True
    except ValueError:
        raise InputError(f"{path}: ffmpeg gave a frame list img2gif cannot read") from None
    finally:
        timer.cancel()
        _stop(proc, at_end)
        proc.stdout.close()
        messages.wait()
        proc.stderr.close()
    if timed_out.is_set():
        raise InputError(f"{path}: decoding took over {PROBE_TIMEOUT_S} s; stopped")
    return _checked(path, messages, proc.returncode, over, ticks, time_base, size, ends)


def _checked(path, messages: _Messages, code, over, ticks, time_base, size, end) -> Probe:
    from .imagefile import max_pixels

    streams = messages.video_streams()
    if messages.over_pixels:
        raise InputError(f"{path}: holds a frame of {messages.over_pixels}, over the {max_pixels():,}-pixel limit "
                         "(IMG2GIF_MAX_PIXELS)")
    if not messages.streams:
        raise InputError(f"{path}: not a video ffmpeg can decode")
    if not streams:
        raise InputError(f"{path}: holds no video stream")
    if not over and messages.error is not None:
        raise InputError(f"{path}: cannot be decoded whole, the file is cut or corrupt (ffmpeg: {messages.error})")
    if not over and code != 0:
        raise InputError(f"{path}: not a video ffmpeg can decode (ffmpeg stopped with status {code})")
    if not ticks or time_base is None or size is None:
        raise InputError(f"{path}: no frame could be decoded")
    stream, codec = streams[0]
    return Probe(stream, len(streams), codec, size, tuple(ticks), time_base, end, messages.has_audio(), over)


def decode(path, size: tuple[int, int], count: int):
    """The ``count`` frames of ``path``'s video stream (the one ``probe`` counted), (H, W, 3)
    uint8, one at a time. InputError if ffmpeg gives more or fewer: a shortfall is never
    filled by repeating a frame."""
    w, h = size
    frame_bytes = w * h * 3
    # setpts=N/TB (frame N at N s): the frames' own times were read by the probe; numbered here, a broken mux's
    # times that go back (rewritten after B-frames) are no error of the raw output's muxer
    cmd = _command(path, ["-vf", "setpts=N/TB", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], "level+error")
    proc, messages = _start(cmd, path)
    decoded, more, at_end = 0, False, False
    try:
        while True:
            block = proc.stdout.read(frame_bytes)
            if len(block) != frame_bytes:
                more = bool(block)  # a partial frame: ffmpeg stopped mid-way
                at_end = True
                break
            if decoded == count:
                more = True
                break
            decoded += 1
            yield np.frombuffer(block, np.uint8).reshape(h, w, 3)
    finally:
        _stop(proc, at_end)
        proc.stdout.close()
        messages.wait()
        proc.stderr.close()
    if messages.over_pixels:
        raise InputError(f"{path}: holds a frame of {messages.over_pixels}, over the pixel limit (IMG2GIF_MAX_PIXELS)")
    if more or decoded != count or proc.returncode != 0 or messages.error is not None:
        got = f"more than {count}" if more and decoded == count else str(decoded)
        why = f" (ffmpeg: {messages.error})" if messages.error else ""
        raise InputError(f"{path}: decoded {got} frames where {count} were counted; the file is cut, corrupt "
                         f"or changed{why}")
