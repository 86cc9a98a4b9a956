"""Crash templates for a name that is not there: NameError (a misspelt name, a missing import of
the standard library or the project) and UnboundLocalError (a global or nonlocal declaration, a
first value).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator

from brain.offline.proposal import Context, Proposal, close_matches, failing_line, quoted, sub_word
from brain.source import builtin_names, function_names, indent_of
from brain.stdlib_names import FROM_IMPORTS, UNSAFE_STDLIB


def name_closest(ctx: Context) -> Iterator[Proposal]:
    names = quoted(ctx.exc.message)
    lc = failing_line(ctx)
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
    for name, ratio in close_matches(missing, scope):
        fixed = sub_word(line, missing, name)
        if fixed != line:
            yield Proposal("name.closest", f"'{missing}' is not defined; use '{name}'", src.path,
                           src.replace_line(lineno, fixed), 3 + ratio)
        if func is not None:
            start, end = func.lineno, func.end_lineno or func.lineno
            text = "".join(sub_word(x, missing, name) if start <= i + 1 <= end else x for i, x in enumerate(src.lines))
            yield Proposal("name.closest-function", f"'{missing}' is not defined; use '{name}' throughout {func.name}()",
                           src.path, text, 2.5 + ratio)


def name_import(ctx: Context) -> Iterator[Proposal]:
    names = quoted(ctx.exc.message)
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


def unbound_local(ctx: Context) -> Iterator[Proposal]:
    names = quoted(ctx.exc.message)
    lc = failing_line(ctx)
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


