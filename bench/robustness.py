"""The figures of ROBUSTNESS.md: hostile inputs, attacked checkpoints, interruptions, concurrency.

    python bench/robustness.py            # ~5 minutes on 2 CPU cores; JSON to bench/out/

Every outcome is classified by what a user would see: ``ok`` (a correct output),
``error`` (one "error:" line, exit code 2, nothing written), or a failure: ``traceback``,
``hang`` (over the time bound), ``leftover`` (a file left in the output folder), ``lost``
(the previous output or last checkpoint damaged). Interruptions use real processes and
real signals at random moments. The tests (tests/test_hostile*.py, test_mutated_images.py,
test_interruptions.py) assert the same properties on fewer trials.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bench._common import OUT, ROOT, environment  # noqa: E402

PREVIOUS = b"previous output\n"


def _env(cache: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", IMG2GIF_CACHE_DIR=str(cache))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _default_signals():
    # children of a background job inherit SIGINT ignored; a user's terminal delivers it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def classify(result, out: Path, expect_file: str | None) -> str:
    """One CliRunner result -> ok / error / a failure name."""
    text = result.output
    if "Traceback" in text or (result.exception is not None and not isinstance(result.exception, SystemExit)):
        return "traceback"
    left = sorted(os.listdir(out))
    if result.exit_code == 0:
        if expect_file is not None and left != [expect_file]:
            return "leftover"
        return "ok"
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        if left:
            return "leftover"
        return "error" if len(errors) == 1 and errors[0].startswith("error:") else "not-one-line"
    return f"exit-{result.exit_code}"


def bounded_run(args, seconds=120):
    from typer.testing import CliRunner

    from img2gif.cli import app

    def on_alarm(signum, frame):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CliRunner().invoke(app, [str(a) for a in args])
    except TimeoutError:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def hostile_inputs(work: Path) -> dict:
    from PIL import Image

    from conftest import blob_image
    from hostile import build_corpus

    corpus = build_corpus(work / "corpus")
    partner = work / "partner.png"
    Image.fromarray(blob_image(24, 32, shift=(2.0, 1.0))).save(partner)
    commands = {
        "fit-pair": lambda p, o: (["fit-pair", p, partner, "-o", o / "p.pt", "--working-size", 32, "-q"], "p.pt"),
        "animate (pair)": lambda p, o: (["animate", p, partner, "-o", o / "x.gif", "--frames", 4, "--working-size", 32, "-q"], "x.gif"),
        "animate --model": lambda p, o: (["animate", p, "--model", "digits", "-o", o / "x.gif", "--frames", 4, "-q"], "x.gif"),
        "reverse --model": lambda p, o: (["reverse", p, "--model", "digits", "-o", o / "x.gif", "--frames", 4], "x.gif"),
        "inspect": lambda p, o: (["inspect", p], None),
    }
    table = {}
    for name, make in commands.items():
        counts = collections.Counter()
        for case in corpus:
            out = Path(tempfile.mkdtemp(dir=work))
            args, expect = make(case.path, out)
            result = bounded_run(args)
            outcome = "hang" if result is None else classify(result, out, expect)
            wanted = "ok" if (case.readable or (name == "inspect" and case.too_small)) else "error"
            counts[f"unexpected {outcome}" if outcome in ("ok", "error") and outcome != wanted else outcome] += 1
        table[name] = dict(counts)
    return {"files": len(corpus), "readable": sum(c.readable for c in corpus), "by_command": table}


def mutated_images(work: Path, trials: int) -> dict:
    """Seeded mutations of valid PNG/JPEG/GIF/WebP/BMP/TIFF bytes through read_image and animate --model."""
    import io

    from PIL import Image

    from conftest import blob_image
    from img2gif.errors import InputError
    from img2gif.imagefile import read_image

    rng = np.random.default_rng(0)
    formats = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP", "tif": "TIFF"}
    valid = {}
    for ext, fmt in formats.items():
        buf = io.BytesIO()
        Image.fromarray(blob_image(20, 28)).save(buf, fmt)
        valid[ext] = buf.getvalue()
    read = collections.Counter()
    cli = collections.Counter()
    for k in range(trials):
        ext = list(formats)[k % len(formats)]
        data = bytearray(valid[ext])
        for _ in range(int(rng.integers(1, 5))):
            at = int(rng.integers(0, min(64, len(data)))) if rng.random() < 0.5 else int(rng.integers(0, len(data)))
            kind = rng.integers(0, 4)
            if kind == 0:
                data[at] ^= 1 << int(rng.integers(0, 8))
            elif kind == 1:
                data[at:at] = rng.bytes(int(rng.integers(1, 32)))
            elif kind == 2:
                del data[at:at + int(rng.integers(1, 32))]
            else:
                data[at:at + 4] = b"\xff\xff\xff\xff"
            if len(data) < 2:
                break
        path = work / f"mutated{k}.{ext}"
        path.write_bytes(bytes(data))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read_image(path)
            read["ok"] += 1
        except InputError:
            read["error"] += 1
        except Exception as exc:  # noqa: BLE001  counted, that is the point
            read[f"crash {type(exc).__name__}"] += 1
        if k % 5 == 0:
            out = Path(tempfile.mkdtemp(dir=work))
            result = bounded_run(["animate", path, "--model", "digits", "-o", out / "x.gif", "--frames", 3, "--size", 64, "-q"])
            cli["hang" if result is None else classify(result, out, "x.gif")] += 1
    return {"read_image": dict(read), "animate --model": dict(cli), "trials": trials}


def checkpoints(work: Path) -> dict:
    import torch

    from img2gif import checkpoint, models
    from img2gif.errors import InputError

    class Payload:
        def __init__(self, marker):
            self.marker = marker

        def __reduce__(self):
            return (os.system, (f"touch {self.marker}",))

    marker = work / "payload-ran"
    evil = work / "evil.pt"
    torch.save({"format": "img2gif.model", "format_version": 1, "x": Payload(marker)}, evil)
    img = work / "img.png"
    from PIL import Image

    from conftest import blob_image

    Image.fromarray(blob_image(24, 32)).save(img)
    payload = collections.Counter()
    for args in (["inspect", evil], ["animate", "--from", evil], ["animate", img, "--model", evil], ["reverse", img, "--model", evil]):
        out = Path(tempfile.mkdtemp(dir=work))
        extra = ["-o", out / "x.gif", "--frames", 3] if args[0] != "inspect" else []
        result = bounded_run(args + extra)
        payload[classify(result, out, None)] += 1
    source = models.resolve("digits").read_bytes()
    rng = np.random.default_rng(1)
    def outcome(data: bytes) -> str:
        bad = work / "damaged.pt"
        bad.write_bytes(data)
        try:
            checkpoint.load(bad)
            return "loaded"
        except InputError:
            return "refused"
        except Exception as exc:  # noqa: BLE001  counted, that is the point
            return f"crash {type(exc).__name__}"

    flips = collections.Counter()
    for k in range(500):
        data = bytearray(source)
        data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        flips[outcome(bytes(data))] += 1
    cuts = collections.Counter(outcome(source[:cut]) for cut in np.linspace(1, len(source) - 1, 100).astype(int))
    return {"payload (4 loaders)": dict(payload), "payload ran": marker.exists(),
            "bit flips (500)": dict(flips), "truncations (100)": dict(cuts)}


def interruptions(work: Path, trials: int) -> dict:
    from PIL import Image

    from conftest import blob_image

    rng = random.Random(0)
    a, b = work / "a.png", work / "b.png"
    Image.fromarray(blob_image(256, 256)).save(a)
    Image.fromarray(blob_image(256, 256, shift=(9.0, 4.0))).save(b)
    cache = work / "cache"
    render = collections.Counter()
    for k in range(trials):
        out = Path(tempfile.mkdtemp(dir=work))
        target = out / ("x.gif" if k % 2 else "x.mp4")
        target.write_bytes(PREVIOUS)
        sig = signal.SIGINT if k % 2 else signal.SIGTERM
        proc = subprocess.Popen([sys.executable, "-m", "img2gif", "animate", str(a), str(b), "-o", str(target),
                                 "--frames", "300", "-q"], env=_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=_default_signals)
        time.sleep(rng.uniform(1.5, 9.0))  # start-up, fit, render or encoding
        if proc.poll() is not None:
            proc.communicate()
            render["finished before the signal"] += 1
            continue
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        intact = target.read_bytes() == PREVIOUS and sorted(os.listdir(out)) == [target.name]
        if "wrote " in err and sorted(os.listdir(out)) == [target.name] and target.read_bytes() != PREVIOUS:
            # the signal came after the new file was complete and renamed into place
            render["finished before the signal"] += 1
        elif not intact:
            render["lost"] += 1
        elif "Traceback" in err:
            render["traceback"] += 1
        else:
            render[f"intact, exit {proc.returncode}"] += 1
    data = work / "data"
    for sub, shift in (("start", 0.0), ("end", 3.0)):
        (data / sub).mkdir(parents=True)
        for j in range(8):
            Image.fromarray(blob_image(16, 16, shift=(shift, 0.0), seed=j)).save(data / sub / f"{j}.png")
    ckpt = work / "train" / "m.pt"
    ckpt.parent.mkdir()
    kills = collections.Counter()
    steps = []
    import torch

    for k in range(trials):
        args = [sys.executable, "-m", "img2gif", "train", "--data", str(data), "--unpaired", "--size", "16",
                "--batch-size", "4", "--critic-iters", "1", "--steps", "100000", "--checkpoint-every", "1",
                "--sample-every", "0", "-q", "-o", str(ckpt)] + (["--resume"] if ckpt.exists() else [])
        proc = subprocess.Popen(args, env=_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=_default_signals)
        time.sleep(rng.uniform(3.0, 8.0))
        proc.kill()
        proc.communicate()
        try:
            steps.append(int(torch.load(ckpt, weights_only=True)["step"]))
            clean = sorted(os.listdir(ckpt.parent)) == ["m.pt"]
            kills["checkpoint loads" + ("" if clean else ", temp file left")] += 1
        except FileNotFoundError:
            kills["killed before the first checkpoint"] += 1
        except Exception:  # noqa: BLE001
            kills["lost"] += 1
    return {"animate (SIGINT/SIGTERM at random moments)": dict(render),
            "train (SIGKILL at random moments, then --resume)": dict(kills), "steps after each kill": steps}


def concurrency(work: Path, trials: int) -> dict:
    from img2gif import models

    outcome = collections.Counter()
    for k in range(trials):
        cache = work / f"cache{k}"
        code = "from img2gif import models; print(models.resolve('digits'))"
        procs = [subprocess.Popen([sys.executable, "-c", code], env=_env(cache), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        codes = [p.communicate(timeout=300) and p.returncode for p in procs]
        folder = cache / "models"
        files = sorted(os.listdir(folder))
        good = files == [models.registry()["digits"]["file"]] and \
            models.sha256_of(folder / files[0]) == models.registry()["digits"]["sha256"]
        outcome["4 of 4 succeeded, one valid file" if codes == [0] * 4 and good else "failed"] += 1
    return {"first use of a model by 4 processes at once": dict(outcome)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10, help="interruptions of each kind, concurrency trials")
    parser.add_argument("--mutations", type=int, default=300)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["IMG2GIF_CACHE_DIR"] = str(work / "cache")
        started = time.perf_counter()
        result = {
            "hostile_inputs": hostile_inputs(work / "hostile"),
            "mutated_images": mutated_images(Path(tempfile.mkdtemp(dir=work)), args.mutations),
            "checkpoints": checkpoints(Path(tempfile.mkdtemp(dir=work))),
            "interruptions": interruptions(Path(tempfile.mkdtemp(dir=work)), args.trials),
            "concurrency": concurrency(Path(tempfile.mkdtemp(dir=work)), max(1, args.trials // 2)),
        }
        result["seconds"] = round(time.perf_counter() - started, 1)
    result["environment"] = environment()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "robustness.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "environment"}, indent=2))


if __name__ == "__main__":
    main()
