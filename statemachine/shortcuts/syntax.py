"""A call's or an attribute's dotted name (``a.b.c``), read the same way by every family of
shortcut and by preflight (statemachine/preflight.py).
"""

from __future__ import annotations

import ast


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a name or an attribute chain on one (None for anything else)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
