"""Paused queues as text and JSON (``status``, ``pause``, ``resume``)."""

from __future__ import annotations

from typing import Any

from queuectl.domain.pausing import Paused


def paused_dict(paused: Paused) -> dict[str, Any]:
    """``{"all": bool, "queues": [...], "resumed": [...]}``: ``queues`` are paused by name;
    with ``all``, every queue is paused except ``resumed``."""
    return paused.as_dict()


def paused_line(paused: Paused) -> str:
    """One line saying what is paused; '' when nothing is."""
    if paused.all:
        return "Paused: every queue" + (f" except {', '.join(sorted(paused.resumed))}" if paused.resumed else "")
    return f"Paused: {', '.join(sorted(paused.queues))}" if paused.queues else ""
