"""Crash templates for a name missing from an object or a module: AttributeError (the closest
attribute, a guard for None) and ImportError (the closest name or module; or, when the importer is
right, the name provided by the module imported).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator

from brain.offline.proposal import Context, Proposal, close_matches, failing_line, guard, sub_word
from brain.source import SourceFile, segment
from brain.stdlib_names import UNSAFE_STDLIB


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


def attribute_closest(ctx: Context) -> Iterator[Proposal]:
    lc = failing_line(ctx)
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
    for name, ratio in close_matches(attr, options):
        fixed = sub_word(line, attr, name, attribute=True)
        if fixed != line:
            yield Proposal("attribute.closest", f"no attribute '{attr}'; use '{name}'", src.path,
                           src.replace_line(lineno, fixed), 3 + ratio)


def none_guard(ctx: Context) -> Iterator[Proposal]:
    """'NoneType' object has no attribute / is not subscriptable / is not iterable."""
    if "NoneType" not in ctx.exc.message:
        return
    lc = failing_line(ctx)
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
        yield from guard(ctx, f"{text} is None", [("None", 2.4 - i * 0.1)], "none.guard", f"{text} can be None")
        if "iterable" in ctx.exc.message:
            fixed = line.replace(f"in {text}", f"in ({text} or [])", 1)
            if fixed != line:
                yield Proposal("none.iterate-empty", f"iterate over nothing when {text} is None", src.path,
                               src.replace_line(lineno, fixed), 2.5)


def import_closest(ctx: Context) -> Iterator[Proposal]:
    lc = failing_line(ctx)
    if lc is None:
        return
    src, lineno, line = lc
    m = re.match(r"cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'", ctx.exc.message)
    if m:
        for name, ratio in close_matches(m.group("name"), _module_names_of(ctx, m.group("module"))):
            fixed = sub_word(line, m.group("name"), name)
            if fixed != line:
                yield Proposal("import.closest-name", f"{m.group('module')} has no '{m.group('name')}'; use '{name}'",
                               src.path, src.replace_line(lineno, fixed), 3 + ratio)
        return
    m = re.match(r"No module named '(?P<module>[\w.]+)'", ctx.exc.message)
    if m:
        wanted = m.group("module")
        modules = {p[:-3].replace("/", ".").removesuffix(".__init__") for p in ctx.project_files}
        modules |= {x for x in sys.stdlib_module_names if not x.startswith("_")}
        for name, ratio in close_matches(wanted, modules):
            fixed = sub_word(line, wanted, name)
            if fixed != line:
                yield Proposal("import.closest-module", f"no module '{wanted}'; use '{name}'", src.path,
                               src.replace_line(lineno, fixed), 3 + ratio)


def provide_name(ctx: Context) -> Iterator[Proposal]:
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
    for name, ratio in close_matches(wanted, src.module_names()):
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


