"""Speed at real sizes (issue 27, deliverable 6): seconds per output frame for a 10 s 720p clip
from 30 to 60 fps and for a 1080p pair to 60 frames, beside ffmpeg's minterpolate of the same
input in the same run.

    python bench/real_sizes.py                 # ~11 min on 2 CPU cores
    python bench/real_sizes.py --seconds 2     # a shorter clip

The clip is ``bench/video_scale.py``'s pan with a moving texture, drawn at 1280x720 and 30 fps
(H.264, CRF 12). img2gif runs ``img2gif.upconvert`` to 60 fps as shipped (``--gap-batch 1``),
with ``--refine off`` (the motion upsampled from the working size, as before issue 27's
refinement) and with ``--gap-batch 8``, each writing an MP4; minterpolate (mci, aobmc, bidir, vsbmc)
writes the same rate to an MP4 at CRF 10. The pair is a generated 1920x1080 scene
(``img2gif.scenes``, seed 0): ``img2gif.animate`` to a 60-frame MP4 (refined and not), and minterpolate of a
clip of A then B at 1 fps (lossless H.264) to 59 fps, its first 60 frames (A to B). 2 threads; one after another.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import OtherLoad, environment, markdown_table, write_json  # noqa: E402
from bench.peers import ffmpeg_exe  # noqa: E402
from bench.video_scale import make_clip  # noqa: E402

MINTERPOLATE = "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"


def minterpolate(source: Path, output: Path, fps: float, frames: int | None = None) -> tuple[float, int]:
    """(seconds, frames written) of ffmpeg's motion-compensated interpolation of ``source``
    (the first ``frames`` output frames, where given)."""
    import imageio_ffmpeg

    limit = [] if frames is None else ["-frames:v", str(frames)]
    started = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
                    "-vf", MINTERPOLATE.format(fps=fps), *limit, "-c:v", "libx264", "-crf", "10", str(output)], check=True)
    took = time.perf_counter() - started
    return took, imageio_ffmpeg.count_frames_and_secs(str(output))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the 720p clip (default 10)")
    args = parser.parse_args()

    import torch
    from PIL import Image

    import img2gif
    from img2gif.fit import FitSettings
    from img2gif.scenes import SceneGenerator, SceneSettings

    torch.set_num_threads(2)
    other = OtherLoad()
    rows, results = [], {"environment": environment()}
    with tempfile.TemporaryDirectory(prefix="img2gif-real-sizes-") as tmp:
        work = Path(tmp)
        clip = work / "clip720.mp4"
        make_clip(clip, args.seconds, 30.0, 1280, 720)
        for batch, refine in ((1, "auto"), (1, "off"), (8, "auto")):
            started = time.perf_counter()
            result = img2gif.upconvert(clip, work / f"img2gif_{batch}_{refine}.mp4", fps=60, device="cpu",
                                       gap_batch=batch, settings=FitSettings(refine=refine))
            took = time.perf_counter() - started
            results[f"clip_img2gif_batch{batch}" + ("" if refine == "auto" else f"_refine_{refine}")] = {
                "seconds": took, "frames": result.frames_written}
            rows.append([f"{args.seconds:g} s 1280x720 clip, 30 -> 60 fps", f"img2gif --gap-batch {batch} --refine {refine}",
                         str(result.frames_written), f"{took:.1f} s", f"{took / result.frames_written:.3f}"])
            print(rows[-1], flush=True)
        took, frames = minterpolate(clip, work / "mi720.mp4", 60)
        results["clip_minterpolate"] = {"seconds": took, "frames": frames}
        rows.append(["", "ffmpeg minterpolate", str(frames), f"{took:.1f} s", f"{took / frames:.3f}"])
        print(rows[-1], flush=True)

        scene = SceneGenerator(SceneSettings(size=(1080, 1920))).scene(0)
        paths = []
        for name, x in (("a.png", scene.a), ("b.png", scene.b)):
            Image.fromarray((x.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()).save(work / name)
            paths.append(work / name)
        for refine in ("auto", "off"):
            started = time.perf_counter()
            result = img2gif.animate(str(paths[0]), str(paths[1]), str(work / f"pair_{refine}.mp4"), frames=60, fps=30,
                                     device="cpu", settings=FitSettings(refine=refine))
            took = time.perf_counter() - started
            results["pair_img2gif" + ("" if refine == "auto" else f"_refine_{refine}")] = {
                "seconds": took, "frames": result.frames_written}
            rows.append(["1920x1080 pair to 60 frames", f"img2gif --refine {refine}", str(result.frames_written),
                         f"{took:.1f} s", f"{took / result.frames_written:.3f}"])
            print(rows[-1], flush=True)
        pair_clip = work / "pair_src.mp4"
        for k, p in enumerate(paths + paths[1:]):  # A, B, B at 1 fps: minterpolate needs a frame after B
            Image.open(p).save(work / f"src_{k}.png")
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-framerate", "1", "-i",
                        str(work / "src_%d.png"), "-c:v", "libx264", "-crf", "0", "-pix_fmt", "yuv444p", str(pair_clip)],
                       check=True)
        took, frames = minterpolate(pair_clip, work / "mi_pair.mp4", 59, frames=60)
        results["pair_minterpolate"] = {"seconds": took, "frames": frames}
        rows.append(["", "ffmpeg minterpolate (A, B at 1 fps to 59 fps: 60 frames)", str(frames), f"{took:.1f} s",
                     f"{took / max(frames, 1):.3f}"])
        print(rows[-1], flush=True)
    print(markdown_table(["input", "method", "frames", "wall", "s per output frame"], rows))
    print(other.note())
    write_json("real_sizes", results)


if __name__ == "__main__":
    main()
