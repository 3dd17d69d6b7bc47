"""What `img2gif inspect` reports: the installation, a checkpoint, or an animation file.

torch is imported only where a checkpoint or the installation is shown: `inspect out.gif`
answers without it (about 1.5 s sooner).
"""
from __future__ import annotations

import os
from itertools import groupby
from pathlib import Path

from rich.table import Table
from rich.text import Text

from . import registry
from ._version import __version__
from .display import safe_text
from .errors import InputError, OptionError

PLOT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
# Decoding an animation to read its delays costs its canvas x frames in pixels: a 7 KB GIF
# can declare an 8000x8000 canvas and 3000 frames. GIF delays are read without decoding;
# other formats are decoded only up to this many pixels in all.
MAX_DECODED_PIXELS = 500_000_000


def _table(title, *columns, show_header=True) -> Table:
    table = Table(title=safe_text(title), show_header=show_header)
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _row(table: Table, *cells) -> None:
    """Every cell made safe: names and strings from files may hold terminal escapes."""
    table.add_row(*(c if isinstance(c, Text) else safe_text(c) for c in cells))


def show_installation(console) -> None:
    import torch

    table = _table("plugins", "kind", "name", "provider", "status")
    for info, problem in registry.check_all():
        kind = next(k for k, g in registry.GROUPS.items() if g == info.group)
        status = Text("ok", style="green") if problem is None else Text(safe_text(f"warning: {problem}"), style="yellow")
        _row(table, kind, info.name, info.provider, status)
    console.print(table)

    env = _table("environment", "what", "value", show_header=False)
    _row(env, "img2gif", __version__)
    _row(env, "torch", torch.__version__)
    cuda = torch.cuda.is_available()
    _row(env, "CUDA", torch.cuda.get_device_name(0) if cuda else "not available")
    _row(env, "default device (--device auto)", "cuda" if cuda else "cpu")
    _row(env, "CPU threads", str(torch.get_num_threads()))
    try:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # missing binary: GIFs fall back to Pillow's palette
        ffmpeg = f"not found ({exc}); GIF palettes use Pillow"
    _row(env, "ffmpeg", ffmpeg)
    from .models import cache_dir

    _row(env, "cache dir", str(cache_dir()))
    console.print(env)


def inverse_consistency(pair) -> tuple[float, float]:
    """|Phi_{-1} o Phi_1| in pixels (mean, max): how far going there and back misses."""
    from .warp import compose

    phi = pair.fields([1.0, -1.0])
    roundtrip = compose(phi[1:2], phi[0:1])
    h, w = phi.shape[-2:]
    scale = roundtrip.new_tensor([(w - 1) / 2.0, (h - 1) / 2.0]).view(1, 2, 1, 1)
    err = (roundtrip * scale).norm(dim=1)
    return float(err.mean()), float(err.max())


def check_plot_path(plot, inputs) -> str:
    """The image format for ``--plot`` from its extension; refuses an input or a non-image name."""
    from .safefile import check_not_an_input, check_writable_file

    fmt = PLOT_FORMATS.get(Path(os.fspath(plot)).suffix.lower())
    if fmt is None:
        raise OptionError(f"{plot}: --plot writes an image: give a name ending in {', '.join(PLOT_FORMATS)}")
    check_writable_file(plot)
    check_not_an_input(plot, inputs, what="plot")
    return fmt


def show_checkpoint(console, path, device: str = "auto", plot=None) -> None:
    import torch

    from . import checkpoint

    plot_format = check_plot_path(plot, [path]) if plot is not None else None
    record = checkpoint.load(path)
    if plot is not None and record["format"] != "img2gif.pair":
        raise InputError(f"{path}: --plot needs a pair file (from fit-pair)")
    summary = checkpoint.describe(record)
    table = _table(str(path), "field", "value", show_header=False)
    for key in ("format", "format_version", "img2gif_version", "image_size", "working_shape"):
        if key in summary:
            _row(table, key, str(summary[key]))
    for key in ("velocity", "solver"):
        if isinstance(summary.get(key), dict):
            _row(table, key, f"{summary[key].get('name')} {summary[key].get('config')}")
    state = record.get("state_dict", {})
    params = sum(v.numel() for v in state.values() if isinstance(v, torch.Tensor)) if isinstance(state, dict) else 0
    _row(table, "parameters", f"{params:,}")
    if isinstance(summary.get("fit"), dict):
        _row(table, "fit settings", ", ".join(f"{k}={v}" for k, v in summary["fit"].items()))
    if record["format"] == "img2gif.pair":
        from .device import resolve_device
        from .pair import Pair

        pair = Pair.load(path, resolve_device(device))
        _row(table, "folded pixels (t = 0.25, 0.5, 0.75, 1, -1)", str(pair.folds()))
        mean, worst = inverse_consistency(pair)
        _row(table, "inverse consistency |Phi_-1 o Phi_1| (px)", f"mean {mean:.3f}, max {worst:.3f}")
        if plot is not None:
            from .plot import warp_figure
            from .safefile import atomic_replace_file

            figure = warp_figure(pair.a, pair.fields([1.0])[0])
            atomic_replace_file(lambda tmp: figure.convert("RGB").save(tmp, format=plot_format), plot)
            _row(table, "plot", str(plot))
    console.print(table)


def _runs(values) -> str:
    # "x", not a multiplication sign: the table must print on an ASCII-only terminal too
    return ", ".join(f"{v}x{len(list(g))}" for v, g in groupby(values))


def _gif_timing(path: Path) -> tuple[tuple[int, int], list[int], int | None]:
    """(logical screen size, per-frame delays in cs, loop count) from a GIF's blocks."""
    from .gif import read_blocks

    try:
        return read_blocks(path.read_bytes())
    except ValueError as exc:
        raise InputError(f"{path}: not an animation img2gif can read (GIF {exc})") from None


def _gif_plays(repeats: int | None) -> int:
    """How many times a GIF plays: its NETSCAPE2.0 field counts repeats after the first play
    (0: forever); a GIF without the field plays once."""
    if repeats is None:
        return 1
    return 0 if repeats == 0 else repeats + 1


def _video_rows(table, path: Path) -> None:
    """A video as img2gif reads it (``videofile.probe``): the stream used, its decoded frames
    counted up to the frame limit, the rate from their timestamps."""
    from .clip import MAX_SOURCE_FRAMES, frame_rate
    from .videofile import probe

    found = probe(path, MAX_SOURCE_FRAMES)
    streams = f" (the first of {found.video_streams} video streams)" if found.video_streams > 1 else ""
    _row(table, "format", f"video ({found.codec})")
    _row(table, "video stream", f"{found.stream}{streams}")
    _row(table, "size", f"{found.size[0]}x{found.size[1]}")
    _row(table, "audio", "yes" if found.has_audio else "no")
    if found.over_limit:
        _row(table, "frames", f"more than {MAX_SOURCE_FRAMES} (counting stopped at img2gif's limit)")
        return
    _row(table, "frames", str(found.count))
    if found.count >= 2:
        fps, times = frame_rate(str(path), found)
        _row(table, "fps (from timestamps)", f"{fps:.6g}" + (" on average (variable rate)" if times else ""))
    # from the first frame to the end of the last: its own duration included
    _row(table, "duration", f"{float((found.end - found.ticks[0]) * found.time_base):.3f} s")


def show_animation(console, path) -> None:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an animation file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a pipe, socket or device), expected an animation file")
    table = _table(str(path), "field", "value", show_header=False)
    if path.suffix.lower() in (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"):
        _video_rows(table, path)
        console.print(table)
        return
    from PIL import Image, UnidentifiedImageError

    with open(path, "rb") as f:
        is_gif = f.read(6) in (b"GIF87a", b"GIF89a")
    try:
        if is_gif:
            fmt = "GIF"
            size, cs_delays, repeats = _gif_timing(path)
            plays = _gif_plays(repeats)
            n = len(cs_delays)
            durations = [c * 10 for c in cs_delays]
        else:
            with Image.open(path) as im:
                fmt = im.format
                n = getattr(im, "n_frames", 1)
                size = im.size
                # APNG's num_plays and WebP's loop count plays (0: forever); no field: once
                plays = im.info.get("loop", 1)
                if n * size[0] * size[1] > MAX_DECODED_PIXELS:
                    raise InputError(f"{path}: {n} frames of {size[0]}x{size[1]} are too many pixels to inspect "
                                     f"(over {MAX_DECODED_PIXELS:,})")
                durations = []
                for k in range(n):
                    im.seek(k)
                    im.load()  # WebP sets a frame's duration only once decoded
                    durations.append(int(im.info.get("duration", 0)))
    except Image.DecompressionBombError:
        raise InputError(f"{path}: image is too large to inspect (over Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} pixels)") from None
    except (UnidentifiedImageError, OSError, EOFError, IndexError, ValueError, SyntaxError) as exc:
        # Pillow raises several types for cut or corrupt files
        raise InputError(f"{path}: not an animation img2gif can read ({exc})") from None
    _row(table, "format", f"{fmt}{' (animated)' if n > 1 else ''}")
    _row(table, "size", f"{size[0]}x{size[1]}")
    _row(table, "frames", str(n))
    _row(table, "loop", "forever" if plays == 0 else ("once" if plays == 1 else f"{plays} times"))
    if fmt == "GIF":
        from .timing import gif_played_cs

        cs = [d // 10 for d in durations]
        _row(table, "delays (1/100 s)", _runs(cs))
        total = sum(gif_played_cs(c) for c in cs) / 100.0
        if any(gif_played_cs(c) != c for c in cs):
            _row(table, "note", Text("delays under 2 cs are played as 10 cs by browsers", style="yellow"))
    else:
        _row(table, "delays (ms)", _runs(durations))
        total = sum(durations) / 1000.0
    _row(table, "duration", f"{total:.3f} s")
    _row(table, "real fps", f"{n / total:.2f}" if total > 0 else "n/a")
    console.print(table)


def show_models(console) -> None:
    from . import models

    table = _table("models", "name", "kind", "description", "size", "where")
    for name, entry in models.registry().items():
        cached = models.models_dir() / entry["file"]
        fresh = models.is_cached(entry)
        state = (f"cached: {cached}" if fresh else
                 f"an older copy is cached ({cached}): replaced on first use" if cached.is_file() else
                 "shipped (copied to the cache on first use)" if entry.get("source", "package") == "package" else
                 f"download: {entry['source']}")
        kind = "pretrained" + (f" v{entry['version']}" if "version" in entry else "")
        _row(table, name, kind, entry.get("description", ""), f"{entry.get('size', 0) / 1e6:.1f} MB", state)
    user = models.user_models_dir()
    shipped = set(models.registry())
    for path in sorted(user.glob("*.pt")) if user.is_dir() else []:
        if path.stem in shipped:  # shipped names are reserved: --model NAME never picks this file
            _row(table, path.stem, "ignored", "a user file with a shipped model's name; --model uses the shipped one",
                 f"{path.stat().st_size / 1e6:.1f} MB", str(path))
        else:
            _row(table, path.stem, "user-trained", "", f"{path.stat().st_size / 1e6:.1f} MB", str(path))
    console.print(table)
    console.print(Text(safe_text(f"cache dir: {models.models_dir()}")))
