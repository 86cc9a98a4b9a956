"""Direct screening: a project's plain test functions called one after another in the screening
child, without pytest's session. It runs INSIDE bubblewrap (copied into the runtime as
/pve/direct.py; standard library and pytest's assertion rewriter only).

Why: in a warm screening child, pytest's own work (parsing options, registering its plugins,
collecting, reporting) costs ~20 ms a run, while calling a small module's tests costs well
under a millisecond, and screening exists to reject the many candidates that fail.

Where it is used, it gives the record a pytest run would give (outcome and exception per node
id, in pytest's order), and the screening server uses it only where that was checked:

1. ``plan`` (static, reading files, never running them): every selected test is a plain
   function, or a method of a plain class, with no parameters (fixtures), no decorators (marks),
   in a module without fixtures, ``pytestmark``, ``pytest_plugins`` or xunit setup/teardown,
   in a project without ``conftest.py``; node ids without parameters.
2. calibration (``screen_server.calibrate``): on the original code, pytest's run and the direct
   run gave the same outcome and exception type for every test.

Test modules are imported as pytest imports them by default (``prepend``: the first folder up
without ``__init__.py`` first on ``sys.path``) with pytest's assertion rewriting, so a failing
``assert`` says what it says under pytest (the first line, which stepping stones read, is the
same; pytest's extra explanation lines after it are not made here). Like pytest, every module is
collected before any test runs, and a module that fails to import stops the run (exit 2).
"""

import ast
import marshal
import os
import sys
import time

_UNSAFE_NAMES = {"setup_module", "teardown_module", "setup_function", "teardown_function", "setup", "teardown",
                 "setUpModule", "tearDownModule", "pytestmark", "pytest_plugins"}
_UNSAFE_IN_CLASS = {"__init__", "__new__", "setup_method", "teardown_method", "setup_class", "teardown_class",
                    "setup", "teardown", "setUp", "tearDown", "pytestmark"}


class NotPlain(Exception):
    """Why a test cannot be called directly."""


def plan(nodeids, root, has_conftest):
    """[(node id, file, class name or None, function name)] in the given order, or raises
    ``NotPlain`` saying which test and why."""
    if has_conftest:
        raise NotPlain("the project has a conftest.py")
    trees: dict = {}
    out = []
    for nodeid in nodeids:
        if "[" in nodeid:
            raise NotPlain(f"{nodeid}: parametrized")
        parts = nodeid.split("::")
        if len(parts) not in (2, 3) or not parts[0].endswith(".py"):
            raise NotPlain(f"{nodeid}: not a function or method in a module")
        file = parts[0]
        tree = trees.get(file)
        if tree is None:
            path = os.path.join(root, file)
            with open(path, "rb") as f:
                tree = trees[file] = ast.parse(f.read(), path)
            _module_is_plain(tree, file)
        if len(parts) == 2:
            _function_is_plain(tree.body, parts[1], 0, nodeid)
            out.append((nodeid, file, None, parts[1]))
        else:
            body = _plain_class(tree, parts[1], nodeid)
            _function_is_plain(body, parts[2], 1, nodeid)
            out.append((nodeid, file, parts[1], parts[2]))
    return out


def _module_is_plain(tree, file):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for deco in node.decorator_list:
                if "fixture" in ast.dump(deco):
                    raise NotPlain(f"{file}: defines fixtures")
    for node in tree.body:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        unsafe = [n for n in names if n in _UNSAFE_NAMES]
        if unsafe:
            raise NotPlain(f"{file}: defines {unsafe[0]}")


def _definitions(body, name):
    return [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and n.name == name]


def _function_is_plain(body, name, own_args, nodeid):
    defs = _definitions(body, name)
    if not defs:
        raise NotPlain(f"{nodeid}: not defined by a def")
    for d in defs:
        if not isinstance(d, ast.FunctionDef):
            raise NotPlain(f"{nodeid}: not a plain function")
        a = d.args
        if d.decorator_list:
            raise NotPlain(f"{nodeid}: decorated")
        if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or len(a.args) != own_args:
            raise NotPlain(f"{nodeid}: takes arguments (fixtures)")


def _plain_class(tree, name, nodeid):
    defs = _definitions(tree.body, name)
    if len(defs) != 1 or not isinstance(defs[0], ast.ClassDef):
        raise NotPlain(f"{nodeid}: its class is not one plain class")
    cls = defs[0]
    if cls.bases or cls.keywords or cls.decorator_list:
        raise NotPlain(f"{nodeid}: its class has bases or decorators")
    for node in cls.body:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if any(n in _UNSAFE_IN_CLASS for n in names):
            raise NotPlain(f"{nodeid}: its class has set-up or tear-down")
    return cls.body


# ---------------------------------------------------------------------------------------------
# In the screening child


def _cache_path(cache, path, st):
    # keyed by the source's mtime and size: a candidate's files carry an mtime of their own
    # (screen_server._write_patches), so code compiled from other text never matches
    flat = path.strip("/").replace("/", "%")
    return os.path.join(cache, f"{flat}.{st.st_mtime_ns}.{st.st_size}.direct.pyc")


def _rewritten_code(path, cache):
    """The module's code with pytest's assertion rewriting, cached as pytest caches it."""
    from _pytest.assertion.rewrite import rewrite_asserts

    st = os.stat(path)
    cached = _cache_path(cache, path, st)
    try:
        with open(cached, "rb") as f:
            return marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    with open(path, "rb") as f:
        source = f.read()
    tree = ast.parse(source, filename=path)
    rewrite_asserts(tree, source, path, None)
    code = compile(tree, path, "exec", dont_inherit=True)
    try:
        os.makedirs(cache, exist_ok=True)
        tmp = f"{cached}.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(marshal.dumps(code))
        os.replace(tmp, cached)
    except OSError:
        pass
    return code


def _module_name(path):
    """pytest's ``prepend`` import mode: the folder above the topmost package goes first on
    sys.path, and the module is named from there."""
    folder, name = os.path.split(path)
    parts = [name[:-3]]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        parts.insert(0, package)
    return folder, ".".join(parts)


def _import(path, cache):
    import importlib.util

    base, name = _module_name(path)
    if base not in sys.path:
        sys.path.insert(0, base)
    if "." in name:
        importlib.import_module(name.rsplit(".", 1)[0])  # its packages, as pytest imports them
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None  # a .py path always has one
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(_rewritten_code(path, cache), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


class _InFull:
    """What pytest's runs are given (``-o verbosity_assertions=2``, sandbox/inside/harness.py): a
    failing assert's values in full. Without it the rewritten assert shows a list's first six
    items and "..." (reprlib's default), and a candidate's values could not be compared with the
    original's (statemachine/stones.py)."""

    def get_verbosity(self, *_args):
        return 2


def _values_in_full():
    try:
        from _pytest.assertion import util
    except ImportError:
        return
    util._config = _InFull()  # type: ignore[assignment]  # the one method the rewritten asserts ask of it


def run(tests, root, record, exception_info, alarm, cache):
    """Collect every module, then call every test (each inside ``alarm()``, the harness's
    per-test clock); fills ``record`` as the harness's pytest plugin would. Returns pytest's
    exit code for the same outcome."""
    import _pytest.outcomes as outcomes_mod

    skipped, xfailed = outcomes_mod.Skipped, outcomes_mod.XFailed
    _values_in_full()
    outcomes, exceptions, durations = record["outcomes"], record["test_exceptions"], record["durations"]
    modules: dict = {}
    broken = False
    for _nodeid, file, _cls, _name in tests:
        if file in modules:
            continue
        try:
            modules[file] = _import(os.path.join(root, file), cache)
        except BaseException as exc:  # a collection error, keyed as pytest keys it
            if isinstance(exc, KeyboardInterrupt):
                raise
            modules[file] = None
            outcomes[file] = "error"
            exceptions[file] = exception_info(exc)
            broken = True
    record["collected"] = sum(1 for t in tests if modules.get(t[1]) is not None)
    if broken:
        return 2
    failed = False
    for nodeid, file, cls, name in tests:
        started = time.perf_counter()
        try:
            owner = getattr(modules[file], cls)() if cls else modules[file]
            test = getattr(owner, name)
            with alarm():
                test()
            outcome = "passed"
        except KeyboardInterrupt:
            raise
        except skipped:
            outcome = "skipped"
        except xfailed:
            outcome = "xfailed"
        except BaseException as exc:  # SystemExit too: pytest counts it as the test failing
            outcome = "failed"
            exceptions[nodeid] = exception_info(exc)
        durations[nodeid] = (time.perf_counter() - started) * 1000
        outcomes[nodeid] = outcome
        failed = failed or outcome == "failed"
    return 1 if failed else 0
