"""The command: ``linecount FILE...`` prints each function's span and its first statement."""

from __future__ import annotations

import argparse
import ast
import sys
import traceback


def spans(source: str) -> list[tuple[str, int, int]]:
    """(name, lines spanned, line of the first statement after the docstring) per function."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((node.name, node.end_lineno - node.lineno + 1, _first_statement(node)))
    return out


def _first_statement(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        return body[1].lineno  # the docstring is not a statement of the function
    return body[0].lineno


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linecount")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            for name, lines, first in spans(source):
                print(f"{path}:{first}: {name} spans {lines} lines")
        except SyntaxError as exc:
            print(f"{path}: not Python ({exc.msg})", file=sys.stderr)
            status = 1
        except Exception:
            print(f"linecount crashed on {path}; please report it:", file=sys.stderr)
            traceback.print_exc()
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
