"""The CLI end to end through Typer's CliRunner (tiny images, short fits)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from img2gif.cli import app

FAST = ["--working-size", "32", "-q"]
runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in (result.output or "")
    return result


def gif_info(path):
    with Image.open(path) as im:
        delays = []
        for k in range(im.n_frames):
            im.seek(k)
            delays.append(im.info["duration"])
        return im.n_frames, im.size, delays


def test_help_lists_subcommands_and_gif_limit():
    result = run("--help")
    assert result.exit_code == 0
    for name in ("animate", "fit-pair", "inspect"):
        assert name in result.output
    assert "50" in run("animate", "--help").output


@pytest.mark.parametrize("command", [[], ["animate"], ["fit-pair"], ["reverse"], ["train"], ["inspect"]])
def test_help_shows_no_metavar_beside_a_flag(command):
    """A flag takes no value: no <bool> beside --help, --match/--no-match or --quiet."""
    from typer.testing import CliRunner

    from img2gif.cli import app

    output = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"}).output
    assert "--help" in output and "<bool>" not in output
    assert "-q" in output or not command or command == ["inspect"]


def test_animate_gif_with_exact_frames(tmp_path, image_files):
    a, b = image_files
    out = tmp_path / "out.gif"
    result = run("animate", a, b, "-o", out, "--frames", 9, *FAST)
    assert result.exit_code == 0, result.output
    n, size, _ = gif_info(out)
    assert n == 9 and size == (64, 48)
    with Image.open(out) as im:
        first = np.asarray(im.convert("RGB")).astype(int)
    assert np.abs(first - np.asarray(Image.open(a)).astype(int)).mean() < 8  # first frame is A (quantised)


def test_animate_gif_60fps_is_resampled_to_50(tmp_path, image_files):
    a, b = image_files
    out = tmp_path / "fast.gif"
    result = run("animate", a, b, "-o", out, "--fps", 60, "--duration", 1, *FAST)
    assert result.exit_code == 0, result.output
    assert "50 fps" in result.output
    n, _, delays = gif_info(out)
    assert n == 50 and set(delays) == {20} and sum(delays) == 1000


@pytest.mark.parametrize("suffix", [".mp4", ".webp", ".png"])
def test_animate_other_formats(tmp_path, image_files, suffix):
    a, b = image_files
    out = tmp_path / f"out{suffix}"
    result = run("animate", a, b, "-o", out, "--frames", 6, "--fps", 60, *FAST)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    if suffix != ".mp4":
        with Image.open(out) as im:
            assert im.n_frames == 6  # 60 fps kept outside GIF


def test_animate_frames_directory_and_options(tmp_path, image_files):
    a, b = image_files
    out = tmp_path / "frames"
    result = run("animate", a, b, "-o", f"{out}/", "--frames", 5, "--warp-only", "--ease", "smooth", "--size", 32, *FAST)
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("frame_*.png"))  # beside them: the .img2gif-frames marker
    assert len(files) == 5
    assert Image.open(files[0]).size == (32, 24)


def test_fit_pair_then_animate_from_and_inspect(tmp_path, image_files):
    a, b = image_files
    pair = tmp_path / "pair.pt"
    result = run("fit-pair", a, b, "-o", pair, *FAST)
    assert result.exit_code == 0, result.output
    out = tmp_path / "slow.gif"
    result = run("animate", "--from", pair, "--frames", 12, "--loop", "pingpong", "--hold-end", 0.5, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    n, _, delays = gif_info(out)
    assert n == 22 and max(delays) == 530  # 12 + 10 back; the hold lengthens the turnaround
    plot = tmp_path / "warp.png"
    shown = run("inspect", pair, "--plot", plot)
    assert shown.exit_code == 0 and "svf" in shown.output and "folded pixels" in shown.output
    assert "inverse consistency" in shown.output
    from img2gif import plot as plot_module

    zoom = -(-plot_module.MIN_PANEL // 64)  # panels drawn at least MIN_PANEL wide
    assert Image.open(plot).size[0] == 3 * 64 * zoom + 4 * plot_module.GAP
    shown = run("inspect", out)
    assert shown.exit_code == 0 and "22" in shown.output and "real fps" in shown.output


def test_inspect_installation():
    result = run("inspect")
    assert result.exit_code == 0
    for word in ("scaling-squaring", "svf", "unet", "charbonnier", "cache dir", "torch"):
        assert word in result.output


def test_option_errors_exit_2(tmp_path, image_files):
    a, b = image_files
    out = tmp_path / "x.gif"
    for args in (["--frames", 1], ["--fps", 0], ["--frames", 5, "--fps", 5, "--duration", 1], ["--blend", "--warp-only"],
                 ["--velocity", "nope"], ["--device", "tpu"], ["--hold-start", -1]):
        result = run("animate", a, b, "-o", out, *args, *FAST)
        assert result.exit_code == 2, (args, result.output)
        assert not out.exists()
    result = run("animate", a, b, "-o", out, "--solver", "nope", *FAST)
    assert result.exit_code == 2 and "known:" in result.output and "euler" in result.output


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and "img2gif" in result.output


@pytest.mark.parametrize("args,words", [
    (["animate", "a.png", "--loop", "sideways"], "Invalid value for '--loop'"),
    (["animate", "a.png", "--working-size", "5"], "Invalid value for '--working-size'"),
    (["animate", "a.png", "--bogus"], "No such option: --bogus"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_are_one_line_from_the_console_script(args, words, tmp_path):
    """Through main() (the installed command), not CliRunner: click's usage errors too are one line."""
    proc = subprocess.run([sys.executable, "-m", "img2gif", *args], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_fit_pair_records_whether_it_matched(tmp_path, image_files):
    from img2gif.pair import Pair

    a, b = image_files
    for flags, expected in (((), True), (("--no-match",), False)):
        pair = tmp_path / f"pair{len(flags)}.pt"
        result = run("fit-pair", a, b, "-o", pair, *flags, *FAST)
        assert result.exit_code == 0, result.output
        assert Pair.load(pair).settings.match is expected
    assert "--no-match" in run("animate", "--help").output
