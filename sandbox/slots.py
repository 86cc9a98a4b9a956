"""Sandbox slots: which slot ids this process holds (each slot is one unprivileged uid and, as
root, one set of cgroups), claimed with a lock file each so no two PVE processes share one.

Apart from ``bwrap.py`` because a slot id outlives any one run and is shared with every other
PVE process on the machine: claiming and freeing them is a question of the machine, not of a run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from pve.errors import SandboxUnavailable
from pve.settings import SandboxSettings
from sandbox.cgroup import SlotCgroups, cgroup_name

MAX_SLOT_IDS = 256


def slot_cgroups(settings: SandboxSettings, slots: list[int]) -> SlotCgroups:
    if os.geteuid() != 0:
        return SlotCgroups.unavailable("PVE is not running as root")
    return SlotCgroups(cgroup_name(settings.uid_base), slots, settings.cgroup_memory_bytes, settings.max_procs)


def claim_slots(root: Path, count: int) -> tuple[list[int], list[int]]:
    """Take ``count`` slot ids no other PVE process holds (flock on lock files; freed at exit)."""
    folder = root / "slots"
    folder.mkdir(mode=0o700, exist_ok=True)
    taken: list[int] = []
    fds: list[int] = []
    for n in range(MAX_SLOT_IDS):
        if len(taken) == count:
            break
        fd = os.open(folder / f"{n}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        taken.append(n)
        fds.append(fd)
    if len(taken) < count:
        for fd in fds:
            os.close(fd)
        raise SandboxUnavailable(f"all {MAX_SLOT_IDS} sandbox slots are taken by other PVE processes")
    return taken, fds


def release_slots(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing the lock file drops its flock
