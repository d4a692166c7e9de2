"""The API-against-CLI enqueue bench must keep working: a tiny run, checked for its table, never timed."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api_enqueue.py"


def test_the_api_enqueue_bench_runs_and_prints_its_ratio():
    done = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("| sqlite |")]
    assert row.split("|")[4].strip().endswith("x")
