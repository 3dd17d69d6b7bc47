"""Start-up time: `img2gif --version`, `--help`, a usage error and `inspect out.gif` against
`python -c pass`, all measured in the same run (medians of 7; the ratio is the result); and,
for scale, a whole `img2gif animate A B -o out.gif` of a 256x144 pair in a fresh process (the
first fit in a process pays whatever its imports cost).

    python bench/startup.py          # ~1 minute; JSON to bench/out/startup.json
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import OtherLoad, environment, markdown_table, write_json  # noqa: E402

RUNS = 7


def seconds(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    load = OtherLoad()
    with tempfile.TemporaryDirectory() as tmp:
        gif = Path(tmp) / "a.gif"
        frames = [Image.fromarray(np.full((64, 64, 3), 40 * k, np.uint8)) for k in range(4)]
        frames[0].save(gif, save_all=True, append_images=frames[1:], duration=50, loop=0)
        rng = np.random.default_rng(0)
        smooth = np.kron(rng.integers(0, 255, (18, 32, 3)), np.ones((8, 8, 1))).astype(np.uint8)
        a_png, b_png = Path(tmp) / "a.png", Path(tmp) / "b.png"
        Image.fromarray(smooth).save(a_png)
        Image.fromarray(np.roll(smooth, (3, 5), (0, 1))).save(b_png)
        py = [sys.executable]
        cases = {
            "python -c pass": py + ["-c", "pass"],
            "img2gif --version": py + ["-m", "img2gif", "--version"],
            "img2gif --help": py + ["-m", "img2gif", "--help"],
            "img2gif animate a.png --fps fast (usage error)": py + ["-m", "img2gif", "animate", "a.png", "--fps", "fast"],
            "img2gif inspect out.gif": py + ["-m", "img2gif", "inspect", str(gif)],
            "python -c 'import torch' (for scale)": py + ["-c", "import torch"],
            "img2gif animate a.png b.png -o out.gif (256x144, whole job)": py + [
                "-m", "img2gif", "animate", str(a_png), str(b_png), "-o", str(Path(tmp) / "out.gif"), "-q"],
        }
        results = {name: seconds(cmd) for name, cmd in cases.items()}
    base = results["python -c pass"]
    rows = [[name, f"{s:.2f}", f"{s - base:+.2f}"] for name, s in results.items()]
    print(markdown_table(["command", "median wall s", "over python -c pass"], rows))
    print(load.note())
    write_json("startup.json", {"environment": environment(), "seconds": results, "load": load.note()})


if __name__ == "__main__":
    main()
