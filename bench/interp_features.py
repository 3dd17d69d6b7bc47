"""Loop seams and footage on twos: old behaviour against new, on generated clips of known motion.

    python bench/interp_features.py            # ~2 min on 2 CPU cores

- loop seam: a disc going once round a circle in N frames (truly periodic), up-converted with
  --multiply M. The result loops; the seam is the step from its last frame back to its first.
  Seam ratio = that step's change / the mean change of the other steps, as a mean absolute
  pixel difference (the issue's metric) and as the disc's movement. Old: what the clip gave
  before (--loop forever, closed refused); new: --loop closed. 1 is a seamless loop.
- evenness on twos: a disc moving 2 px a frame, each drawing held 2 frames (and 3, and a mix),
  with sensor noise, --multiply 2. Evenness = largest step / mean step of the disc's movement
  per output frame, up to the last drawing (after it, the source holds still). Old:
  --keep-held (every frame its own moment); new: the default. Target <= 1.3.
- pause: the same twos clip with a 12-frame pause in the middle: the disc's largest movement
  inside the pause (must be ~0: a real pause stays still).
- held threshold: ``gaps.held_score`` of a frame and its repeat under noise (std in levels,
  straight and through MP4), against a frame whose disc moved by 0.5 and 1 px, and ffmpeg's
  clean testsrc (a few pixels change a frame), each beside its line (``gaps.held_line``, from
  the pair's own noise): repeats must fall under it, the rest above.

Results: bench/out/interp_features.json and a Markdown table on stdout.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import environment, markdown_table, write_json  # noqa: E402
from bench.peers import ffmpeg_exe, save_frames  # noqa: E402


def upconvert(folder: Path, multiply: int, closed=False, holds=True, working_size=64):
    """(output frames, report) of ``folder`` at 12 fps raised ``multiply`` times, as the CLI does it."""
    from img2gif.fit import FitSettings
    from img2gif.clip import open_source, target_rate
    from img2gif.gaps import plan_keyframes
    from img2gif.video import Report, upconvert_frames

    source = open_source(folder, 12)
    fps, count = target_rate(source, None, multiply, closed)
    report = Report()
    plan = plan_keyframes(source, closed, holds)
    frames = list(upconvert_frames(source, fps, count, FitSettings(working_size=working_size, seed=0), "cpu",
                                   report=report, plan=plan))
    return frames, report


def change(a, b) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def seam_ratios(frames) -> tuple[float, float]:
    """(pixel change, disc movement) across the seam (last -> first) over the mean of the other steps."""
    from img2gif.scenes import disc_centre

    steps = [change(a, b) for a, b in zip(frames, frames[1:])]
    centres = np.array([disc_centre(f) for f in frames])
    moves = np.hypot(*np.diff(centres, axis=0).T)
    seam_move = float(np.hypot(*(centres[0] - centres[-1])))
    return change(frames[-1], frames[0]) / float(np.mean(steps)), seam_move / float(np.mean(moves))


def evenness(frames, upto: int) -> float:
    """Largest step / mean step of the disc's movement over output frames 0 ... upto."""
    from img2gif.scenes import disc_centre

    centres = np.array([disc_centre(f) for f in frames[:upto + 1]])
    moves = np.hypot(*np.diff(centres, axis=0).T)
    return float(moves.max() / moves.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--working-size", type=int, default=64)
    args = parser.parse_args()

    import torch

    from img2gif import timing
    from img2gif.scenes import disc_centre, disc_frame, held_centres, orbit_centres
    from img2gif.clip import open_source
    from img2gif.gaps import held_line, held_score
    from img2gif.writers import write_animation

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    rows, record = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # loop seams
        for n, multiply in ((12, 2), (12, 4), (8, 3)):
            folder = save_frames(tmp / f"orbit{n}_{multiply}", [disc_frame(c) for c in orbit_centres(n)], digits=4)
            old, _ = upconvert(folder, multiply, closed=False, working_size=args.working_size)
            new, report = upconvert(folder, multiply, closed=True, working_size=args.working_size)
            (old_px, old_mv), (new_px, new_mv) = seam_ratios(old), seam_ratios(new)
            name = f"loop seam, orbit of {n} frames, x{multiply}"
            record[name] = {"old": [old_px, old_mv], "new": [new_px, new_mv], "frames": [len(old), len(new)],
                            "seam": report.seam}
            rows.append([name, f"{old_px:.2f} / {old_mv:.2f} ({len(old)} fr)", f"{new_px:.2f} / {new_mv:.2f} ({len(new)} fr)",
                         "pixel change / movement; 1 = seamless"])
        # footage on twos and threes
        rng = np.random.default_rng(1)
        cases = {"on twos": held_centres(8, hold=2), "on threes": held_centres(6, hold=3)}
        mixed, x = [], 12.0
        for d, hold in enumerate([2, 3, 2, 3, 2, 3, 2]):  # drawn at an even pace, held 2 or 3 frames
            mixed.extend([(x, 24.0)] * hold)
            x += 2.0 * hold
        cases["twos and threes mixed"] = mixed
        for name, centres in cases.items():
            frames = [disc_frame(c, noise=2.0, rng=rng) for c in centres]
            folder = save_frames(tmp / name.replace(" ", "_"), frames, digits=4)
            last_drawing = max(k for k in range(len(centres)) if k == 0 or centres[k] != centres[k - 1])
            old, _ = upconvert(folder, 2, holds=False, working_size=args.working_size)
            new, report = upconvert(folder, 2, holds=True, working_size=args.working_size)
            e_old, e_new = evenness(old, 2 * last_drawing), evenness(new, 2 * last_drawing)
            record[f"evenness, {name}"] = {"old": e_old, "new": e_new, "held": report.held}
            rows.append([f"evenness {name} (noise 2), x2", f"{e_old:.2f}", f"{e_new:.2f}",
                         f"largest / mean step; {report.held} frames held; target <= 1.3"])
        # a real pause in the middle of footage on twos
        centres = held_centres(8, hold=2, pause_at=3, pause=12)
        folder = save_frames(tmp / "pause", [disc_frame(c, noise=2.0, rng=rng) for c in centres], digits=4)
        start = centres.index(centres[6])  # drawing 3's first frame: the pause runs to its 14th
        for label, holds in (("old", False), ("new", True)):
            out, report = upconvert(folder, 2, holds=holds, working_size=args.working_size)
            inside = np.array([disc_centre(f) for f in out[2 * start:2 * (start + 13) + 1]])
            record[f"pause, {label}"] = float(np.abs(inside - inside[0]).max())
        rows.append(["largest movement inside a 14-frame pause (px)", f"{record['pause, old']:.3f}",
                     f"{record['pause, new']:.3f}", "a real pause stays still"])
        # the held threshold
        scores = {}
        base = (30.0, 24.0)

        def pairs_of(frames):  # (worst score over the line, its score, its line): held where <= 1
            return max(((held_score(a, b) / held_line(a, b), held_score(a, b), held_line(a, b))
                        for a, b in zip(frames, frames[1:])), key=lambda x: x[0] if x[0] <= 1 else -x[0])

        for sigma in (1.0, 2.0, 4.0, 6.0):
            repeats = [disc_frame(base, noise=sigma, rng=rng) for _ in range(6)]
            scores[f"repeat, noise {sigma:g}"] = pairs_of(repeats)
            clip = tmp / f"repeats{sigma:g}.mp4"
            write_animation(clip, repeats, timing.playback(6, 12), fps=12)
            scores[f"repeat, noise {sigma:g}, through MP4"] = pairs_of(list(open_source(clip).frames()))
        for shift in (0.5, 1.0):
            moved = [disc_frame((base[0] + shift * k, base[1]), noise=2.0, rng=rng) for k in range(6)]
            scores[f"moved {shift:g} px a frame, noise 2"] = pairs_of(moved)
        clip = tmp / "testsrc.mp4"
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc=size=64x48:rate=24000/1001:duration=0.5", "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", str(clip)], check=True)
        scores["ffmpeg testsrc 64x48, 23.976 fps (clean)"] = pairs_of(list(open_source(clip).frames()))
        record["held_score"] = {name: {"score": v[1], "line": v[2]} for name, v in scores.items()}
        for name, (_, score, line) in scores.items():
            rows.append([f"held score: {name}", "", f"{score:.2f} (line {line:.2f})",
                         "held" if score <= line else "moving"])
    print(markdown_table(["case", "old", "new", "note"], rows))
    write_json("interp_features.json", {"environment": environment(), "results": record})


if __name__ == "__main__":
    main()
