"""bench/device_check.sh, the one command a lent GPU machine runs, dry-run on CPU at tiny sizes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_device_check_dry_run_on_cpu_writes_every_step(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    done = subprocess.run(["bash", str(ROOT / "bench" / "device_check.sh"), "--device", "cpu", "--quick"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "device_check.json").read_text())
    assert report["device"] == "cpu" and report["quick"] is True
    for step in ("pair", "clip", "gap_batches", "prior"):
        assert report[step]["ok"], report[step]
    assert set(report["gap_batches"]["seconds_by_gap_batch"]) == {"1", "4"}
    assert report["pair"]["frames"] == 4 and report["clip"]["frames"] > report["clip"]["source_frames"]
    assert report["prior"]["checkpoint_step"] > 0
    assert (tmp_path / "cuda_tests.log").is_file()


def test_device_check_refuses_an_unknown_argument(tmp_path):
    done = subprocess.run(["bash", str(ROOT / "bench" / "device_check.sh"), "--fast"], cwd=ROOT,
                          env={**os.environ, "OUT": str(tmp_path)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown argument --fast" in done.stderr
