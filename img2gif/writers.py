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
    if fmt == "frames":
        check_writable_dir(os.fspath(path).rstrip("/" + os.sep) or os.fspath(path))
    else:
        check_writable_file(path)
    check_not_an_input(os.fspath(path).rstrip("/" + os.sep) or os.fspath(path), inputs)
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


def _run_ffmpeg(cmd: list[str], chunks, read_bytes: int | None = None, on_output=None) -> None:
    """Run ffmpeg feeding ``chunks`` (bytes) to stdin from a thread; ``on_output(block)`` gets
    stdout in blocks of ``read_bytes``. ffmpeg's own messages never reach the terminal: they
    are kept and, if ffmpeg fails, their last line is the error."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE if read_bytes else subprocess.DEVNULL,
                                stderr=log)
        failure = []

        def feed():
            try:
                for chunk in chunks:
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
            feeder.join()
            code = proc.wait()
        except BaseException:
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


def _gif_frames_ffmpeg(frames: list[np.ndarray], ffmpeg: str) -> list[Image.Image]:
    """One palette for the whole animation (palettegen over a sample), then paletteuse.

    Frames go through pipes, never through a temp file (a killed run leaves nothing).
    """
    h, w = frames[0].shape[:2]
    # The palette is built from at most ~16 evenly spaced frames (an animation's colours
    # change gradually; a third faster at 1080p).
    picks = frames[:: max(1, len(frames) // 16)]
    raw_in = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25", "-i", "-"]
    palette = bytearray()
    _run_ffmpeg([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", *raw_in,
                 "-vf", "palettegen=stats_mode=full:max_colors=256", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                _raw(picks), 16 * 16 * 3, palette.extend)
    if len(palette) != 16 * 16 * 3:
        raise OutputError(f"ffmpeg palettegen returned {len(palette)} bytes")
    out = []
    per = w * h + 1024  # pal8 raw video: indices, then 256 palette entries as native uint32 ARGB

    def keep(block: bytes) -> None:
        chunk = np.frombuffer(block, dtype=np.uint8)
        argb = chunk[w * h:].view("<u4")
        pal = np.stack([(argb >> 16) & 255, (argb >> 8) & 255, argb & 255], axis=1).astype(np.uint8)
        im = Image.frombytes("P", (w, h), block[: w * h])
        im.putpalette(pal.reshape(-1).tolist())
        out.append(im)

    with tempfile.TemporaryDirectory(prefix="img2gif-") as workdir:  # the system's temp dir: 1 KB
        palette_png = Path(workdir) / "palette.png"
        Image.frombytes("RGB", (16, 16), bytes(palette)).save(palette_png)
        # Ordered (bayer) dithering: stable from frame to frame (error diffusion crawls in
        # animations) and 4x faster than sierra2_4a.
        _run_ffmpeg([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", *raw_in, "-i", str(palette_png),
                     "-lavfi", "[0:v][1:v]paletteuse=dither=bayer:bayer_scale=3:diff_mode=rectangle",
                     "-f", "rawvideo", "-pix_fmt", "pal8", "-"], _raw(frames), per, keep)
    if len(out) != len(frames):
        raise OutputError(f"ffmpeg returned {len(out)} frames for {len(frames)}")
    return out


def _gif_frames_pillow(frames: list[np.ndarray]) -> list[Image.Image]:
    """Fallback: one median-cut palette from a montage of up to 16 frames."""
    picks = frames[:: max(1, len(frames) // 16)][:16]
    montage = Image.fromarray(np.concatenate(picks, axis=0))
    palette = montage.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    return [Image.fromarray(fr).quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG) for fr in frames]


def _write_gif(tmp: Path, frames, shown, loop_forever: bool) -> None:
    ffmpeg = _ffmpeg()
    indexed = None
    if ffmpeg is not None:
        try:
            indexed = _gif_frames_ffmpeg(frames, ffmpeg)
        except (OSError, OutputError) as exc:
            warnings.warn(f"ffmpeg palette failed ({exc}); using Pillow's palette", Img2GifWarning, stacklevel=2)
    if indexed is None:
        indexed = _gif_frames_pillow(frames)
    sequence = [indexed[i] for i, _ in shown]
    delays = timing.gif_delays_cs([s for _, s in shown])
    extra = {"loop": 0} if loop_forever else {}
    # Passing the palette tells Pillow it is global: no per-frame colour tables.
    sequence[0].save(tmp, format="GIF", save_all=True, append_images=sequence[1:],
                     duration=[d * 10 for d in delays], optimize=False, disposal=1,
                     palette=bytes(indexed[0].getpalette()), **extra)


def mp4_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even sides: the MP4's size (the last row/column is repeated)."""
    return width + width % 2, height + height % 2


def _write_mp4(tmp: Path, frames, shown, fps: float) -> None:
    ffmpeg = _ffmpeg()
    if ffmpeg is None:
        raise OutputError("MP4 needs ffmpeg (from imageio-ffmpeg), which is missing on this platform")
    h, w = frames[0].shape[:2]
    (pw, ph) = mp4_size(w, h)
    pad_h, pad_w = ph - h, pw - w

    def chunks():
        counts = timing.repeat_counts([s for _, s in shown], fps)
        for (i, _), n in zip(shown, counts):
            fr = np.pad(frames[i], ((0, pad_h), (0, pad_w), (0, 0)), mode="edge") if (pad_h or pad_w) else frames[i]
            data = np.ascontiguousarray(fr).tobytes()
            for _ in range(n):
                yield data

    _run_ffmpeg([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                 "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{pw}x{ph}", "-r", f"{fps:.6g}", "-i", "-",
                 "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "10",  # = imageio-ffmpeg quality 8, what earlier versions wrote
                 "-movflags", "+faststart", "-f", "mp4", str(tmp)], chunks())


def _write_pillow_anim(tmp: Path, frames, shown, loop_forever: bool, fmt: str) -> None:
    images = [Image.fromarray(frames[i]) for i, _ in shown]
    delays = timing.delays_ms([s for _, s in shown])
    if fmt == "webp":
        images[0].save(tmp, format="WEBP", save_all=True, append_images=images[1:], duration=delays,
                       loop=0 if loop_forever else 1, quality=90, method=4)
    else:
        images[0].save(tmp, format="PNG", save_all=True, append_images=images[1:], duration=delays,
                       loop=0 if loop_forever else 1)


def _write_frames(folder: Path, frames) -> list[str]:
    names = []
    for k, fr in enumerate(frames):
        name = f"frame_{k:04d}.png"
        Image.fromarray(fr).save(folder / name)
        names.append(name)
    return names


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


def write_animation(path, frames: list[np.ndarray], shown: list[tuple[int, float]], *, fps: float,
                    loop: str = "forever", inputs=()) -> Written:
    """Write ``frames`` ((H, W, 3) uint8) played as ``shown`` ((index, seconds) pairs) to ``path``.

    The format comes from the extension (see ``output_format``). Returns what the file on
    disk holds, read back from it.
    """
    fmt = check_output(path, inputs)
    if not frames:
        raise OutputError(f"{path}: nothing to write (no frames)")
    h, w = frames[0].shape[:2]
    check_frame_size(path, fmt, w, h)
    target = Path(os.fspath(path))
    if fmt == "frames":
        replace_frames_dir(lambda folder: _write_frames(folder, frames), target)
        return Written(fmt, len(frames), len(frames) / fps, (w, h))
    result = []

    def write(tmp: Path) -> None:
        if fmt == "gif":
            _write_gif(tmp, frames, shown, loop != "once")
        elif fmt == "mp4":
            _write_mp4(tmp, frames, shown, fps)
        else:
            _write_pillow_anim(tmp, frames, shown, loop != "once", fmt)
        expected = sum(timing.repeat_counts([s for _, s in shown], fps)) if fmt == "mp4" else None
        result.append(read_back(tmp, fmt, expected, mp4_size(w, h)))

    try:
        atomic_replace_file(write, target)
    except OutputError as exc:
        text = str(exc)
        raise OutputError(text if text.startswith(os.fspath(target)) else f"{target}: {text}") from None
    return result[0]
