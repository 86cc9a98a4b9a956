"""A seccomp deny-list for the sandbox, as a classic BPF program that bwrap loads (``--seccomp FD``).

Built in pure Python so PVE needs no libseccomp binding. It denies (EPERM) the syscalls that
SANDBOX.md lists as escape or kernel-attack surface: ptrace and process_vm_*, io_uring, bpf,
keyrings, perf_event_open, userfaultfd, namespace and mount calls, module and kexec loading;
``clone`` with any CLONE_NEW* flag; ``ioctl(TIOCSTI / TIOCLINUX)`` (typing into the host's
terminal). ``clone3`` answers ENOSYS so libc falls back to ``clone``, whose flags we can
inspect. Any other architecture than the one we built for is killed.

Only x86_64 is built (the numbers below are its syscall table); on other machines
``build_filter`` raises and the sandbox refuses to start unless seccomp is explicitly disabled.
"""

from __future__ import annotations

import errno
import platform
import struct

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000

# offsets into struct seccomp_data
_NR, _ARCH = 0, 4


def _arg_lo(i: int) -> int:
    return 16 + 8 * i  # low 32 bits of args[i] (little-endian)


X86_64_DENY: dict[str, int] = {
    "ptrace": 101, "syslog": 103, "vhangup": 153, "pivot_root": 155, "chroot": 161, "acct": 163,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212,
    "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
    "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}
_CLONE, _CLONE3, _IOCTL = 56, 435, 16
_CLONE_NEW_MASK = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
                   | 0x20000000 | 0x40000000 | 0x00000080)
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


_SOCKET = 41
_AF_INET, _AF_INET6 = 2, 10


def build_filter(machine: str | None = None, *, deny_inet: bool = False) -> bytes:
    """The BPF program as bytes (struct sock_filter[]), ready to hand to bwrap (or to
    ``prctl(PR_SET_SECCOMP)``). ``deny_inet``: ``socket(AF_INET / AF_INET6, ...)`` fails too, for
    the Lambda runner, which has no network namespace to take the network away (its runtime
    API answers on 127.0.0.1); Unix sockets stay."""
    machine = machine or platform.machine()
    if machine not in ("x86_64", "AMD64"):
        raise RuntimeError(f"the seccomp deny-list is built for x86_64 only, not {machine}")
    eperm = _RET_ERRNO | errno.EPERM
    prog = [
        _ins(_LD_W_ABS, _ARCH),
        _ins(_JEQ_K, _AUDIT_ARCH_X86_64, 1, 0),
        _ins(_RET_K, _RET_KILL_PROCESS),
        _ins(_LD_W_ABS, _NR),
        _ins(_JGE_K, _X32_BIT, 0, 1),  # the x32 ABI aliases every syscall: refuse it whole
        _ins(_RET_K, eperm),
    ]
    for nr in sorted(X86_64_DENY.values()):
        prog += [_ins(_JEQ_K, nr, 0, 1), _ins(_RET_K, eperm)]
    prog += [_ins(_JEQ_K, _CLONE3, 0, 1), _ins(_RET_K, _RET_ERRNO | errno.ENOSYS)]
    if deny_inet:
        prog += _deny_when(_SOCKET, 0, (_AF_INET, _AF_INET6), eperm)
    prog += [
        _ins(_JEQ_K, _CLONE, 0, 4),
        _ins(_LD_W_ABS, _arg_lo(0)),
        _ins(_JSET_K, _CLONE_NEW_MASK, 0, 1),
        _ins(_RET_K, eperm),
        _ins(_RET_K, _RET_ALLOW),
    ]
    prog += _deny_when(_IOCTL, 1, (_TIOCSTI, _TIOCLINUX), eperm)
    prog.append(_ins(_RET_K, _RET_ALLOW))
    return b"".join(prog)


def _deny_when(nr: int, arg: int, values: tuple[int, int], ret: int) -> list[bytes]:
    """Syscall ``nr`` answers ``ret`` when its argument ``arg`` is one of the two ``values``, and
    is allowed otherwise (``socket(AF_INET, ...)``, ``ioctl(fd, TIOCSTI, ...)``)."""
    first, second = values
    return [
        _ins(_JEQ_K, nr, 0, 5),
        _ins(_LD_W_ABS, _arg_lo(arg)),
        _ins(_JEQ_K, first, 2, 0),
        _ins(_JEQ_K, second, 1, 0),
        _ins(_RET_K, _RET_ALLOW),
        _ins(_RET_K, ret),
    ]


def install(program: bytes) -> None:
    """In this process, for good: no_new_privs, then ``program`` as its seccomp filter (what
    bwrap does with ``--seccomp``; the Lambda runner calls it in the child before exec). Raises
    OSError when the kernel refuses: a run must not start without it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buf = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def not_dumpable() -> None:
    """``prctl(PR_SET_DUMPABLE, 0)``: this process's /proc entries (environ, mem, fd) become
    root's, so another process of the same uid cannot read them, and it cannot be ptraced."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
