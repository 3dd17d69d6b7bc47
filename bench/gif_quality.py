"""GIF size and fidelity: img2gif's GIF writer against ffmpeg, Pillow and libimagequant.

    python bench/gif_quality.py            # 7 clips (+ 1 gray), ~3 min on 2 CPU cores
    python bench/gif_quality.py --qualities 90 70 50

The clips are real motion rendered by img2gif: for one G=16 case of each vfi-dev clip (and a
grayscale copy of the first), the pair frame_000 / frame_016 is fitted with the default
settings and 17 frames are rendered at t = k/16 (blend mode, 256 px). Those frames are the
source; every encoder gets the same frames at 10 fps, and each GIF is decoded back (Pillow)
and compared with them: PSNR over all frames and pixels, and bytes.

Encoders:
* img2gif: ``img2gif.writers.write_animation`` (default quality 90, and ``--qualities``), and
  at quality 90 with the other two ``--dither`` choices (bayer, none);
* ffmpeg: the usual recipe, ``palettegen`` (stats_mode=full) + ``paletteuse`` (its default
  sierra2_4a dither) + ffmpeg's GIF muxer (which crops to changed rectangles and marks
  unchanged pixels transparent by default);
* ffmpeg, bayer: the same with img2gif's dither (bayer, scale 3), to tell the quantiser's share
  from the muxer's;
* Pillow: ``Image.save(save_all=True, optimize=True)`` on the RGB frames (its own per-frame
  quantisation);
* libimagequant (the engine of pngquant and gifski; ``pip install imagequant``, GPL-3): each
  frame quantised to its own 256 colours with dithering, written by Pillow. Skipped when the
  package is not installed.

Target (issue 14): img2gif at least ffmpeg's PSNR at no more than ffmpeg's bytes on every clip.
Results: bench/out/gif_quality.json; the table goes to stdout.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ROOT, environment, markdown_table, write_json  # noqa: E402

VFI = ROOT.parent / "shared" / "data" / "vfi-dev"
CASES = ["bedroom_s122_g16", "cat_s23_g16", "dog_s181_g16", "juggle_s153_g16", "paraglide_s21_g16",
         "realshort_s6_g16", "handwave_s56_g8"]  # handwave has no G=16 case
GRAY = "bedroom_s122_g16"
FPS = 10


def rendered_frames(case: str, gray: bool) -> list[np.ndarray]:
    import torch

    import img2gif

    torch.manual_seed(0)
    folder = VFI / case
    last = max(int(p.stem.split("_")[1]) for p in folder.glob("frame_*.png"))
    mode = "L" if gray else "RGB"
    a, b = (np.asarray(Image.open(folder / f"frame_{k:03d}.png").convert(mode).convert("RGB")) for k in (0, last))
    pair = img2gif.fit_pair(a, b, device="cpu")
    return list(pair.frames([k / 16 for k in range(17)]))


def decode(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out.append(np.asarray(im.convert("RGB")))
        return out


def psnr(frames: list[np.ndarray], source: list[np.ndarray]) -> float:
    if len(frames) != len(source):
        return float("nan")
    mse = np.mean([np.mean((f.astype(np.float64) - s.astype(np.float64)) ** 2) for f, s in zip(frames, source)])
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


def encode_img2gif(frames, path: Path, quality: int, dither: str | None = None) -> None:
    from img2gif import timing
    from img2gif.encoding import DEFAULT_DITHER, Encoding
    from img2gif.writers import write_animation

    encoding = Encoding(quality=quality, dither=dither or DEFAULT_DITHER)
    write_animation(path, frames, timing.playback(len(frames), FPS), fps=FPS, encoding=encoding)


def encode_ffmpeg(frames, path: Path, dither: str) -> None:
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    graph = f"split[s0][s1];[s0]palettegen=stats_mode=full[p];[s1][p]paletteuse=dither={dither}"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
                    "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(FPS), "-i", "-", "-vf", graph, str(path)],
                   input=b"".join(f.tobytes() for f in frames), check=True)


def encode_pillow(frames, path: Path) -> None:
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=1000 // FPS, loop=0, optimize=True)


def encode_imagequant(frames, path: Path) -> None:
    import imagequant

    ims = [imagequant.quantize_pil_image(Image.fromarray(f).convert("RGBA"), dithering_level=1.0, max_colors=256)
           for f in frames]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=1000 // FPS, loop=0, optimize=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qualities", nargs="+", type=int, default=[90, 70, 50])
    args = parser.parse_args()
    try:
        import imagequant  # noqa: F401
        have_liq = True
    except ImportError:
        have_liq = False
    methods = [f"img2gif q{q}" for q in args.qualities] + ["img2gif q90 bayer", "img2gif q90 none"]
    methods += ["ffmpeg", "ffmpeg, bayer", "Pillow"]
    methods += ["libimagequant"] if have_liq else []
    clips = [(c, False) for c in CASES] + [(GRAY, True)]
    results = []
    with tempfile.TemporaryDirectory(prefix="img2gif-gifq-") as tmp:
        for case, gray in clips:
            name = case.split("_")[0] + (" (gray)" if gray else "")
            source = rendered_frames(case, gray)
            row = {"clip": name, "case": case, "size": f"{source[0].shape[1]}x{source[0].shape[0]}",
                   "raw_bytes": int(sum(f.nbytes for f in source)), "methods": {}}
            for method in methods:
                path = Path(tmp) / "out.gif"
                if method.startswith("img2gif"):
                    quality, *dither = method.split("q")[-1].split()
                    encode_img2gif(source, path, int(quality), dither[0] if dither else None)
                elif method == "ffmpeg":
                    encode_ffmpeg(source, path, "sierra2_4a")
                elif method == "ffmpeg, bayer":
                    encode_ffmpeg(source, path, "bayer:bayer_scale=3")
                elif method == "Pillow":
                    encode_pillow(source, path)
                else:
                    encode_imagequant(source, path)
                row["methods"][method] = {"bytes": path.stat().st_size, "psnr": round(psnr(decode(path), source), 2)}
                path.unlink()
            results.append(row)
            print(name, {m: (v["bytes"], v["psnr"]) for m, v in row["methods"].items()}, flush=True)
    default = f"img2gif q{args.qualities[0]}"
    verdicts = []
    for row in results:
        ours, ref = row["methods"][default], row["methods"]["ffmpeg"]
        verdicts.append(ours["psnr"] >= ref["psnr"] and ours["bytes"] <= ref["bytes"])
    header = ["clip"] + [f"{m} KB / dB" for m in methods]
    table = [[r["clip"]] + [f"{r['methods'][m]['bytes'] / 1000:.0f} / {r['methods'][m]['psnr']:.2f}" for m in methods]
             for r in results]
    print(markdown_table(header, table))
    print(f"{default} at least ffmpeg's PSNR at no more than its bytes: {sum(verdicts)} of {len(verdicts)} clips")
    write_json("gif_quality", {"environment": environment(), "clips": results, "methods": methods,
                               "target_met": [bool(v) for v in verdicts]})


if __name__ == "__main__":
    main()
