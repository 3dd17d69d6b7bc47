"""Writing animations: GIF, MP4, WebP, APNG or numbered PNG frames, always atomically.

Every writer renders into a temporary file beside the target and renames it into
place, so an interrupted or failed run never leaves a partial file (and a previous
file at that path stays intact until the new one is complete).
"""
from __future__ import annotations

import glob
import os
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from . import timing
from .errors import OutputError
from .imagefile import Img2GifWarning

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


def check_writable_file(path) -> Path:
    """Fail fast if a file cannot be written at ``path`` (missing or read-only folder)."""
    target = Path(os.fspath(path))
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{target}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{target}: folder {str(parent)!r} is not writable")
    if target.is_dir():
        raise OutputError(f"{target}: is a directory")
    return target


def check_output(path) -> str:
    """Fail fast, before any work, if ``path`` cannot be written; returns its format."""
    fmt = output_format(path)
    target = Path(os.fspath(path))
    if fmt != "frames":
        check_writable_file(target)
    elif target.is_dir():
        if not os.access(target, os.W_OK | os.X_OK):
            raise OutputError(f"{target}: folder is not writable")
    else:
        check_writable_file(target)  # the folder will be created inside its parent
    return fmt


def remove_stale_temp_files(target) -> list[Path]:
    """Delete temp files that an earlier, killed write of ``target`` left beside it.

    SIGKILL gives no chance to clean up; a job that rewrites the same file (a training
    run resuming) calls this on start. Returns what it removed.
    """
    target = Path(os.fspath(target))
    prefix, suffix = _temp_affixes(target, target.suffix)
    removed = []
    for stale in target.parent.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        try:
            stale.unlink()
            removed.append(stale)
        except OSError:
            pass
    return removed


def _temp_affixes(target: Path, suffix: str) -> tuple[str, str]:
    """Prefix and suffix of the temp files written beside ``target`` (hidden, marked .part)."""
    return f".{target.name}.", f".part{suffix}"


def _temp_beside(target: Path, suffix: str) -> Path:
    prefix, suffix = _temp_affixes(target, suffix)
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent or ".")
    os.close(fd)
    # mkstemp makes the file private (0600); the finished output gets the usual mode
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def _ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # no binary for this platform: use the Pillow path
        return None


def _gif_frames_ffmpeg(frames: list[np.ndarray], ffmpeg: str, workdir: Path) -> list[Image.Image]:
    """One palette for the whole animation (palettegen over every frame), then paletteuse."""
    h, w = frames[0].shape[:2]
    raw = workdir / "indexed.raw"
    # The palette is built from at most ~16 evenly spaced frames (an animation's colours
    # change gradually; a third faster at 1080p). Ordered (bayer) dithering: stable from
    # frame to frame (error diffusion crawls in animations) and 4x faster than sierra2_4a.
    every = max(1, len(frames) // 16)
    graph = (f"[0:v]split[a][b];[a]select='not(mod(n\\,{every}))',palettegen=stats_mode=full:max_colors=256[p];"
             "[b][p]paletteuse=dither=bayer:bayer_scale=3:diff_mode=rectangle")
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", "25", "-i", "-", "-filter_complex", graph, "-f", "rawvideo", "-pix_fmt", "pal8", str(raw)]
    # Feed through a temp file, not a pipe: palettegen buffers every frame anyway.
    src = workdir / "frames.raw"
    with open(src, "wb") as f:
        for fr in frames:
            f.write(np.ascontiguousarray(fr).tobytes())
    with open(src, "rb") as f:
        proc = subprocess.run(cmd, stdin=f, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace").strip()[-300:])
    data = np.fromfile(raw, dtype=np.uint8)
    per = w * h + 1024  # pal8 raw video: indices, then 256 palette entries as native uint32 ARGB
    if data.size != per * len(frames):
        raise RuntimeError(f"ffmpeg returned {data.size} bytes for {len(frames)} frames")
    out = []
    for k in range(len(frames)):
        chunk = data[k * per:(k + 1) * per]
        argb = chunk[w * h:].view("<u4")
        palette = np.stack([(argb >> 16) & 255, (argb >> 8) & 255, argb & 255], axis=1).astype(np.uint8)
        im = Image.frombytes("P", (w, h), chunk[: w * h].tobytes())
        im.putpalette(palette.reshape(-1).tolist())
        out.append(im)
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
        with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".img2gif-") as workdir:
            try:
                indexed = _gif_frames_ffmpeg(frames, ffmpeg, Path(workdir))
            except (OSError, RuntimeError) as exc:
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


def _write_mp4(tmp: Path, frames, shown, fps: float) -> None:
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    pad_h, pad_w = h % 2, w % 2  # yuv420p needs even sides: repeat the last row/column
    writer = imageio_ffmpeg.write_frames(str(tmp), (w + pad_w, h + pad_h), fps=fps, codec="libx264",
                                         pix_fmt_out="yuv420p", quality=8, macro_block_size=1,
                                         ffmpeg_log_level="error", output_params=["-movflags", "+faststart"])
    writer.send(None)
    try:
        counts = timing.repeat_counts([s for _, s in shown], fps)
        for (i, _), n in zip(shown, counts):
            fr = np.pad(frames[i], ((0, pad_h), (0, pad_w), (0, 0)), mode="edge") if (pad_h or pad_w) else frames[i]
            for _ in range(n):
                writer.send(np.ascontiguousarray(fr))
    finally:
        writer.close()


def _write_pillow_anim(tmp: Path, frames, shown, loop_forever: bool, fmt: str) -> None:
    images = [Image.fromarray(frames[i]) for i, _ in shown]
    delays = timing.delays_ms([s for _, s in shown])
    if fmt == "webp":
        images[0].save(tmp, format="WEBP", save_all=True, append_images=images[1:], duration=delays,
                       loop=0 if loop_forever else 1, quality=90, method=4)
    else:
        images[0].save(tmp, format="PNG", save_all=True, append_images=images[1:], duration=delays,
                       loop=0 if loop_forever else 1)


def _write_frames_dir(target: Path, frames) -> None:
    target.mkdir(parents=False, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".img2gif-") as workdir:
        names = []
        for k, fr in enumerate(frames):
            name = f"frame_{k:04d}.png"
            Image.fromarray(fr).save(Path(workdir) / name)
            names.append(name)
        for name in names:  # each rename is atomic; all files exist before the first
            os.replace(Path(workdir) / name, target / name)


def write_animation(path, frames: list[np.ndarray], shown: list[tuple[int, float]], *, fps: float, loop: str = "forever") -> str:
    """Write ``frames`` ((H, W, 3) uint8) played as ``shown`` ((index, seconds) pairs) to ``path``.

    The format comes from the extension (see ``output_format``); returns it.
    """
    fmt = check_output(path)
    if not frames:
        raise OutputError(f"{path}: nothing to write (no frames)")
    target = Path(os.fspath(path))
    if fmt == "frames":
        _write_frames_dir(target, frames)
        return fmt

    def write(tmp: Path) -> None:
        if fmt == "gif":
            _write_gif(tmp, frames, shown, loop != "once")
        elif fmt == "mp4":
            _write_mp4(tmp, frames, shown, fps)
        else:
            _write_pillow_anim(tmp, frames, shown, loop != "once", fmt)

    atomic_replace_file(write, target)
    return fmt


def atomic_replace_file(write, target) -> None:
    """Run ``write(tmp_path)`` then rename the temp file onto ``target`` (never partial)."""
    target = Path(os.fspath(target))
    try:
        tmp = _temp_beside(target, target.suffix)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
