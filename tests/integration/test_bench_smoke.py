"""The benchmark must keep working: a tiny run, checked for its table, never timed."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run.py"
SECTIONS = ("floor", "cli", "sqlite", "pickup", "worker")
# Smaller than --quick (about half its time): every section still runs once. What is left
# is mostly the CLI's cold starts, which the bench needs (workers start and stop through it).
TINY = ("--jobs", "20", "--samples", "2", "--cli-runs", "1", "--scale", "100,200", "--idle-seconds", "0.2")


@pytest.mark.long
def test_the_benchmark_runs_and_prints_every_section():
    done = subprocess.run([sys.executable, str(BENCH), *TINY], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].split("|")[1].strip() == "section"
    assert {row.split("|")[1].strip() for row in table[1:]} >= set(SECTIONS)
    assert "end to end" in done.stdout and "claims" in done.stdout and "RSS" in done.stdout
