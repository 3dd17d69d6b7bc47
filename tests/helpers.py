"""Helpers shared by the test modules (no test module imports another): running the CLI in
process and reading what it said, a child process's environment, a real small disk, the
previous file at an output path, a time bound."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from img2gif.cli import app

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    # CliRunner swallows unexpected exceptions into result.exception (exit code 1)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def lines(text: str) -> list[str]:
    return [line for line in ANSI.sub("", text).splitlines() if line.strip()]


def error_line(result) -> str:
    """The one 'error:' line of a refused run (exit code 2, nothing on stdout)."""
    assert result.exit_code == 2, result.output
    err = lines(result.stderr)
    assert len(err) == 1, result.stderr
    assert err[0].startswith("error: "), err[0]
    assert lines(result.stdout) == [], result.stdout
    return err[0]


def main_usage_error(cwd: Path, *args) -> str:
    """The one line a usage error prints through the installed command's main() (``python -m
    img2gif``, as a user runs it: Typer's own parser, not the CliRunner), exit code 2."""
    proc = subprocess.run([sys.executable, "-m", "img2gif", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(err) == 1, proc.stderr
    assert err[0].startswith("error: "), err[0]
    return err[0]


def about(line: str, path) -> str:
    """The message with the file name taken out (checks its words, not the tmp path's)."""
    assert str(path) in line, line
    return line.replace(str(path), "<file>")


def warning_lines(result) -> list[str]:
    return [line for line in lines(result.stderr) if line.startswith("warning: ")]


def assert_empty(folder):
    assert sorted(os.listdir(folder)) == [], f"left behind in {folder}: {sorted(os.listdir(folder))}"


SECONDS_PER_RUN = 60


@contextmanager
def bounded(seconds=SECONDS_PER_RUN):
    """Fail instead of hanging: SIGALRM interrupts whatever runs after ``seconds``."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def child_env(tmp_path: Path, **extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", IMG2GIF_CACHE_DIR=str(tmp_path / "cache"), PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    return env


def default_signals():
    # A shell starts background jobs with SIGINT ignored, and children inherit that: a test
    # run from such a job would see Ctrl-C ignored. The user's terminal delivers it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


PREVIOUS = b"the previous file at this path; it must survive\n"


@contextlib.contextmanager
def small_disk(folder: Path, free_bytes: int):
    """A real tmpfs at ``folder`` with about ``free_bytes`` left (root only)."""
    folder.mkdir(parents=True, exist_ok=True)
    size_kb = 1024
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()[:100]}")
    try:
        # fill to within free_bytes (tmpfs counts whole pages)
        with open(folder / "filler", "wb") as f:
            f.write(b"\0" * max(0, size_kb * 1024 - free_bytes - 8192))
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def previous_at(path: Path) -> Path:
    path.write_bytes(PREVIOUS)
    return path


def assert_previous_intact(path: Path) -> None:
    assert path.read_bytes() == PREVIOUS
    left = sorted(p.name for p in path.parent.iterdir() if p.name.startswith("."))
    assert left == [], f"temp files left: {left}"
