"""Every subcommand that reads images, run on every file of the hostile corpus (tests/hostile.py).

The contract: a readable file gives a correct result (an animation with the frames asked
for, or a loadable pair checkpoint); anything else gives exactly one "error:" line naming
the file, exit code 2, no traceback, nothing left in the output folder; and no run takes
longer than a bound (a SIGALRM timer turns a hang into a failure).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import blob_image
from hostile import build_corpus
from helpers import assert_empty, bounded, error_line, run

FRAMES = 4


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return {case.name: case for case in build_corpus(folder / "in")}


@pytest.fixture(scope="module")
def partner(tmp_path_factory):
    path = tmp_path_factory.mktemp("partner") / "b.png"
    Image.fromarray(blob_image(24, 32, shift=(2.0, 1.0))).save(path)
    return path


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMG2GIF_CACHE_DIR", str(tmp_path / "cache"))




def test_corpus_is_large_and_mixed(corpus):
    assert len(corpus) >= 30
    readable = sum(case.readable for case in corpus.values())
    assert 10 <= readable <= len(corpus) - 10


def _frames_of(path) -> int:
    with Image.open(path) as im:
        return getattr(im, "n_frames", 1)


COMMANDS = {
    # name: (argument list for the CLI, output name or None)
    "animate-pair": (lambda a, b, out: ["animate", a, b, "-o", out / "x.gif", "--frames", FRAMES, "--working-size", 32, "-q"], "x.gif"),
    "fit-pair": (lambda a, b, out: ["fit-pair", a, b, "-o", out / "p.pt", "--working-size", 32, "-q"], "p.pt"),
    "animate-model": (lambda a, b, out: ["animate", a, "--model", "digits", "-o", out / "m.gif", "--frames", FRAMES, "-q"], "m.gif"),
    "reverse-model": (lambda a, b, out: ["reverse", a, "--model", "digits", "-o", out / "r.gif", "--frames", FRAMES], "r.gif"),
    "inspect": (lambda a, b, out: ["inspect", a], None),
}


def _case_names():
    # names only (the files are made per module by the fixture); built once in a temp dir
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [case.name for case in build_corpus(Path(tmp) / "in")]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", _case_names())
def test_subcommand_on_hostile_file(command, name, corpus, partner, tmp_path, quick_fit):  # noqa: F811
    case = corpus[name]
    out = tmp_path / "out"
    out.mkdir()
    make_args, output = COMMANDS[command]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with bounded():
            result = run(*make_args(case.path, partner, out))
    readable = case.readable or (command == "inspect" and case.too_small)  # inspect reads any decodable file
    if not readable:
        line = error_line(result)
        assert str(case.path) in line
        assert_empty(out)
        return
    assert result.exit_code == 0, result.output
    if output is None:  # inspect: a table about the file
        assert case.path.name in result.stdout.replace("\n", "") or "frames" in result.stdout
        return
    assert os.listdir(out) == [output]  # the result and nothing else (no temp files)
    if output.endswith(".gif"):
        # the GIF encoder merges identical frames: a 2-px image warps to the same pixels
        with Image.open(case.path) as im:
            tiny = min(im.size) < 8
        assert (1 <= _frames_of(out / output) <= FRAMES) if tiny else _frames_of(out / output) == FRAMES
    else:
        from img2gif.pair import Pair

        pair = Pair.load(out / output)
        assert pair.a.ndim == 3 and pair.a.shape == pair.b.shape


def test_train_skips_the_unreadable_and_strict_refuses(corpus, tmp_path):
    """A data folder holding the whole corpus: train uses the readable files, --strict stops at the first bad one."""
    data = tmp_path / "data"
    for sub in ("start", "end"):
        (data / sub).mkdir(parents=True)
        for case in corpus.values():
            if case.path.is_file() and not case.path.is_symlink() and os.path.getsize(case.path) < 1 << 20:
                (data / sub / case.name).write_bytes(case.path.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with bounded(120):
            result = run("train", "--data", data, "--unpaired", "--size", 8, "--steps", 1, "--batch-size", 4,
                         "--critic-iters", 1, "--sample-every", 0, "-o", out / "t.pt", "-q")
    assert result.exit_code == 0, result.output
    readable = sum(c.readable and c.path.is_file() and not c.path.is_symlink() for c in corpus.values())
    assert f"training on {readable} start" in result.stderr.replace("\n", " ")
    assert sorted(os.listdir(out)) == ["t.pt"]

    strict_out = tmp_path / "strict"
    strict_out.mkdir()
    with bounded(120):
        result = run("train", "--data", data, "--unpaired", "--size", 8, "--steps", 1, "--strict", "-o", strict_out / "t.pt", "-q")
    line = error_line(result)
    assert str(data / "start") in line
    assert_empty(strict_out)


def test_corpus_cases_are_what_they_claim(corpus):
    """Sanity of the corpus itself: the readable ones decode with Pillow or are links to such."""
    for case in corpus.values():
        if case.readable:
            with Image.open(case.path) as im:
                assert np.asarray(im.convert("RGB")).size > 0
