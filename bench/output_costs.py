"""What ``--quality`` and ``--codec`` cost: bytes and decoded PSNR per format and setting.

    python bench/output_costs.py        # the 7 colour clips of gif_quality.py, ~3 min

The clips are the frames bench/gif_quality.py renders (17 frames per clip, 256 px). Each
setting writes them with ``img2gif.writers.write_animation`` at 10 fps; the file is decoded
back (MP4 by ffmpeg as rgb24, WebP and GIF by Pillow) and compared with the frames: PSNR over
all frames, and bytes, summed over the clips. Results: bench/out/output_costs.json.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, markdown_table, write_json  # noqa: E402
from bench.gif_quality import CASES, FPS, decode, psnr, rendered_frames  # noqa: E402

SETTINGS = [("mp4", "h264", q) for q in (50, 70, 90, 100)] + [("mp4", "h265", q) for q in (50, 70, 90)]
SETTINGS += [("webp", None, q) for q in (50, 70, 90, 100)] + [("gif", None, q) for q in (50, 70, 90)]


def decode_mp4(path: Path, shape) -> list[np.ndarray]:
    import imageio_ffmpeg

    h, w = shape[:2]
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    pw, ph = meta["size"]
    frames = [np.frombuffer(raw, np.uint8).reshape(ph, pw, 3)[:h, :w] for raw in reader]
    return frames


def main() -> None:
    from img2gif import ffmpeg, timing
    from img2gif.encoding import Encoding
    from img2gif.writers import write_animation

    settings = [s for s in SETTINGS if s[1] != "h265" or ffmpeg.has_encoder("libx265")]
    totals = {s: {"bytes": 0, "sq_err": 0.0, "n": 0} for s in settings}
    per_clip = []
    with tempfile.TemporaryDirectory(prefix="img2gif-costs-") as tmp:
        for case in CASES:
            source = rendered_frames(case, False)
            row = {"case": case}
            for fmt, codec, quality in settings:
                path = Path(tmp) / f"out.{fmt}"
                encoding = Encoding(quality=quality, codec=codec or "h264")
                write_animation(path, source, timing.playback(len(source), FPS), fps=FPS, encoding=encoding)
                frames = decode_mp4(path, source[0].shape) if fmt == "mp4" else decode(path)
                key = (fmt, codec, quality)
                row[f"{fmt} {codec or ''} q{quality}"] = {"bytes": path.stat().st_size, "psnr": round(psnr(frames, source), 2)}
                totals[key]["bytes"] += path.stat().st_size
                totals[key]["sq_err"] += sum(float(np.mean((f.astype(float) - s.astype(float)) ** 2))
                                             for f, s in zip(frames, source))
                totals[key]["n"] += len(source)
                path.unlink()
            per_clip.append(row)
            print(case, flush=True)
    table = []
    for (fmt, codec, quality), t in totals.items():
        mse = t["sq_err"] / t["n"]
        table.append([fmt.upper() + (f" {codec}" if codec else ""), str(quality), f"{t['bytes'] / 1000:.0f} KB",
                      f"{10 * np.log10(255 ** 2 / max(mse, 1e-12)):.2f} dB"])
    print(markdown_table(["format", "--quality", "bytes, 7 clips", "PSNR (all frames)"], table))
    write_json("output_costs", {"environment": environment(), "per_clip": per_clip,
                                "totals": {f"{k[0]} {k[1] or ''} q{k[2]}": v for k, v in totals.items()}})


if __name__ == "__main__":
    main()
