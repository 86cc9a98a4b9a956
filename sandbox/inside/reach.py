"""Which project code each test runs, recorded by instrumenting the project's own modules as
they are imported: functions per test for the baseline (regression test selection), statement
lines per test for localization's coverage runs.

Runs INSIDE the sandbox (copied into the runtime as ``reach.py``, imported by the harness).
Standard library only. Advisory for localization; for selection, what it cannot see is said.

A candidate changes a few functions. A test that passed on the original code and never entered
any of them runs exactly the same code with the candidate, so re-running it proves nothing new
(the safe selection criterion of regression test selection, Rothermel and Harrold). To know
which tests enter which functions, the baseline imports the project's own modules (not its
tests, not installed packages) through a loader that puts one statement at the top of every
function body: ``__pve_reach__[k] = 1``, a store into a list (about 5 ns a call on CPython
3.11, where a trace function costs a Python call per frame and a bytearray store 6 times more).
Per test, the entries set during its call phase are the functions it reached; what ran anywhere
else (imports, collection, fixtures' setup and teardown, which later tests may share) is
``shared``, and a change there selects every test.

What the record cannot see is said in it:
- a test that starts a process (``fork``, ``subprocess``, ``os.system``, ``exec*``, spawn) or
  runs project code this loader did not compile (``runpy``, ``exec``, another import loader: all
  go through the ``exec`` audit event): ``spawned``, always selected; outside a test: ``whole``,
  and every test is selected;
- a project file no test imported is in ``files`` of no record: a change to it affects no test.
Not seen: state a test inherits from an earlier one (a cache filled by a previous test's call).

Localization's coverage (``Lines``) marks statements the same way (``__pve_lines__[k] = 1``
before each statement; all the lines of a simple statement, the header lines of a compound one):
on a parse-heavy suite a ``sys.settrace`` tracer made the traced run 5-10 times slower than the
plain one; a store per statement costs about 12 % on a tight loop. Per test it counts setup,
call and teardown (as the tracer did); what runs outside tests is ``shared``.
"""

import ast
import builtins
import importlib.machinery
import os
import sys

# Audit events that start another process, whose project code this process cannot see.
_SPAWN_EVENTS = frozenset({"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                           "subprocess.Popen", "pty.spawn"})
_MAX_REFS = 3_000_000  # test-to-function pairs; past this the record would not fit the result pipe
_MAX_LINES = 400_000  # (file, line) pairs in a coverage record, likewise


def is_test_path(rel):
    """The same rule as ``pve.layout.is_test_path`` (this file imports nothing of PVE)."""
    parts = rel.split("/")
    name = parts[-1]
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(p in ("tests", "test", "testing") for p in parts[:-1])


class _Probe:
    """The project's own source modules (not its tests, not installed packages) imported
    through a loader that inserts ``NAME[k] = 1`` marks; ``hits`` is that list (in builtins, so
    every module finds it), flushed into sets of marks per test."""

    NAME = ""

    def __init__(self, src):
        self.prefix = src.rstrip("/") + "/"
        self.hits = []
        self.files = set()  # project files imported through the instrumenting loader
        self.codes = {}  # id -> the module code objects it compiled (held: an id is unique only while alive)
        self.current = None  # the test whose marks are being collected

    def install(self):
        if getattr(builtins, self.NAME, None) is None:
            setattr(builtins, self.NAME, self.hits)
            sys.meta_path.insert(0, _Finder(self))

    def project_file(self, path):
        """The project-relative path of an editable module, or None."""
        if not path or not path.endswith(".py") or not path.startswith(self.prefix):
            return None
        rel = path[len(self.prefix):]
        return None if is_test_path(rel) else rel

    def new_mark(self):
        self.hits.append(0)
        return len(self.hits) - 1

    def instrument(self, tree, rel):
        """Put this probe's marks into a module's tree (each subclass marks its own unit:
        ``Reach`` function entries, ``Lines`` statements)."""
        raise NotImplementedError  # abstract: only the subclasses are ever installed

    def _flush(self, into):
        hits = self.hits
        i = -1
        while True:
            try:
                i = hits.index(1, i + 1)  # at C speed, where a Python loop over 10,000 marks is not
            except ValueError:
                break
            into.add(i)
        hits[:] = [0] * len(hits)  # in place: every module holds this very object

    def mark(self, k, at):
        """``NAME[k] = 1``, placed at ``at``'s position (it never raises, so no traceback shows it)."""
        node = ast.Assign(targets=[ast.Subscript(value=ast.Name(self.NAME, ast.Load()), slice=ast.Constant(k),
                                                 ctx=ast.Store())], value=ast.Constant(1))
        return ast.fix_missing_locations(ast.copy_location(node, at))


class Reach(_Probe):
    """The baseline's record: which functions each test's call phase entered."""

    NAME = "__pve_reach__"

    def __init__(self, src):
        super().__init__(src)
        self.functions = []  # "relative/path.py:def line", by mark
        self.tests = {}  # node id -> sorted function indexes
        self.shared = set()
        self.spawned = set()
        self.whole = False
        self.refs = 0

    def install(self):
        super().install()
        sys.addaudithook(self._audit)

    def instrument(self, tree, rel):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                k = self.new_mark()
                self.functions.append(f"{rel}:{node.lineno}")
                node.body.insert(1 if _docstring(node.body) else 0, self.mark(k, node.body[0]))

    # -- per test (called by the harness's pytest plugin around the call phase)

    def begin(self, nodeid):
        self._flush(self.shared)
        self.current = nodeid

    def end(self):
        reached: set[int] = set()
        self._flush(reached)
        if self.current is not None and self.refs + len(reached) <= _MAX_REFS:
            self.tests[self.current] = sorted(reached)
            self.refs += len(reached)
        elif self.current is not None:
            self.whole = True  # too big to record: the host re-runs everything
        self.current = None

    def export(self):
        self._flush(self.shared)
        return {"functions": self.functions, "files": sorted(self.files), "tests": self.tests,
                "shared": sorted(self.shared), "spawned": sorted(self.spawned), "whole": self.whole}

    def _audit(self, event, args):
        if event in _SPAWN_EVENTS:
            self._unseen()
        elif event == "exec" and args:
            code = args[0]
            filename = getattr(code, "co_filename", "")
            if isinstance(filename, str) and filename.endswith(".py"):
                filename = os.path.abspath(filename)  # runpy.run_path("pkg/x.py") keeps it relative
            if self.project_file(filename) and id(code) not in self.codes:
                self._unseen()  # project code compiled without the loader (runpy, exec)

    def _unseen(self):
        if self.current is not None:
            self.spawned.add(self.current)
        else:
            self.whole = True


class Lines(_Probe):
    """Localization's coverage: the statement lines each test ran (setup, call and teardown),
    in the harness's coverage interface (begin, end, start, stop, export)."""

    NAME = "__pve_lines__"

    def __init__(self, src):
        super().__init__(src)
        self.lines = []  # mark -> (relative path, lines)
        self.shared = set()
        self.per_test = {}

    def instrument(self, tree, rel):
        for node in ast.walk(tree):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(node, field, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    setattr(node, field, self._marked(block, rel, top=isinstance(node, ast.Module)))

    def _marked(self, block, rel, top):
        out = []
        for i, stmt in enumerate(block):
            keep_first = (i == 0 and _docstring(block)) or (top and isinstance(stmt, ast.ImportFrom)
                                                              and stmt.module == "__future__")
            if not keep_first:
                k = self.new_mark()
                self.lines.append((rel, _lines_of(stmt)))
                out.append(self.mark(k, stmt))
            out.append(stmt)
        return out

    def start(self):
        self.install()

    def stop(self):
        pass

    def begin(self, test_id):
        self._flush(self.shared)
        self.current = set()
        self.per_test[test_id] = self.current

    def end(self):
        if self.current is not None:
            self._flush(self.current)
        self.current = None

    def export(self):
        self._flush(self.shared)
        total = len(self.shared) + sum(len(m) for m in self.per_test.values())
        if total > _MAX_LINES:
            return None

        def by_file(marks):
            out: dict[str, set[int]] = {}
            for k in marks:
                rel, lines = self.lines[k]
                out.setdefault(rel, set()).update(lines)
            return {f: sorted(v) for f, v in sorted(out.items())}

        return {"shared": by_file(self.shared), "tests": {t: by_file(m) for t, m in self.per_test.items()}}


def _docstring(body):
    first = body[0] if body else None
    return (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str))


def _lines_of(stmt):
    """What a line tracer reports for a statement: every line of a simple one, the header of a
    compound one (up to its first inner statement)."""
    inner = [getattr(stmt, f) for f in ("body", "orelse", "finalbody", "handlers", "cases") if getattr(stmt, f, None)]
    if not inner:
        return range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1)
    first = min(getattr(block[0], "lineno", None) or block[0].pattern.lineno for block in inner)  # match_case has none
    return range(stmt.lineno, max(stmt.lineno, first - 1) + 1)


class _Finder:
    """Ahead of the other finders: asks them for the spec, then loads the project's own source
    modules with the instrumenting loader."""

    def __init__(self, probe):
        self.probe = probe

    def find_spec(self, fullname, path=None, target=None):
        spec = None
        after = sys.meta_path[sys.meta_path.index(self) + 1:] if self in sys.meta_path else []
        for finder in after:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        rel = self.probe.project_file(spec.origin)
        if rel is None:
            return spec
        spec.loader = _Loader(fullname, spec.origin, self.probe, rel)
        return spec


class _Loader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname, path, probe, rel):
        super().__init__(fullname, path)
        self.probe = probe
        self.rel = rel

    def get_code(self, fullname):
        # Never a cached .pyc: it would be the uninstrumented code.
        source = self.get_data(self.path)
        try:
            tree = ast.parse(source, self.path)
            self.probe.instrument(tree, self.rel)
            code = compile(tree, self.path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError):
            return super().source_to_code(source, self.path)  # its import fails as it would have
        self.probe.files.add(self.rel)
        self.probe.codes[id(code)] = code
        return code
