"""The offline engine: candidate fixes from templates per exception type, at the failing frame.

No key, no network, deterministic. Each rule looks at the innermost editable project frame (or
the SyntaxError location) and proposes small edits; the engine compiles, deduplicates (by
normalised AST) and ranks them. Nothing here decides whether a fix works: the sandbox does.
"""

from __future__ import annotations

import ast
import difflib
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from brain.candidates import Checker
from brain.offline import reshape_fixes
from brain.source import (
    SourceFile,
    Spans,
    builtin_names,
    function_names,
    indent_of,
    segment,
)
from brain.stdlib_names import FROM_IMPORTS, UNSAFE_STDLIB
from pve.models import SYNTAX_ERRORS, Analysis, Candidate, ExceptionInfo, FileEdit, Frame

Reader = Callable[[str], str]


@dataclass(frozen=True)
class Proposal:
    rule: str
    rationale: str
    path: str
    new_text: str
    score: float  # higher first


@dataclass
class Context:
    analysis: Analysis
    exc: ExceptionInfo
    frame: Frame | None  # innermost editable project frame
    src: SourceFile | None
    read: Reader
    project_files: list[str]
    editable: Callable[[str], bool] = lambda _p: True




def proposals(analysis: Analysis, read: Reader, editable: Callable[[str], bool], project_files: list[str]) -> list[Proposal]:
    """The exception type's templates at the failing frame (or the SyntaxError's location)."""
    exc = analysis.exception
    frame = analysis.failing_frame
    path = None
    if exc.syntax_file and exc.type in SYNTAX_ERRORS and exc.syntax_file in project_files:
        path = exc.syntax_file
    elif frame is not None and frame.project_path:
        path = frame.project_path
    if path is None or not editable(path):
        # The failure surfaced in code no fix may touch (a test, the reproduction): only the
        # templates that fix elsewhere apply.
        remote = Context(analysis, exc, frame, None, read, project_files, editable)
        return [p for rule in _ELSEWHERE.get(exc.type, []) for p in rule(remote)]
    try:
        src = SourceFile(path, read(path))
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    ctx = Context(analysis, exc, frame, src, read, project_files, editable)
    out: list[Proposal] = []
    for rule in [*_RULES.get(exc.type, []), *_ELSEWHERE.get(exc.type, [])]:
        out.extend(rule(ctx))
    return out


def to_candidates(proposals: list[Proposal], read: Reader, limit: int) -> list[Candidate]:
    """Rank (score, then rule, path and text: deterministic), drop what does not parse or
    changes nothing, deduplicate by normalised AST, and stop at ``limit``."""
    seen: set[tuple[str, str]] = set()
    checkers: dict[str, Checker] = {}
    ranked = sorted(proposals, key=lambda p: (-p.score, p.rule, p.path, p.new_text))
    out: list[Candidate] = []
    for p in ranked:
        if p.path not in checkers:
            checkers[p.path] = Checker(p.path, read(p.path))
        checked = checkers[p.path].check(p.new_text)  # compiles, changes code: (dedup key, diff)
        if checked is None or (p.path, checked[0]) in seen:
            continue
        seen.add((p.path, checked[0]))
        diff = checked[1]
        out.append(Candidate(id=len(out) + 1, source="offline", rule=p.rule, rationale=p.rationale,
                             edits=[FileEdit(path=p.path, new_text=p.new_text)], diff=diff,
                             diff_lines=sum(1 for x in diff.splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---"))))
        if len(out) >= limit:
            break
    return out


def _close(word: str, options: set[str], n: int = 3) -> list[tuple[str, float]]:
    options = {o for o in options if o != word}
    found = difflib.get_close_matches(word, sorted(options), n=n, cutoff=0.6)
    return [(f, difflib.SequenceMatcher(None, word, f).ratio()) for f in found]


def _sub_word(line: str, old: str, new: str, *, attribute: bool = False) -> str:
    if attribute:
        return re.sub(rf"\.{re.escape(old)}\b", f".{new}", line)
    return re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, line)


def _quoted(message: str) -> list[str]:
    return re.findall(r"'([^']*)'", message)


def _line_ctx(ctx: Context) -> tuple[SourceFile, int, str] | None:
    if ctx.src is None or ctx.frame is None or not ctx.frame.line:
        return None
    line = ctx.src.line(ctx.frame.line)
    return (ctx.src, ctx.frame.line, line) if line.strip() else None


def _site(ctx: Context) -> tuple[SourceFile, int, str, ast.stmt] | None:
    """The failing line and the statement around it, when both are known."""
    lc = _line_ctx(ctx)
    if lc is None:
        return None
    stmt = lc[0].statement_at(lc[1])
    return None if stmt is None else (*lc, stmt)


def _guard(ctx: Context, condition: str, values: list[tuple[str, float]], rule: str, why: str) -> Iterator[Proposal]:
    """Insert ``if <condition>: return <value>`` before the failing statement (inside a function)."""
    lc = _line_ctx(ctx)
    if lc is None:
        return
    src, lineno, _line = lc
    func = src.enclosing_function(lineno)
    stmt = src.statement_at(lineno)
    if func is None or stmt is None:
        return
    ind = indent_of(src.line(stmt.lineno))
    for value, score in values:
        new = src.insert_before(stmt.lineno, [f"{ind}if {condition}:", f"{ind}    return {value}"])
        yield Proposal(rule, f"{why}: return {value} when {condition}", src.path, new, score)


# --------------------------------------------------------------------------- name errors


def _name_closest(ctx: Context) -> Iterator[Proposal]:
    names = _quoted(ctx.exc.message)
    lc = _line_ctx(ctx)
    if not names or lc is None:
        return
    missing = names[0]
    src, lineno, line = lc
    scope = set(builtin_names()) | src.module_names()
    func = src.enclosing_function(lineno)
    if func is not None:
        scope |= function_names(func)
        for outer in ast.walk(src.tree) if src.tree else []:
            if isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef) and outer is not func \
                    and outer.lineno <= func.lineno <= (outer.end_lineno or outer.lineno):
                scope |= function_names(outer)
    for name, ratio in _close(missing, scope):
        fixed = _sub_word(line, missing, name)
        if fixed != line:
            yield Proposal("name.closest", f"'{missing}' is not defined; use '{name}'", src.path,
                           src.replace_line(lineno, fixed), 3 + ratio)
        if func is not None:
            start, end = func.lineno, func.end_lineno or func.lineno
            text = "".join(_sub_word(x, missing, name) if start <= i + 1 <= end else x for i, x in enumerate(src.lines))
            yield Proposal("name.closest-function", f"'{missing}' is not defined; use '{name}' throughout {func.name}()",
                           src.path, text, 2.5 + ratio)


def _name_import(ctx: Context) -> Iterator[Proposal]:
    names = _quoted(ctx.exc.message)
    if not names or ctx.src is None or ctx.src.tree is None:
        return
    missing = names[0]
    src = ctx.src
    at = src.first_code_line()
    if missing in sys.stdlib_module_names and missing not in UNSAFE_STDLIB:
        yield Proposal("name.import", f"'{missing}' is a standard module that was never imported", src.path,
                       src.insert_before(at, [f"import {missing}"]), 4.5)  # exact name beats any fuzzy rename
    if missing in FROM_IMPORTS:
        mod = FROM_IMPORTS[missing]
        yield Proposal("name.import", f"'{missing}' lives in {mod} and was never imported", src.path,
                       src.insert_before(at, [f"from {mod} import {missing}"]), 4.4)
    for other in ctx.project_files:
        if other == src.path or other.endswith("__init__.py") or ("/" in other and other.split("/")[0] in ("tests", "test")):
            continue
        try:
            tree = ast.parse(ctx.read(other))
        except (SyntaxError, ValueError, FileNotFoundError):
            continue
        if any(isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef) and n.name == missing for n in tree.body):
            module = other[:-3].replace("/", ".")
            yield Proposal("name.import-project", f"'{missing}' is defined in {module}", src.path,
                           src.insert_before(at, [f"from {module} import {missing}"]), 4.2)


def _unbound_local(ctx: Context) -> Iterator[Proposal]:
    names = _quoted(ctx.exc.message)
    lc = _line_ctx(ctx)
    if not names or lc is None:
        return
    name = names[0]
    src, lineno, _line = lc
    func = src.enclosing_function(lineno)
    if func is None:
        return
    start = src.body_start(func)
    ind = indent_of(src.line(start))
    if name in src.module_names():
        yield Proposal("unbound.global", f"'{name}' is module state that {func.name}() rebinds: declare it global",
                       src.path, src.insert_before(start, [f"{ind}global {name}"]), 4)
    enclosing = [n for n in ast.walk(src.tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                 and n is not func and n.lineno < func.lineno <= (n.end_lineno or n.lineno)] if src.tree else []
    if any(name in function_names(n) for n in enclosing):
        yield Proposal("unbound.nonlocal", f"'{name}' belongs to the enclosing function: declare it nonlocal",
                       src.path, src.insert_before(start, [f"{ind}nonlocal {name}"]), 4)
    for value, score in (("None", 1.5), ("0", 1.4), ("[]", 1.2)):
        yield Proposal("unbound.init", f"give '{name}' a value before it is read", src.path,
                       src.insert_before(start, [f"{ind}{name} = {value}"]), score)


# --------------------------------------------------------------------------- attribute / import errors


def _class_attributes(ctx: Context, class_name: str) -> set[str]:
    attrs: set[str] = set()
    for path in ctx.project_files:
        try:
            tree = ast.parse(ctx.read(path))
        except (SyntaxError, ValueError, FileNotFoundError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == class_name:
                for sub in ast.walk(node):
                    if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                        attrs.add(sub.name)
                    elif isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) \
                            and isinstance(sub.value, ast.Name) and sub.value.id == "self":
                        attrs.add(sub.attr)
                    elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        attrs.add(sub.id)
                    elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name):
                        attrs.add(sub.target.id)
    return attrs


_BUILTIN_TYPES = {"dict": dict, "list": list, "str": str, "int": int, "float": float, "set": set,
                  "tuple": tuple, "bytes": bytes, "frozenset": frozenset, "bool": bool}


def _module_names_of(ctx: Context, module: str) -> set[str]:
    rel = module.replace(".", "/")
    for candidate in (f"{rel}.py", f"{rel}/__init__.py"):
        if candidate in ctx.project_files:
            return SourceFile(candidate, ctx.read(candidate)).module_names()
    top = module.split(".")[0]
    if top in sys.stdlib_module_names and top not in UNSAFE_STDLIB and f"{top}.py" not in ctx.project_files:
        try:
            mod = __import__(module, fromlist=["_"])  # standard library only, never project code
        except Exception:
            return set()
        return {n for n in dir(mod) if not n.startswith("_")}
    return set()


def _attribute_closest(ctx: Context) -> Iterator[Proposal]:
    lc = _line_ctx(ctx)
    m = re.match(r"(?:type object )?'(?P<owner>[\w.]+)' object has no attribute '(?P<attr>\w+)'", ctx.exc.message)
    mm = re.match(r"module '(?P<module>[\w.]+)' has no attribute '(?P<attr>\w+)'", ctx.exc.message)
    if lc is None or not (m or mm):
        return
    src, lineno, line = lc
    if mm:
        attr = mm.group("attr")
        options = _module_names_of(ctx, mm.group("module"))
    else:
        assert m is not None
        attr = m.group("attr")
        owner = m.group("owner").rsplit(".", 1)[-1]
        if owner == "NoneType":
            return
        options = ({n for n in dir(_BUILTIN_TYPES[owner]) if not n.startswith("_")}
                   if owner in _BUILTIN_TYPES else _class_attributes(ctx, owner))
    for name, ratio in _close(attr, options):
        fixed = _sub_word(line, attr, name, attribute=True)
        if fixed != line:
            yield Proposal("attribute.closest", f"no attribute '{attr}'; use '{name}'", src.path,
                           src.replace_line(lineno, fixed), 3 + ratio)


def _none_guard(ctx: Context) -> Iterator[Proposal]:
    """'NoneType' object has no attribute / is not subscriptable / is not iterable."""
    if "NoneType" not in ctx.exc.message:
        return
    lc = _line_ctx(ctx)
    if lc is None or ctx.src is None:
        return
    src, lineno, line = lc
    stmt = src.statement_at(lineno)
    if stmt is None:
        return
    suspects: list[str] = []
    for node in ast.walk(stmt):
        target = None
        if (isinstance(node, ast.Attribute) and "attribute" in ctx.exc.message) or (isinstance(node, ast.Subscript) and "subscriptable" in ctx.exc.message):
            target = node.value
        elif isinstance(node, ast.For | ast.comprehension) and "iterable" in ctx.exc.message:
            target = node.iter
        if target is not None and isinstance(target, ast.Name | ast.Attribute):
            text = segment(src, target)
            if text and text not in suspects:
                suspects.append(text)
    for i, text in enumerate(suspects[:3]):
        yield from _guard(ctx, f"{text} is None", [("None", 2.4 - i * 0.1)], "none.guard", f"{text} can be None")
        if "iterable" in ctx.exc.message:
            fixed = line.replace(f"in {text}", f"in ({text} or [])", 1)
            if fixed != line:
                yield Proposal("none.iterate-empty", f"iterate over nothing when {text} is None", src.path,
                               src.replace_line(lineno, fixed), 2.5)


def _import_closest(ctx: Context) -> Iterator[Proposal]:
    lc = _line_ctx(ctx)
    if lc is None:
        return
    src, lineno, line = lc
    m = re.match(r"cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'", ctx.exc.message)
    if m:
        for name, ratio in _close(m.group("name"), _module_names_of(ctx, m.group("module"))):
            fixed = _sub_word(line, m.group("name"), name)
            if fixed != line:
                yield Proposal("import.closest-name", f"{m.group('module')} has no '{m.group('name')}'; use '{name}'",
                               src.path, src.replace_line(lineno, fixed), 3 + ratio)
        return
    m = re.match(r"No module named '(?P<module>[\w.]+)'", ctx.exc.message)
    if m:
        wanted = m.group("module")
        modules = {p[:-3].replace("/", ".").removesuffix(".__init__") for p in ctx.project_files}
        modules |= {x for x in sys.stdlib_module_names if not x.startswith("_")}
        for name, ratio in _close(wanted, modules):
            fixed = _sub_word(line, wanted, name)
            if fixed != line:
                yield Proposal("import.closest-module", f"no module '{wanted}'; use '{name}'", src.path,
                               src.replace_line(lineno, fixed), 3 + ratio)


def _provide_name(ctx: Context) -> Iterator[Proposal]:
    """The importer is right (a test, the reproduction): the module should have the name.
    Rename its closest definition (and the module's own uses of it), or add an alias. Runs
    whether or not the importing line may be edited."""
    m = re.match(r"cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'", ctx.exc.message)
    if not m:
        return
    wanted, module = m.group("name"), m.group("module")
    path = _module_file(ctx, module)
    if path is None or not ctx.editable(path):
        return
    try:
        src = SourceFile(path, ctx.read(path))
    except (FileNotFoundError, UnicodeDecodeError):
        return
    if src.tree is None:
        return
    for name, ratio in _close(wanted, src.module_names()):
        renamed = re.sub(rf"\b{re.escape(name)}\b", wanted, src.text)
        if renamed != src.text:
            yield Proposal("import.rename-definition", f"{module} defines '{name}' where '{wanted}' is imported; "
                           f"rename it", path, renamed, 2.9 + ratio)
        yield Proposal("import.alias", f"{module} gets '{wanted}' as a name for its '{name}'", path,
                       src.text.rstrip("\n") + f"\n\n{wanted} = {name}\n", 2.4 + ratio)


def _module_file(ctx: Context, module: str) -> str | None:
    rel = module.replace(".", "/")
    for candidate in (f"{rel}.py", f"{rel}/__init__.py"):
        hits = [f for f in ctx.project_files if f == candidate or f.endswith("/" + candidate)]
        if len(hits) == 1 or candidate in hits:
            return candidate if candidate in hits else hits[0]
    return None


# --------------------------------------------------------------------------- data errors


def _key_fixes(ctx: Context) -> Iterator[Proposal]:
    site = _site(ctx)
    if site is None:
        return
    src, lineno, line, stmt = site
    subs = [n for n in ast.walk(stmt) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load)
            and not isinstance(n.slice, ast.Slice) and n.lineno == lineno == n.end_lineno]
    key = ctx.exc.message.strip()
    literal_key = key[1:-1] if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"" else None
    if literal_key is not None:
        yield from _key_literal_typo(ctx, literal_key)
    for sub in subs[:2]:
        obj, idx = segment(src, sub.value), segment(src, sub.slice)
        if not obj or not idx:
            continue
        raw = line.encode("utf-8")  # AST columns are UTF-8 byte offsets
        for default, score in (("0", 2.3), ("None", 2.2), ('""', 1.6), ("[]", 1.5)):
            tail = "" if default == "None" else f", {default}"
            # at the subscript's own position: in `d[k] = d[k] + 1` only the read may change
            fixed = (raw[:sub.col_offset] + f"{obj}.get({idx}{tail})".encode() + raw[sub.end_col_offset:]).decode()
            yield Proposal("key.get-default", f"a missing key {idx} means {default}", src.path,
                           src.replace_line(lineno, fixed), score)
        yield from _guard(ctx, f"{idx} not in {obj}", [("None", 2.0), ("0", 1.9)], "key.guard", f"{idx} may be missing")


def _key_literal_typo(ctx: Context, key: str) -> Iterator[Proposal]:
    """A misspelt key literal, on the failing line or up the call chain (the caller passed it)."""
    frames = [f for f in reversed(ctx.analysis.project_frames) if f.project_path and f.line and ctx.editable(f.project_path)]
    for depth, frame in enumerate(frames[:4]):
        try:
            fsrc = ctx.src if ctx.src and frame.project_path == ctx.src.path else SourceFile(frame.project_path or "", ctx.read(frame.project_path or ""))
        except FileNotFoundError:
            continue
        if fsrc.tree is None:
            continue
        line = fsrc.line(frame.line or 0)
        known = {n.value for n in ast.walk(fsrc.tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for name, ratio in _close(key, known):
            for q in ("'", '"'):
                old = f"{q}{key}{q}"
                if old in line:
                    yield Proposal("key.closest", f"no key {old}; the code elsewhere uses {q}{name}{q}", fsrc.path,
                                   fsrc.replace_line(frame.line or 0, line.replace(old, f"{q}{name}{q}")),
                                   3.4 + ratio - depth * 0.1)


def _index_fixes(ctx: Context) -> Iterator[Proposal]:
    lc = _line_ctx(ctx)
    if lc is None:
        return
    src, lineno, line = lc
    patterns = [
        (r"\[len\((?P<x>[^()]+)\)\]", lambda m: f"[len({m.group('x')}) - 1]", "index at len(x) is one past the end"),
        (r"range\(len\((?P<x>[^()]+)\) \+ 1\)", lambda m: f"range(len({m.group('x')}))", "range runs one past the end"),
        (r"range\(1, len\((?P<x>[^()]+)\) \+ 1\)", lambda m: f"range(1, len({m.group('x')}))", "range runs one past the end"),
        (r"\[(?P<i>\w+) \+ 1\]", lambda m: f"[{m.group('i')}]", "index one past the intended element"),
        (r"\[(?P<i>\w+) - 1\]", lambda m: f"[{m.group('i')}]", "index one before the intended element"),
        (r"\[(?P<i>\w+)\]", lambda m: f"[{m.group('i')} - 1]", "off by one: index from 0"),
        (r"(?P<a>\w+) <= len\(", lambda m: f"{m.group('a')} < len(", "bound must be exclusive"),
    ]
    for k, (pattern, repl, why) in enumerate(patterns):
        fixed = re.sub(pattern, repl, line, count=1)
        if fixed != line:
            yield Proposal("index.off-by-one", why, src.path, src.replace_line(lineno, fixed), 2.8 - k * 0.1)
    func = src.enclosing_function(lineno)
    if func is not None:
        # the loop bound that feeds the index may sit a few lines above
        for n in range(max(func.lineno, lineno - 6), lineno):
            above = src.line(n)
            for pattern, repl, why in patterns[1:3] + patterns[6:]:
                fixed = re.sub(pattern, repl, above, count=1)
                if fixed != above:
                    yield Proposal("index.loop-bound", why, src.path, src.replace_line(n, fixed), 2.6)
    stmt = src.statement_at(lineno)
    if stmt is not None:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
                yield from _guard(ctx, f"not {node.value.id}", [("None", 1.8)], "index.empty-guard",
                                  f"{node.value.id} can be empty")
                break


def _zero_division(ctx: Context) -> Iterator[Proposal]:
    site = _site(ctx)
    if site is None:
        return
    src, lineno, line, stmt = site
    divisors: list[str] = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
            text = segment(src, node.right)
            if text and text not in divisors:
                divisors.append(text)
    func = src.enclosing_function(lineno)
    floaty = func is not None and (isinstance(func.returns, ast.Name) and func.returns.id == "float")
    for i, d in enumerate(divisors[:2]):
        m = re.fullmatch(r"len\((?P<x>.+)\)", d)
        cond = f"not {m.group('x')}" if m else f"{d} == 0"
        values = [("0.0", 2.6), ("0", 2.5), ("None", 2.3)] if floaty else [("0", 2.6), ("0.0", 2.5), ("None", 2.3)]
        yield from _guard(ctx, cond, [(v, s - i * 0.2) for v, s in values], "zero.guard", f"{d} can be zero")
        whole = next((segment(src, n) for n in ast.walk(stmt) if isinstance(n, ast.BinOp)
                      and isinstance(n.op, ast.Div | ast.FloorDiv | ast.Mod) and segment(src, n.right) == d), None)
        if whole and whole in line:
            fallback = "0.0" if floaty else "0"
            yield Proposal("zero.conditional", f"{d} can be zero: the expression falls back to {fallback}", src.path,
                           src.replace_line(lineno, line.replace(whole, f"({whole} if {d} else {fallback})", 1)), 2.0 - i * 0.2)


def _type_fixes(ctx: Context) -> Iterator[Proposal]:
    lc = _line_ctx(ctx)
    if lc is None:
        return
    src, lineno, line = lc
    msg = ctx.exc.message
    stmt = src.statement_at(lineno)
    if stmt is None:
        return
    concat = "can only concatenate str" in msg or re.search(r"unsupported operand type\(s\) for \+", msg)
    if concat:
        operands: list[ast.expr] = []
        for node in ast.walk(stmt):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                for side in (node.left, node.right):
                    if not isinstance(side, ast.BinOp) and not (isinstance(side, ast.Constant) and isinstance(side.value, str)):
                        operands.append(side)
        str_first = "can only concatenate str" in msg or "'str'" in msg.split(" and ")[-1]
        for k, node in enumerate(operands[:4]):
            text = segment(src, node)
            if not text or text not in line:
                continue
            for conv, score in (("str", 2.6), ("int", 2.0)) if str_first else (("int", 2.6), ("str", 2.0)):
                fixed = re.sub(rf"(?<![\w.]){re.escape(text)}(?![\w(])", f"{conv}({text})", line, count=1)
                if fixed != line:
                    yield Proposal(f"type.{conv}-operand", f"convert {text} with {conv}() before +", src.path,
                                   src.replace_line(lineno, fixed), score - k * 0.05)
    m = re.match(r"'(?P<op>[<>]=?)' not supported between instances of '(?P<a>\w+)' and '(?P<b>\w+)'", msg)
    if m and "NoneType" in (m.group("a"), m.group("b")):
        yield from _none_guard_for_compare(ctx)


def _none_guard_for_compare(ctx: Context) -> Iterator[Proposal]:
    site = _site(ctx)
    if site is None:
        return
    src, lineno = site[0], site[1]
    spans = Spans(src)
    for node in ast.walk(site[3]):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Name):
                    yield from _guard(ctx, f"{side.id} is None", [("None", 1.8)], "none.guard", f"{side.id} can be None")
                    if node.lineno == lineno:
                        # `if n > largest:` where largest starts as None: the first value wins
                        cmp = spans.seg(node)
                        for new, why in ((f"({side.id} is None or {cmp})", "holds while nothing is there yet"),
                                         (f"({side.id} is not None and {cmp})", "only once there is something")):
                            yield Proposal("none.compare", f"{side.id} can be None: the comparison {why}", src.path,
                                           spans.sub(node, new), 2.2)


def _reshaped(ctx: Context) -> Iterator[Proposal]:
    """Calls and containers reshaped (brain/offline/reshape_fixes.py) at the failing statement."""
    site = _site(ctx)
    if site is None:
        return
    src, lineno, _line, stmt = site
    msg, kind = ctx.exc.message, ctx.exc.type
    fixes: list[Iterator[reshape_fixes.Fix]] = []
    if kind == "TypeError":
        fixes += [reshape_fixes.missing_argument(src, lineno, stmt, msg), reshape_fixes.extra_arguments(src, lineno, stmt, msg)]
    if kind == "KeyError":
        fixes.append(reshape_fixes.augmented_missing_key(src, lineno, stmt))
    if kind in ("AttributeError", "TypeError"):
        fixes.append(reshape_fixes.none_initialize(src, lineno, stmt, msg))
    for found in fixes:
        for fix in found:
            yield Proposal(fix.rule, fix.rationale, src.path, fix.new_text, fix.score)


def _value_fixes(ctx: Context) -> Iterator[Proposal]:
    lc = _line_ctx(ctx)
    if lc is None:
        return
    src, lineno, line = lc
    if "invalid literal for int()" in ctx.exc.message:
        for m in re.finditer(r"(?<![\w.])int\((?P<arg>[^()]+)\)", line):
            arg = m.group("arg")
            yield Proposal("value.int-of-float", "the text holds a decimal: parse it as float first", src.path,
                           src.replace_line(lineno, line.replace(m.group(0), f"int(float({arg}))", 1)), 2.4)
            yield Proposal("value.int-strip", "strip surrounding whitespace before int()", src.path,
                           src.replace_line(lineno, line.replace(m.group(0), f"int({arg}.strip())", 1)), 2.2)


# --------------------------------------------------------------------------- syntax errors


_COMPOUND = re.compile(r"^\s*(if|elif|else|for|while|def|class|try|except|finally|with|async def|async for|async with|match|case)\b")


def _syntax_fixes(ctx: Context) -> Iterator[Proposal]:
    src = ctx.src
    exc = ctx.exc
    if src is None or not exc.syntax_line:
        return
    n = exc.syntax_line
    msg = exc.message
    for lineno, base in ((n, 3.0), (n - 1, 2.0)):
        line = src.line(lineno)
        if not line.strip():
            continue
        body = line.rstrip("\n").rstrip()
        nl = "\n" if line.endswith("\n") else ""
        code, _, comment = body.partition("  #")
        if _COMPOUND.match(code) and not code.endswith(":"):
            fixed = code + ":" + (f"  #{comment}" if comment else "") + nl
            yield Proposal("syntax.missing-colon", "a compound statement needs a ':'", src.path,
                           src.replace_line(lineno, fixed), base + (1 if "expected ':'" in msg else 0))
        for opener, closer in (("(", ")"), ("[", "]"), ("{", "}")):
            if body.count(opener) > body.count(closer):
                yield Proposal("syntax.close-bracket", f"close the '{opener}'", src.path,
                               src.replace_line(lineno, body + closer * (body.count(opener) - body.count(closer)) + nl),
                               base + (1 if "never closed" in msg else 0))
            if body.count(closer) > body.count(opener):
                idx = body.rfind(closer)
                yield Proposal("syntax.extra-bracket", f"remove the unmatched '{closer}'", src.path,
                               src.replace_line(lineno, body[:idx] + body[idx + 1:] + nl), base)
        cond = re.match(r"^(\s*(?:if|elif|while)\s+.*?[^=!<>])=([^=].*:)\s*$", body)
        if cond:
            yield Proposal("syntax.assign-in-condition", "compare with '==' in a condition", src.path,
                           src.replace_line(lineno, f"{cond.group(1)}=={cond.group(2)}{nl}"), base + 0.5)
        pm = re.match(r"^(\s*)print\s+(?!\()(.+)$", body)
        if pm:
            yield Proposal("syntax.print-call", "print is a function", src.path,
                           src.replace_line(lineno, f"{pm.group(1)}print({pm.group(2)}){nl}"), base + 0.5)
        for q in ('"', "'"):
            if body.count(q) % 2 == 1 and "unterminated string" in msg:
                yield Proposal("syntax.close-string", "close the string literal", src.path,
                               src.replace_line(lineno, body + q + nl), base + 0.5)
    if exc.type in ("IndentationError", "TabError"):
        yield from _indent_fixes(src, n, msg)


def _indent_fixes(src: SourceFile, n: int, msg: str) -> Iterator[Proposal]:
    line = src.line(n)
    prev = next((src.line(k) for k in range(n - 1, 0, -1) if src.line(k).strip()), "")
    content = line.lstrip(" \t")
    prev_ind = indent_of(prev).replace("\t", "    ")
    options: list[tuple[str, float]] = []
    if "expected an indented block" in msg:
        options.append((prev_ind + "    ", 3.5))
    if "unexpected indent" in msg or "unindent does not match" in msg or "inconsistent" in msg:
        options.append((prev_ind, 3.2))
        levels = sorted({indent_of(x).replace("\t", "    ") for x in src.lines[: n - 1] if x.strip()}, key=len)
        for lvl in reversed(levels):
            if len(lvl) < len(indent_of(line).replace("\t", "    ")):
                options.append((lvl, 3.0))
                break
    for ind, score in options:
        yield Proposal("syntax.indent", "fix the indentation", src.path, src.replace_line(n, ind + content), score)
    if "\t" in line:
        yield Proposal("syntax.tabs", "indent with spaces", src.path, src.replace_line(n, line.replace("\t", "    ")), 2.5)


# --------------------------------------------------------------------------- registry

_RULES: dict[str, list[Callable[[Context], Iterator[Proposal]]]] = {
    "NameError": [_name_closest, _name_import],
    "UnboundLocalError": [_unbound_local],
    "AttributeError": [_attribute_closest, _none_guard, _reshaped],
    "ImportError": [_import_closest],
    "ModuleNotFoundError": [_import_closest],
    "KeyError": [_key_fixes, _reshaped],
    "IndexError": [_index_fixes],
    "ZeroDivisionError": [_zero_division],
    "TypeError": [_type_fixes, _none_guard, _reshaped],
    "ValueError": [_value_fixes],
    "SyntaxError": [_syntax_fixes],
    "IndentationError": [_syntax_fixes],
    "TabError": [_syntax_fixes],
}

# Templates that edit another file than the failing frame's (which may not be editable).
_ELSEWHERE: dict[str, list[Callable[[Context], Iterator[Proposal]]]] = {
    "ImportError": [_provide_name],
}
