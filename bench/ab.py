"""What the A/B benches (``claim_ab.py``, ``deps_ab.py``) share: runs in fresh child processes, variants
alternating round after round, medians reported.

Each run is the bench script itself started with ``--child ARGS`` on the tree it
measures (``PYTHONPATH``), in a fresh home; this module imports no queuectl, so the
parent runs the same whichever tree it compares.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, Hashable, Sequence, TypeVar

Variant = TypeVar("Variant", bound=Hashable)
Figures = dict[str, float]  # one run's figures: "wall" and "cpu", per second


def run_child(script: str, tree: Path, args: Sequence[str]) -> Figures:
    """``script --child ARGS`` with ``tree`` as its queuectl; the JSON object it prints."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, script, "--child", *args], env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return json.loads(done.stdout)


def alternate(variants: Sequence[Variant], rounds: int, scratch: Path,
              run: Callable[[Variant, Path], Figures]) -> dict[Variant, list[Figures]]:
    """``run(variant, home)`` for each variant, round after round, the order reversed every other round so
    that drift on a shared machine hits every variant alike; each run in a fresh home under ``scratch``."""
    figures: dict[Variant, list[Figures]] = {variant: [] for variant in variants}
    for round_ in range(rounds):
        for variant in (variants if round_ % 2 == 0 else variants[::-1]):
            home = scratch / uuid.uuid4().hex[:8]
            home.mkdir(mode=0o700)
            figures[variant].append(run(variant, home))
    return figures


def print_medians(figures: dict[Variant, list[Figures]], name: Callable[[Variant], str], unit: str,
                  first: str) -> None:
    """Per measure, each variant's median, its ratio to the first variant's (called ``first``) and its range."""
    reference_runs = next(iter(figures.values()))
    for measure in ("wall", "cpu"):
        reference = statistics.median(run[measure] for run in reference_runs)
        for variant, runs in figures.items():
            values = [run[measure] for run in runs]
            median = statistics.median(values)
            print(f"  {measure:<4} {name(variant)} {median:>10,.0f} {unit}  {median / reference:5.3f} x {first}"
                  f"  (range {min(values):,.0f}-{max(values):,.0f})")


def fresh_database(base: str) -> str:
    """``base`` (a MongoDB URL) with a database of its own (as ``sections.mongo_urls``, without queuectl)."""
    head, _, query = base.partition("?")
    root = head.rstrip("/").rsplit("/", 1)[0] if head.count("/") > 2 else head.rstrip("/")
    url = f"{root}/qbench_{uuid.uuid4().hex[:8]}"
    return f"{url}?{query}" if query else url
