"""The attack probes (tests/probes/: real processes on real files and mounts, 10-15 minutes,
root for the mounts; ROBUSTNESS.md) are run by hand. Here: their harness loads and registers
every probe, so that the day they are run they do not die on an import or a typo."""
import subprocess
import sys
from pathlib import Path

import pytest

PROBES = Path(__file__).resolve().parent / "probes"


@pytest.mark.parametrize("script, count", [("probes.py", 299), ("probes_video.py", 49)])
def test_the_probe_harness_lists_every_probe(script, count):
    done = subprocess.run([sys.executable, str(PROBES / script), "--list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"{count} probes"
