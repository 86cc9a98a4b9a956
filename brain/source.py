"""Read-only views of project source for the engines: lines, AST, scopes, names.

Only parsing: no project code is imported or executed on the host.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from functools import cached_property

_WORD = re.compile(r"[A-Za-z_]\w*")


@dataclass
class SourceFile:
    path: str
    text: str
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines(keepends=True)

    @cached_property
    def tree(self) -> ast.Module | None:
        try:
            return ast.parse(self.text)
        except (SyntaxError, ValueError):
            return None

    def line(self, n: int) -> str:
        return self.lines[n - 1] if 1 <= n <= len(self.lines) else ""

    def replace_line(self, n: int, new: str | list[str]) -> str:
        """The file's text with line ``n`` replaced by ``new`` (one or several lines)."""
        new_lines = [new] if isinstance(new, str) else new
        fixed = [x if x.endswith("\n") else x + "\n" for x in new_lines]
        if n == len(self.lines) and not self.lines[-1].endswith("\n") and fixed:
            fixed[-1] = fixed[-1][:-1]
        return "".join(self.lines[: n - 1] + fixed + self.lines[n:])

    def insert_before(self, n: int, new_lines: list[str]) -> str:
        return "".join(self.lines[: n - 1] + [x if x.endswith("\n") else x + "\n" for x in new_lines] + self.lines[n - 1:])

    @cached_property
    def _nodes(self) -> tuple[list[ast.stmt], list[ast.FunctionDef | ast.AsyncFunctionDef], list[ast.ClassDef]]:
        """Statements, functions and classes, walked once: the engines ask for them per
        suspicious line, and a walk of a 3,000-line module per question dominated generation."""
        stmts: list[ast.stmt] = []
        funcs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        classes: list[ast.ClassDef] = []
        if self.tree is not None:
            for node in ast.walk(self.tree):
                if isinstance(node, ast.stmt):
                    stmts.append(node)
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        funcs.append(node)
                    elif isinstance(node, ast.ClassDef):
                        classes.append(node)
        return stmts, funcs, classes

    def statement_at(self, lineno: int) -> ast.stmt | None:
        """The innermost statement that contains ``lineno``."""
        best = None
        for node in self._nodes[0]:
            if node.lineno <= lineno <= (node.end_lineno or node.lineno):
                if best is None or (node.lineno, -(node.end_lineno or 0)) >= (best.lineno, -(best.end_lineno or 0)):
                    best = node
        return best

    def enclosing_function(self, lineno: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        best = None
        for node in self._nodes[1]:
            if node.lineno <= lineno <= (node.end_lineno or node.lineno):
                if best is None or node.lineno > best.lineno:
                    best = node
        return best

    def enclosing_class(self, lineno: int) -> ast.ClassDef | None:
        """The first class (in walk order) whose lines hold ``lineno``."""
        return next((c for c in self._nodes[2] if c.lineno <= lineno <= (c.end_lineno or c.lineno)), None)

    def body_start(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
        """Line number of the function's first statement after its docstring."""
        body = func.body
        first = body[0] if body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str) \
                and len(body) > 1:
            return body[1].lineno
        return body[0].lineno

    def module_names(self) -> set[str]:
        """Names bound at module level: defs, classes, assignments, imports."""
        names: set[str] = set()
        if self.tree is None:
            return names
        for node in self.tree.body:
            names |= bound_names(node)
        return names

    def first_code_line(self) -> int:
        """Where a new import goes: after the docstring, __future__ imports and existing imports."""
        if self.tree is None or not self.tree.body:
            return 1
        line = 1
        for node in self.tree.body:
            if (isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant) and node is self.tree.body[0]) or isinstance(node, ast.Import | ast.ImportFrom):
                line = (node.end_lineno or node.lineno) + 1
            else:
                break
        return line


def bound_names(node: ast.AST) -> set[str]:
    names: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        names.add(node.name)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            names.add((alias.asname or alias.name).split(".")[0])
    else:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(sub.name)
    return names


def function_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Parameters and local bindings of a function (not of nested functions)."""
    args = func.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    for stmt in func.body:
        names |= bound_names(stmt)
    return names


def builtin_names() -> set[str]:
    return {n for n in dir(builtins) if not n.startswith("_")}


def words(text: str) -> set[str]:
    return set(_WORD.findall(text))


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def segment(source: SourceFile, node: ast.AST) -> str | None:
    return ast.get_source_segment(source.text, node)


def normalized(text: str) -> str:
    """A form that ignores formatting and comments, for deduplication."""
    try:
        return ast.dump(ast.parse(text), include_attributes=False)
    except (SyntaxError, ValueError):
        return "\n".join(x.rstrip() for x in text.splitlines() if x.strip())


class Spans:
    """Span edits on the original text by AST positions (columns are UTF-8 byte offsets)."""

    def __init__(self, src: SourceFile) -> None:
        self.src = src
        self.data = src.text.encode("utf-8")
        self.starts = [0]
        for m in re.finditer(rb"\r\n|\r|\n", self.data):
            self.starts.append(m.end())

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def seg(self, node: ast.AST) -> str:
        a, b = self.span(node)
        return self.data[a:b].decode("utf-8")

    def between(self, left: ast.AST, right: ast.AST) -> tuple[int, int]:
        return self.span(left)[1], self.span(right)[0]

    def replace(self, a: int, b: int, new: str) -> str:
        return (self.data[:a] + new.encode("utf-8") + self.data[b:]).decode("utf-8")

    def sub(self, node: ast.AST, new: str) -> str:
        return self.replace(*self.span(node), new)


# Binary operators as written, for operators that rewrite them (brain/offline/mutate.py, brain/offline/slips.py).
BIN_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
               ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>"}
