"""What `img2gif inspect` reports: the installation, a checkpoint, or an animation file."""
from __future__ import annotations

import os
from itertools import groupby
from pathlib import Path

import torch
from rich.table import Table
from rich.text import Text

from . import __version__, checkpoint, registry
from .errors import InputError


def cache_dir() -> Path:
    """Where models are cached: IMG2GIF_CACHE_DIR, else the platform's user cache dir."""
    env = os.environ.get("IMG2GIF_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("img2gif"))


def show_installation(console) -> None:
    table = Table(title="plugins")
    for col in ("kind", "name", "provider", "status"):
        table.add_column(col)
    for info, problem in registry.check_all():
        kind = next(k for k, g in registry.GROUPS.items() if g == info.group)
        status = Text("ok", style="green") if problem is None else Text(f"warning: {problem}", style="yellow")
        table.add_row(kind, info.name, info.provider, status)
    console.print(table)

    env = Table(title="environment", show_header=False)
    env.add_column("what")
    env.add_column("value")
    env.add_row("img2gif", __version__)
    env.add_row("torch", torch.__version__)
    cuda = torch.cuda.is_available()
    env.add_row("CUDA", torch.cuda.get_device_name(0) if cuda else "not available")
    env.add_row("default device (--device auto)", "cuda" if cuda else "cpu")
    env.add_row("CPU threads", str(torch.get_num_threads()))
    try:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # missing binary: GIFs fall back to Pillow's palette
        ffmpeg = f"not found ({exc}); GIF palettes use Pillow"
    env.add_row("ffmpeg", ffmpeg)
    env.add_row("cache dir", str(cache_dir()))
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


def show_checkpoint(console, path, device: str = "auto", plot=None) -> None:
    record = checkpoint.load(path)
    summary = checkpoint.describe(record)
    table = Table(title=str(path), show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key in ("format", "format_version", "img2gif_version", "image_size", "working_shape"):
        if key in summary:
            table.add_row(key, str(summary[key]))
    for key in ("velocity", "solver"):
        if key in summary:
            table.add_row(key, f"{summary[key].get('name')} {summary[key].get('config')}")
    params = sum(v.numel() for v in record.get("state_dict", {}).values() if isinstance(v, torch.Tensor))
    table.add_row("parameters", f"{params:,}")
    if "fit" in summary:
        table.add_row("fit settings", ", ".join(f"{k}={v}" for k, v in summary["fit"].items()))
    if record["format"] == "img2gif.pair":
        from .pair import Pair, resolve_device

        pair = Pair.load(path, resolve_device(device))
        table.add_row("folded pixels (t = 0.25, 0.5, 0.75, 1, -1)", str(pair.folds()))
        mean, worst = inverse_consistency(pair)
        table.add_row("inverse consistency |Phi_-1 o Phi_1| (px)", f"mean {mean:.3f}, max {worst:.3f}")
        if plot is not None:
            from .plot import warp_figure
            from .writers import atomic_replace_file, check_writable_file

            check_writable_file(plot)
            figure = warp_figure(pair.a, pair.fields([1.0])[0])
            atomic_replace_file(lambda tmp: figure.save(tmp, format="PNG"), plot)
            table.add_row("plot", str(plot))
    elif plot is not None:
        raise InputError(f"{path}: --plot needs a pair file (from fit-pair)")
    console.print(table)


def _runs(values) -> str:
    return ", ".join(f"{v}×{len(list(g))}" for v, g in groupby(values))


def show_animation(console, path) -> None:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an animation file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a pipe, socket or device), expected an animation file")
    table = Table(title=str(path), show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    if path.suffix.lower() in (".mp4", ".mov", ".mkv", ".webm", ".avi"):
        import imageio_ffmpeg

        try:
            reader = imageio_ffmpeg.read_frames(str(path))
            meta = next(reader)
            reader.close()
            count, secs = imageio_ffmpeg.count_frames_and_secs(str(path))
        except (OSError, RuntimeError, StopIteration) as exc:
            raise InputError(f"{path}: cannot read video ({str(exc).splitlines()[0][:160]})") from None
        table.add_row("format", f"video ({meta.get('codec')})")
        table.add_row("size", "x".join(map(str, meta.get("size", ()))))
        table.add_row("frames", str(count))
        table.add_row("fps (container)", f"{meta.get('fps')}")
        table.add_row("duration", f"{secs:.3f} s")
        console.print(table)
        return
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            fmt = im.format
            n = getattr(im, "n_frames", 1)
            size = im.size
            loop = im.info.get("loop")
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
    table.add_row("format", f"{fmt}{' (animated)' if n > 1 else ''}")
    table.add_row("size", f"{size[0]}x{size[1]}")
    table.add_row("frames", str(n))
    table.add_row("loop", "forever" if loop == 0 else ("once" if loop in (None, 1) else f"{loop} times"))
    if fmt == "GIF":
        cs = [d // 10 for d in durations]
        played = [c if c > 1 else 10 for c in cs]  # browsers show 0-1 cs as 10 cs
        table.add_row("delays (1/100 s)", _runs(cs))
        total = sum(played) / 100.0
        if any(c <= 1 for c in cs):
            table.add_row("note", Text("delays under 2 cs are played as 10 cs by browsers", style="yellow"))
    else:
        table.add_row("delays (ms)", _runs(durations))
        total = sum(durations) / 1000.0
    table.add_row("duration", f"{total:.3f} s")
    table.add_row("real fps", f"{n / total:.2f}" if total > 0 else "n/a")
    console.print(table)


def show_models(console) -> None:
    from . import models

    table = Table(title="models")
    for col in ("name", "kind", "description", "size", "where"):
        table.add_column(col, overflow="fold")
    for name, entry in models.registry().items():
        cached = models.models_dir() / entry["file"]
        state = f"cached: {cached}" if cached.is_file() else "shipped (copied to the cache on first use)" if entry.get("source", "package") == "package" else f"download: {entry['source']}"
        table.add_row(name, "pretrained", entry.get("description", ""), f"{entry.get('size', 0) / 1e6:.1f} MB", state)
    user = models.user_models_dir()
    for path in sorted(user.glob("*.pt")) if user.is_dir() else []:
        table.add_row(path.stem, "user-trained", "", f"{path.stat().st_size / 1e6:.1f} MB", str(path))
    console.print(table)
    console.print(f"cache dir: {models.models_dir()}")
