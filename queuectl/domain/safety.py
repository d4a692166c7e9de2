"""Who may have written a file queuectl trusts (SPEC 9.5), decided from its owner and mode.

A ``.env`` file, a queue home and a store file decide which commands run and as
whom, so they are trusted only when nobody else could have written them: owned
by the current user and not writable by group or others (as ssh's StrictModes
and git's safe.directory decide).
"""

from __future__ import annotations

import stat

GROUP_OR_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def untrusted_because(owner: int, mode: int, me: int) -> str | None:
    """Why a file with this owner and mode cannot be trusted by user ``me``; None when it can."""
    if owner != me:
        return f"owned by uid {owner}, not by you (uid {me})"
    if mode & GROUP_OR_OTHERS_WRITE:
        return f"writable by group or others (mode {stat.S_IMODE(mode):04o})"
    return None
