"""Instant start: help, version, usage errors and `inspect out.gif` never import torch."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: sys.__stdout__.write('\\nTORCH=' + str('torch' in sys.modules) + '\\n'))\n"
         "sys.argv = ['img2gif'] + sys.argv[1:]\n"
         "from img2gif.__main__ import main\n"
         "main()\n")


def run(*args):
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    return done, done.stdout.strip().splitlines()[-1]


@pytest.fixture
def gif(tmp_path):
    path = tmp_path / "a.gif"
    frames = [Image.fromarray(np.full((8, 8, 3), 40 * k, np.uint8)) for k in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    return path


@pytest.mark.parametrize("args,code", [
    (["--version"], 0), (["--help"], 0), (["animate", "--help"], 0), (["train", "--help"], 0),
    (["animate", "a.png", "--fps", "fast"], 2), (["no-such-command"], 2),
])
def test_no_torch_for_help_version_and_usage_errors(args, code):
    done, last = run(*args)
    assert done.returncode == code, done.stderr
    assert last == "TORCH=False"


def test_inspect_an_animation_without_torch(gif):
    done, last = run("inspect", gif)
    assert done.returncode == 0 and "frames" in done.stdout
    assert last == "TORCH=False"


def test_the_work_does_import_torch(tmp_path):
    done, last = run("inspect")  # the installation: torch's version and CUDA
    assert done.returncode == 0 and last == "TORCH=True"
