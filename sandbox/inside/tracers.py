"""What a run records by tracing (``sys.settrace``) the project code it runs: line coverage per
test for a script or module run, how many times one line ran, and what chosen functions
returned or raised, call by call, per test.

Runs INSIDE the sandbox: copied into the runtime as ``tracers.py`` and loaded by the harness
from its own folder by file name (``harness._load_beside``), never from ``sys.path``, and only
for the runs that ask for a record of this kind. Standard library only. Apart from the harness
because none of it decides whether a run completed: coverage is advisory, and the line count
and the calls can only lower a verdict (code under test that switches tracing off records less).
The project's folder (the harness's ``SRC``) is given to each tracer by the harness.
"""

import os
import re
import sys
import threading


class Tracer:
    """sys.settrace in this thread and every new one, through ``self._global``."""

    def _global(self, frame, event, arg):  # each tracer says which frames it follows
        return None

    def start(self):
        threading.settrace(self._global)
        sys.settrace(self._global)

    def stop(self):
        sys.settrace(None)
        threading.settrace(None)


class Coverage(Tracer):
    """Line coverage of project code, per test, for fault localization (sys.settrace: stdlib,
    any CPython 3). Advisory only: code under test can switch it off, which costs it nothing
    but a worse ranking; verdicts never read it.

    Lines run outside any test (imports, collection, module constants) are kept apart and
    count for every test: a bug in a module-level constant is still on every test's path."""

    _CAP = 400_000  # (file, line) pairs in all; past this the record would not fit the pipe

    def __init__(self, src):
        self.shared: set[tuple[str, int]] = set()
        self.current = self.shared
        self.per_test = {}
        self.total = 0
        self.prefix = src + "/"

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename.startswith(self.prefix):
            return self._local
        return None

    def _local(self, frame, event, arg):
        if event == "line":
            self.current.add((frame.f_code.co_filename, frame.f_lineno))
        return self._local


    def begin(self, test_id):
        self.current = set()
        self.per_test[test_id] = self.current

    def end(self):
        self.total += len(self.current)
        self.current = self.shared

    def export(self):
        if self.total + len(self.shared) > self._CAP:
            return None
        cut = len(self.prefix)

        def by_file(pairs):
            out: dict[str, list[int]] = {}
            for filename, line in pairs:
                out.setdefault(filename[cut:], []).append(line)
            return {f: sorted(lines) for f, lines in sorted(out.items())}

        return {"shared": by_file(self.shared), "tests": {t: by_file(c) for t, c in self.per_test.items()}}


class LineCount(Tracer):
    """How many times one line of project code ran (sys.settrace, only inside that file's
    frames). A verdict may only be lowered by it, never raised: code under test that switches
    tracing off makes the count smaller, which costs it the *verified* level."""

    def __init__(self, src, path, line):
        self.filename = os.path.join(src, path)
        self.line = int(line)
        self.count = 0

    def _global(self, frame, event, arg):
        return self._local if frame.f_code.co_filename == self.filename else None

    def _local(self, frame, event, arg):
        if event == "line" and frame.f_lineno == self.line:
            self.count += 1
        return self._local



class Calls(Tracer):
    """What chosen project functions returned or raised, call by call, per test (sys.settrace,
    only inside those functions' frames): the behaviour a fix must leave alone outside the
    failure (statemachine/behaviour.py compares the original's record with a candidate's).
    Like the line count, it can only lower a verdict: code that switches tracing off records
    nothing, and a record that differs blocks *verified*."""

    _PER_TEST = 2_000  # calls recorded per test (and 20,000 in all): past that, marked cut
    _TOTAL = 20_000
    _SHOWN = 300  # characters of a value's repr

    def __init__(self, src, targets):
        self.targets = {(os.path.join(src, path), int(line)) for path, line in targets}
        self.current = None
        self.per_test = {}
        self.total = 0
        self.raising = set()  # frames whose last event was an exception not yet handled

    def _global(self, frame, event, arg):
        code = frame.f_code
        if (code.co_filename, code.co_firstlineno) in self.targets:
            return self._local
        return None

    def _local(self, frame, event, arg):
        if event == "exception":
            self.raising.add(id(frame))
        elif event == "line":
            self.raising.discard(id(frame))
        elif event == "return":
            raised = id(frame) in self.raising
            self.raising.discard(id(frame))
            calls = self.current
            if calls is None or len(calls) >= self._PER_TEST or self.total >= self._TOTAL:
                return self._local
            name = f"{frame.f_code.co_name}:{frame.f_code.co_firstlineno}"
            calls.append(f"{name} raised" if raised else f"{name} -> {self._shown(arg)}")
            self.total += 1
        return self._local

    @classmethod
    def _shown(cls, value):
        if hasattr(type(value), "__next__") and hasattr(type(value), "__iter__"):
            # a lazy iterator: what it yields is seen by the callers that consume it; its class
            # (islice or a deque's iterator) is not behaviour (more-itertools' tail(), fixed)
            return "<iterator>"
        try:
            text = repr(value)
        except Exception as exc:
            text = f"<repr failed: {type(exc).__name__}>"
        return re.sub(r" at 0x[0-9a-fA-F]+", "", text)[: cls._SHOWN]


    def begin(self, test_id):
        self.current = []
        self.per_test[test_id] = self.current

    def end(self):
        self.current = None

    def export(self):
        return {"calls": self.per_test, "cut": self.total >= self._TOTAL}
