"""Code that reaches into the process that judges it (frames, the garbage collector, ctypes,
/proc/self, pytest's or the harness's objects). Apart because it guards the verdict channel
itself (SANDBOX.md), for a candidate and for a person's change alike: what adds any of it is not
judged automatically.
"""

from __future__ import annotations

import ast
import functools

from statemachine.shortcuts.syntax import dotted

# What code under judgement would use to reach what judges it, from inside the process that
# runs it: the harness's memory (frames, the garbage collector, ctypes, __main__), the process's
# own /proc entries (its command line, descriptors, memory), and pytest's or the harness's
# objects. A run cannot stop code in its own process from reading that process (SANDBOX.md,
# "verdict channel"); a candidate or a pull request that adds any of it is not judged
# automatically.
_INTROSPECTION_CALLS = frozenset({
    "sys._getframe", "sys._current_frames", "inspect.currentframe", "inspect.stack", "inspect.getouterframes",
    "inspect.trace", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "ctypes.string_at",
    "ctypes.memmove", "ctypes.cast", "ctypes.CDLL", "ctypes.pythonapi", "sys.settrace", "sys.setprofile",
    "threading.settrace", "sys.addaudithook"})
_INTROSPECTION_MODULES = frozenset({"ctypes", "_ctypes", "gc", "_pytest", "harness", "pluggy", "cffi"})
_JUDGE_OBJECTS = frozenset({"pytest", "_pytest", "TestReport", "CallInfo", "harness", "pluggy"})


def introspection(old: ast.AST | None, new: ast.AST) -> list[str]:
    """What ``new`` adds (beyond ``old``) that reads or rewrites the process judging it."""
    before, after = _introspection(old), _introspection(new)
    found = sorted(after - before)
    return [f"reaches into the process that judges it ({', '.join(found[:4])}): not judged automatically"] if found else []


@functools.lru_cache(maxsize=16)
def _introspection(tree: ast.AST | None) -> frozenset[str]:
    out: set[str] = set()
    if tree is None:
        return frozenset()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            name = dotted(n.func)
            if name in _INTROSPECTION_CALLS or (name or "").endswith("._getframe"):
                out.add(f"{name}()")
        elif isinstance(n, ast.Import | ast.ImportFrom):
            mods = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""]
            out |= {f"import {m}" for m in mods if m.split(".")[0] in _INTROSPECTION_MODULES}
            if isinstance(n, ast.ImportFrom) and n.module:
                out |= {f"{n.module}.{a.name}" for a in n.names if f"{n.module}.{a.name}" in _INTROSPECTION_CALLS}
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and \
                any(p in n.value for p in ("/proc/self", "/proc/1/", "/proc/thread-self", "__main__")):
            out.add(repr(n.value[:40]))
        elif isinstance(n, ast.Attribute) and n.attr in ("f_back", "f_globals", "f_locals", "gi_frame", "tb_frame",
                                                          "cr_frame", "__globals__", "__code__"):
            out.add(f".{n.attr}")
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store | ast.Del) and \
                (dotted(n.value) or "").split(".")[0] in _JUDGE_OBJECTS:
            out.add(f"assigns {dotted(n.value)}.{n.attr}")
        elif isinstance(n, ast.Call) and dotted(n.func) in ("setattr", "delattr") and n.args and \
                (dotted(n.args[0]) or "").split(".")[0] in _JUDGE_OBJECTS:
            out.add(f"{dotted(n.func)}({dotted(n.args[0])}, ...)")
    return frozenset(out)
