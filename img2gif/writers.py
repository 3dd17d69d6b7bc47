"""Writing animations: GIF, MP4, WebP, APNG or numbered PNG frames, always atomically.

Every writer renders into a temporary file beside the target and renames it into
place, so an interrupted or failed run never leaves a partial file (and a previous
file at that path stays intact until the new one is complete).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import timing
from .errors import OutputError
from .imagefile import Img2GifWarning
from .safefile import (  # noqa: F401  (re-exported: the writers' own file-safety helpers)
    atomic_replace_file,
    check_not_an_input,
    check_writable_dir,
    check_writable_file,
    remove_stale_temp_files,
    replace_frames_dir,
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


@dataclass(frozen=True)
class Written:
    """What is in the file on disk, read back after writing it."""

    format: str
    frames: int          # frames in the file (GIF/WebP/APNG merge identical neighbours)
    seconds: float       # how long one play lasts
    size: tuple[int, int]


def _ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # no binary for this platform: use the Pillow path
        return None


def _run_ffmpeg(cmd: list[str], chunks, read_bytes: int | None = None, on_output=None, in_flight: int | None = None) -> None:
    """Run ffmpeg feeding ``chunks`` (bytes) to stdin from a thread; ``on_output(block)`` gets
    stdout in blocks of ``read_bytes``. ffmpeg's own messages never reach the terminal: they
    are kept and, if ffmpeg fails, their last line is the error.

    ``in_flight``: when each chunk gives one block, at most this many chunks are fed ahead of
    the blocks read back. Why: ffmpeg queues whatever it is given, so without it a fast
    renderer and a slow reader leave the whole animation buffered inside ffmpeg.
    """
    window = threading.Semaphore(in_flight) if (read_bytes and in_flight) else None
    stop = threading.Event()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE if read_bytes else subprocess.DEVNULL,
                                stderr=log)
        failure = []

        def feed():
            try:
                for chunk in chunks:
                    waited = 0.0
                    # a soft window: if ffmpeg wants more frames before it answers (probing,
                    # buffering), it gets them after 2 s; the feeder never waits on it forever
                    while window is not None and waited < 2.0 and not window.acquire(timeout=0.1):
                        waited += 0.1
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    proc.stdin.write(chunk)
            except (BrokenPipeError, OSError):  # ffmpeg stopped: its exit status says why
                pass
            except BaseException as exc:  # noqa: BLE001  re-raised in the main thread
                failure.append(exc)
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            if read_bytes:
                while True:
                    block = proc.stdout.read(read_bytes)
                    if not block:
                        break
                    if len(block) != read_bytes:
                        raise OutputError(f"ffmpeg returned a partial frame ({len(block)} of {read_bytes} bytes)")
                    on_output(block)
                    if window is not None:
                        window.release()
            feeder.join()
            code = proc.wait()
        except BaseException:
            stop.set()
            proc.kill()
            proc.wait()
            feeder.join()
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        if failure:
            raise failure[0]
        if code != 0:
            log.seek(0)
            lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
            raise OutputError(f"ffmpeg failed (exit status {code}): {lines[-1][:200] if lines else 'no message'}")


def _raw(frames):
    for fr in frames:
        yield np.ascontiguousarray(fr, dtype=np.uint8).tobytes()


def _palette_sample(count: int) -> list[int]:
    """Rendered indices the palette is built from: at most ~16 evenly spaced frames (an
    animation's colours change gradually; a third faster at 1080p)."""
    return list(range(0, count, max(1, count // 16)))


def _palette_ffmpeg(sample: list[np.ndarray], ffmpeg: str) -> np.ndarray:
    """(256, 4) uint8 RGBA: ffmpeg's palettegen over the sample frames (one entry is the
    transparent one palettegen reserves)."""
    h, w = sample[0].shape[:2]
    palette = bytearray()
    _run_ffmpeg([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24",
                 "-s", f"{w}x{h}", "-r", "25", "-i", "-", "-vf", "palettegen=stats_mode=full:max_colors=256",
                 "-f", "rawvideo", "-pix_fmt", "rgba", "-"], _raw(sample), 16 * 16 * 4, palette.extend)
    if len(palette) != 16 * 16 * 4:
        raise OutputError(f"ffmpeg palettegen returned {len(palette)} bytes")
    return np.frombuffer(bytes(palette), np.uint8).reshape(256, 4)


def _indexed_ffmpeg(frames, size, palette: np.ndarray, ffmpeg: str, each) -> None:
    """paletteuse on ``frames`` (streamed through pipes); ``each(indices (H, W) uint8, palette
    (256, 3) uint8, transparent index or None)`` per frame. The palette is the one paletteuse
    reports with each frame: it orders the entries its own way."""

    def unpack(block: bytes):
        argb = np.frombuffer(block, np.uint8, offset=w * h).view("<u4")
        pal = np.stack([(argb >> 16) & 255, (argb >> 8) & 255, argb & 255], axis=1).astype(np.uint8)
        # palettegen reserves one fully transparent entry; opaque frames never use it, so it
        # can mark "unchanged since the last frame" pixels
        clear = np.nonzero((argb >> 24) == 0)[0]
        each(np.frombuffer(block, np.uint8, count=w * h).reshape(h, w), pal, int(clear[0]) if len(clear) else None)

    w, h = size
    per = w * h + 1024  # pal8 raw video: indices, then 256 palette entries as native uint32 ARGB
    with tempfile.TemporaryDirectory(prefix="img2gif-") as workdir:  # the system's temp dir: 1 KB
        palette_png = Path(workdir) / "palette.png"
        Image.frombytes("RGBA", (16, 16), palette.tobytes()).save(palette_png)
        # Ordered (bayer) dithering: stable from frame to frame (error diffusion crawls in
        # animations) and 4x faster than sierra2_4a.
        _run_ffmpeg([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24",
                     "-s", f"{w}x{h}", "-r", "25", "-i", "-", "-i", str(palette_png),
                     "-lavfi", "[0:v][1:v]paletteuse=dither=bayer:bayer_scale=3:diff_mode=rectangle",
                     "-flush_packets", "1", "-f", "rawvideo", "-pix_fmt", "pal8", "-"], _raw(frames), per, unpack,
                    in_flight=4 + (1 << 16) // per)  # headroom for ffmpeg's own output buffer (small frames)


def _palette_pillow(sample: list[np.ndarray]) -> Image.Image:
    """Fallback: one median-cut palette from a montage of up to 16 frames."""
    montage = Image.fromarray(np.concatenate(sample[:16], axis=0))
    return montage.quantize(colors=256, method=Image.Quantize.MEDIANCUT)


class _GifStream:
    """A GIF written frame by frame: one global palette, each frame cropped to the rectangle
    that changed, unchanged pixels inside it transparent (long runs: smaller LZW), and a
    frame identical to the one before adds its delay to it."""

    def __init__(self, f, size, palette: np.ndarray, delays_cs: list[int], loop_forever: bool,
                 transparent: int | None = None):
        w, h = size
        self.f, self.delays = f, delays_cs
        self.transparent = transparent
        f.write(b"GIF89a" + w.to_bytes(2, "little") + h.to_bytes(2, "little") + bytes([0xF7, 0, 0]))
        table = np.zeros((256, 3), np.uint8)
        table[: len(palette)] = palette
        f.write(table.tobytes())
        if loop_forever:
            f.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
        self.previous = None
        self.pending = None   # (crop image, offset, delay, transparency) of the frame not yet written
        self.count = 0        # frames asked for

    def add(self, indices: np.ndarray) -> None:
        delay = self.delays[self.count]
        self.count += 1
        if self.previous is not None:
            changed = indices != self.previous
            if not changed.any():  # the same picture: it only lengthens the frame before
                crop, offset, before, clear = self.pending
                self.pending = (crop, offset, before + delay, clear)
                return
            rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
            top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        else:
            top, bottom, left, right = 0, indices.shape[0], 0, indices.shape[1]
        self._flush()
        block = indices[top:bottom, left:right]
        clear = self.transparent if self.previous is not None else None
        if clear is not None:  # the previous frame shows through where nothing changed
            block = np.where(changed[top:bottom, left:right], block, np.uint8(clear))
        crop = Image.fromarray(np.ascontiguousarray(block, dtype=np.uint8), mode="P")
        self.pending = (crop, (int(left), int(top)), delay, clear)
        self.previous = indices.copy()

    def _flush(self) -> None:
        if self.pending is None:
            return
        from PIL import GifImagePlugin

        crop, offset, delay, clear = self.pending
        crop.putpalette([0] * 768)  # the data only: the palette is the global one
        extra = {"transparency": clear} if clear is not None else {}
        # disposal 1: leave the frame in place, the next one is drawn over it
        for chunk in GifImagePlugin.getdata(crop, offset=offset, duration=delay * 10, disposal=1, **extra):
            self.f.write(chunk)
        self.pending = None

    def close(self) -> None:
        self._flush()
        self.f.write(b"\x3b")


def _write_gif(tmp: Path, source, shown, loop_forever: bool) -> None:
    size = (source.shape[1], source.shape[0])
    delays = timing.gif_delays_cs([s for _, s in shown])
    sample = source.pin(_palette_sample(len(source)))
    order = [i for i, _ in shown]
    ffmpeg = _ffmpeg()
    palette = None
    if ffmpeg is not None:
        try:
            palette = _palette_ffmpeg(sample, ffmpeg)
        except (OSError, OutputError) as exc:
            warnings.warn(f"ffmpeg palette failed ({exc}); using Pillow's palette", Img2GifWarning, stacklevel=2)
    with open(tmp, "wb") as f:
        if palette is not None:
            streams = []

            def add(indices, frame_palette, transparent):
                if not streams:
                    streams.append(_GifStream(f, size, frame_palette, delays, loop_forever, transparent))
                streams[0].add(indices)

            _indexed_ffmpeg(source.frames(order), size, palette, ffmpeg, add)
            if not streams:
                raise OutputError("ffmpeg paletteuse returned no frames")
            gif = streams[0]
        else:
            quantizer = _palette_pillow(sample)
            pal = np.array(quantizer.getpalette()[:768], np.uint8).reshape(-1, 3)
            gif = _GifStream(f, size, pal, delays, loop_forever)
            for frame in source.frames(order):
                im = Image.fromarray(frame).quantize(palette=quantizer, dither=Image.Dither.FLOYDSTEINBERG)
                gif.add(np.asarray(im))
        if gif.count != len(order):
            raise OutputError(f"the GIF encoder received {gif.count} of {len(order)} frames")
        gif.close()


def mp4_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sides: the MP4's size (the last row/column is repeated)."""
    return width + width % 2, height + height % 2


def _write_mp4(tmp: Path, source, shown, fps: float) -> None:
    ffmpeg = _ffmpeg()
    if ffmpeg is None:
        raise OutputError("MP4 needs ffmpeg (from imageio-ffmpeg), which is missing on this platform")
    h, w = source.shape[:2]
    (pw, ph) = mp4_size(w, h)
    pad_h, pad_w = ph - h, pw - w

    def chunks():
        counts = timing.repeat_counts([s for _, s in shown], fps)
        for fr, n in zip(source.frames([i for i, _ in shown]), counts):
            fr = np.pad(fr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge") if (pad_h or pad_w) else fr
            data = np.ascontiguousarray(fr).tobytes()
            for _ in range(n):
                yield data

    _run_ffmpeg([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                 "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{pw}x{ph}", "-r", f"{fps:.6g}", "-i", "-",
                 "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "10",  # = imageio-ffmpeg quality 8, what earlier versions wrote
                 "-movflags", "+faststart", "-f", "mp4", str(tmp)], chunks())


def _write_pillow_anim(tmp: Path, source, shown, loop_forever: bool, fmt: str) -> None:
    # Pillow's WebP and APNG writers take every frame at once: these two formats hold the
    # animation in memory (3 bytes per frame pixel; README says so)
    images = [Image.fromarray(fr) for fr in source.frames([i for i, _ in shown])]
    delays = timing.delays_ms([s for _, s in shown])
    if fmt == "webp":
        images[0].save(tmp, format="WEBP", save_all=True, append_images=images[1:], duration=delays,
                       loop=0 if loop_forever else 1, quality=90, method=4)
    else:
        images[0].save(tmp, format="PNG", save_all=True, append_images=images[1:], duration=delays,
                       loop=0 if loop_forever else 1)


def _write_frames(folder: Path, source) -> list[str]:
    names = []
    for k, fr in enumerate(source.frames(range(len(source)))):
        name = f"frame_{k:04d}.png"
        Image.fromarray(fr).save(folder / name)
        names.append(name)
    return names


def _gif(tmp, source, shown, *, fps, loop_forever):
    _write_gif(tmp, source, shown, loop_forever)


def _mp4(tmp, source, shown, *, fps, loop_forever):
    _write_mp4(tmp, source, shown, fps)  # a video plays once; players loop it


def _webp(tmp, source, shown, *, fps, loop_forever):
    _write_pillow_anim(tmp, source, shown, loop_forever, "webp")


def _apng(tmp, source, shown, *, fps, loop_forever):
    _write_pillow_anim(tmp, source, shown, loop_forever, "apng")


# One writer per format, keyed by output_format(): each writes a complete file at ``tmp``
# from a FrameSource, in playback order; write_animation makes it atomic and reads it back.
# (A frames folder is written by replace_frames_dir + _write_frames: a folder, not a file.)
# GIF, MP4 and frames folders stream; Pillow's WebP and APNG writers take every frame at once.
WRITERS = {"gif": _gif, "mp4": _mp4, "webp": _webp, "apng": _apng}
STREAMING = ("gif", "mp4", "frames")


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
            count, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
            if expected_frames is not None and count != expected_frames:
                raise OutputError(f"{path}: the MP4 encoder wrote {count} of {expected_frames} frames")
            return Written(fmt, int(count), float(seconds), tuple(size) if size else (0, 0))
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


def write_animation(path, frames, shown: list[tuple[int, float]], *, fps: float,
                    loop: str = "forever", inputs=(), checked: bool = False) -> Written:
    """Write ``frames`` played as ``shown`` ((rendered index, seconds) pairs) to ``path``.

    ``frames``: a list of (H, W, 3) uint8 arrays, or a ``sequence.FrameSource`` that renders
    them as the encoder asks (GIF, MP4 and frames folders then never hold them all). The
    format comes from the extension (see ``output_format``). Returns what the file on disk
    holds, read back from it.
    """
    from .sequence import FrameSource

    # ``checked``: the caller ran check_output before its work (the pipeline does)
    fmt = output_format(path) if checked else check_output(path, inputs)
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
        WRITERS[fmt](tmp, source, shown, fps=fps, loop_forever=loop != "once")
        expected = sum(timing.repeat_counts([s for _, s in shown], fps)) if fmt == "mp4" else None
        result.append(read_back(tmp, fmt, expected, mp4_size(w, h)))

    try:
        atomic_replace_file(write, target)
    except OutputError as exc:
        text = str(exc)
        raise OutputError(text if text.startswith(os.fspath(target)) else f"{target}: {text}") from None
    return result[0]
