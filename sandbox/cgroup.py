"""Per-slot memory and process-count cgroups, where this machine lets PVE create them.

rlimits are per process: 64 processes x 1 GiB address space is not a memory limit. A memory
cgroup caps the sum (tmpfs pages included) and a pids cgroup caps the process count of the
whole sandbox, whatever uid it runs as. The sandbox child is moved in before it executes
anything (bwrap's ``--block-fd``), so everything it forks is inside.

Supports cgroup v2 (a ``memory`` and ``pids`` controller we may enable) and the v1 hierarchies
(``/sys/fs/cgroup/memory`` and ``/pids``). Where neither is writable (not root, or a container
without delegation), ``SlotCgroups.available`` is False and the reason says why; the per-process
limits still apply.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")


class SlotCgroups:
    def __init__(self, name: str, slots: list[int], memory_bytes: int, max_procs: int, root: Path = _ROOT) -> None:
        self.slots = slots
        self.memory_bytes = memory_bytes
        self.max_procs = max_procs
        self.version = 0
        self.reason = ""
        self._dirs: dict[int, list[Path]] = {}  # per slot: the cgroup dirs to join
        self._memory: dict[int, Path] = {}  # per slot: the dir holding memory stats
        self._cpu: dict[int, Path] = {}  # per slot: the dir holding its CPU weight, where there is a cpu controller
        try:
            if (root / "cgroup.controllers").exists() and {"memory", "pids"} <= set((root / "cgroup.controllers").read_text().split()):
                self._setup_v2(root / name)
            elif (root / "memory" / "memory.limit_in_bytes").exists() and (root / "pids").is_dir():
                self._setup_v1(root, name)
            else:
                self.reason = "no memory and pids cgroup controllers on this machine"
        except OSError as exc:
            self.reason = f"cgroups not writable here ({exc.strerror or exc})"
            self._dirs, self._memory, self.version = {}, {}, 0

    @classmethod
    def unavailable(cls, reason: str) -> SlotCgroups:
        cg = cls.__new__(cls)
        cg.slots, cg.memory_bytes, cg.max_procs = [], 0, 0
        cg._dirs, cg._memory, cg._cpu, cg.version, cg.reason = {}, {}, {}, 0, reason
        return cg

    @property
    def available(self) -> bool:
        return bool(self._dirs)

    def _setup_v1(self, root: Path, name: str) -> None:
        for slot in self.slots:
            mem = root / "memory" / name / f"slot-{slot}"
            pids = root / "pids" / name / f"slot-{slot}"
            mem.mkdir(parents=True, exist_ok=True)
            pids.mkdir(parents=True, exist_ok=True)
            (mem / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
            with contextlib.suppress(OSError):  # only with swap accounting
                (mem / "memory.memsw.limit_in_bytes").write_text(str(self.memory_bytes))
            (pids / "pids.max").write_text(str(self.max_procs))
            self._dirs[slot] = [mem, pids]
            self._memory[slot] = mem
        self.version = 1
        if (root / "cpu" / "cpu.shares").exists():
            with contextlib.suppress(OSError):  # without it, slots just share the CPU equally
                for slot in self.slots:
                    cpu = root / "cpu" / name / f"slot-{slot}"
                    cpu.mkdir(parents=True, exist_ok=True)
                    (cpu / "cpu.shares").write_text(str(_V1_SHARES["normal"]))
                    self._cpu[slot] = cpu
                for slot, cpu in self._cpu.items():
                    self._dirs[slot].append(cpu)

    def _setup_v2(self, base: Path) -> None:
        base.mkdir(exist_ok=True)
        (base / "cgroup.subtree_control").write_text("+memory +pids")
        cpu = False
        if "cpu" in (base.parent / "cgroup.controllers").read_text().split():
            with contextlib.suppress(OSError):
                (base / "cgroup.subtree_control").write_text("+cpu")
                cpu = True
        for slot in self.slots:
            d = base / f"slot-{slot}"
            d.mkdir(exist_ok=True)
            (d / "memory.max").write_text(str(self.memory_bytes))
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(self.max_procs))
            self._dirs[slot] = [d]
            self._memory[slot] = d
            if cpu and (d / "cpu.weight").exists():
                self._cpu[slot] = d
        self.version = 2

    def attach(self, slot: int, pid: int) -> None:
        """Move ``pid`` (the blocked sandbox child) into the slot's cgroups."""
        for d in self._dirs[slot]:
            (d / "cgroup.procs").write_text(str(pid))

    @property
    def weighted(self) -> bool:
        """Whether slots can be given a CPU weight (a cpu controller we may write)."""
        return bool(self._cpu)

    def weigh(self, slot: int, weight: str) -> None:
        """The slot's processes at a CPU weight: ``background`` (the least there is), ``normal``
        or ``urgent`` (what others wait for). A weight, not a nice value: with the kernel's
        session autogroups (every sandbox is a session of its own) a nice value only counts
        against the same session's processes."""
        d = self._cpu.get(slot)
        if d is None:
            return
        with contextlib.suppress(OSError):
            if self.version == 2:
                (d / "cpu.weight").write_text(str(_V2_WEIGHT[weight]))
            else:
                (d / "cpu.shares").write_text(str(_V1_SHARES[weight]))

    def oom_kills(self, slot: int) -> int:
        """How many processes the kernel has killed for memory in this slot so far."""
        d = self._memory[slot]
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (d / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def describe(self) -> str:
        if not self.available:
            return f"none ({self.reason}); per-process limits only"
        return (f"cgroup v{self.version} per slot: memory {self.memory_bytes >> 20} MiB for all processes together "
                f"(tmpfs included), {self.max_procs} processes" + (", a CPU weight" if self._cpu else ""))


# cpu.shares (v1) and cpu.weight (v2): the least a group can have, the default, ten times it
_V1_SHARES = {"background": 2, "normal": 1024, "urgent": 10240}
_V2_WEIGHT = {"background": 1, "normal": 100, "urgent": 1000}


def cgroup_name(uid_base: int) -> str:
    return f"pve-{os.geteuid()}-{uid_base}"
