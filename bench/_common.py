"""Helpers shared by the bench/ scripts: paths, environment record, JSON and Markdown output."""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent   # the repository root
OUT = ROOT / "bench" / "out"                    # gitignored


# Runs its arguments and prints "exit-code peak-KiB" of its children (it is itself ~10 MB): the
# peak memory of one command, measured from outside it. python -c PEAK_RSS_WRAPPER COMMAND...
PEAK_RSS_WRAPPER = ("import resource, subprocess, sys\n"
                    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
                    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def environment() -> dict:
    """What produced the numbers: versions, threads, CPU, commit."""
    import torch

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu or platform.processor(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "img2gif")),
        "argv": sys.argv,
    }


class OtherLoad:
    """How many cores other processes kept busy while this benchmark ran (from /proc/stat).

    Machine-wide busy CPU time minus this process's and its waited-for children's CPU time,
    divided by wall time. Near 0: the numbers are clean; near the core count: they are not.
    """

    def __init__(self):
        self.start = (time.perf_counter(), self._busy_s(), self._own_s())

    @staticmethod
    def _busy_s() -> float | None:
        try:
            fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_s() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def cores(self) -> float | None:
        wall, busy, own = self.start
        now_busy = self._busy_s()
        if busy is None or now_busy is None:
            return None
        return max(0.0, ((now_busy - busy) - (self._own_s() - own)) / max(time.perf_counter() - wall, 1e-9))

    def note(self) -> str:
        cores = self.cores()
        if cores is None:
            return "Other load: unknown (no /proc/stat)."
        warn = " (times are inflated: rerun on a quiet machine)" if cores > 0.25 else ""
        return f"Other processes kept {cores:.2f} of {os.cpu_count()} cores busy during the run{warn}."


def fit_overrides(items) -> dict:
    """``--fit KEY=JSON`` arguments as {field: value}; exits on a key that is not a FitSettings field."""
    from img2gif.fit import FitSettings

    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in FitSettings.__dataclass_fields__:
            sys.exit(f"--fit {key}: not a FitSettings field")
        overrides[key] = json.loads(value)
    return overrides


def fit_settings(overrides: dict):
    """The default FitSettings with ``overrides`` (field -> value) applied."""
    from img2gif.fit import FitSettings

    unknown = sorted(set(overrides) - set(FitSettings.__dataclass_fields__))
    if unknown:
        sys.exit(f"--fit {unknown[0]}: not a FitSettings field")
    return FitSettings.from_dict({**FitSettings().to_dict(), **overrides})


def write_json(name: str, data: dict) -> Path:
    """bench/out/NAME.json (the suffix added when ``name`` lacks it)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / (name if name.endswith(".json") else f"{name}.json")
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def fmt(value, spec: str = ".2f", missing: str = "—") -> str:
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    return format(value, spec)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
