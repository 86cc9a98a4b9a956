"""Operators inside regular expressions."""

from __future__ import annotations

import ast
import re

from brain.offline import mutate
from brain.offline.regex_ops import at_statement
from brain.source import SourceFile

ENTITIES = '''import re

ENTITY = re.compile(r"&([^;]+;)")


def unescape(text):
    return ENTITY.sub(lambda m: {"&amp;": "&", "&lt;": "<"}.get(m.group(0), m.group(0)), text)


def words(text):
    return re.findall("[a-z]+", text)
'''


def mutants(src: SourceFile, line: int) -> dict[str, str]:
    stmt = src.statement_at(line)
    return {e.new_text: e.rule for e in at_statement(src, stmt)}


def pattern_of(text: str) -> str:
    return re.search(r'ENTITY = re.compile\((r?"[^"]*")\)', text).group(1)


def test_a_character_class_gains_a_character_the_pattern_uses_elsewhere():
    """The real fix of an html-entity bug: ``&([^;]+;)`` -> ``&([^&;]+;)``."""
    src = SourceFile("ent.py", ENTITIES)
    found = mutants(src, 7)  # the .sub() line uses the module-level compiled pattern
    fixed = ENTITIES.replace('r"&([^;]+;)"', 'r"&([^&;]+;)"')
    assert found.get(fixed) == "regex.class-add"
    patterns = {pattern_of(t) for t in found}
    assert 'r"&([^;]*;)"' in patterns and 'r"&([^;]+?;)"' in patterns  # quantifiers
    assert 'r"^&([^;]+;)"' in patterns and 'r"&([^;]+;)$"' in patterns  # anchors
    for text in found:
        ast.parse(text)  # every mutant is valid Python
        re.compile(ast.literal_eval(pattern_of(text)))  # and a valid regex


def test_a_literal_in_a_re_call_on_the_line_is_mutated_and_written_raw():
    src = SourceFile("ent.py", ENTITIES)
    found = mutants(src, 11)
    assert ENTITIES.replace('"[a-z]+"', 'r"[a-z]*"') in found
    assert ENTITIES.replace('"[a-z]+"', 'r"[\\-a-z]+"') not in found  # nothing outside the class to add


def test_alternation_order_and_escapes():
    src = SourceFile("m.py", 'import re\n\n\ndef kind(s):\n    return re.match(r"(ab|a)c.d", s)\n')
    found = {pattern for pattern in (re.search(r're.match\((r"[^"]*")', t).group(1) for t in mutants(src, 5))}
    assert 'r"(a|ab)c.d"' in found and 'r"(ab|a)c\\.d"' in found and 'r"(ab)c.d"' in found


def test_mutate_offers_regex_edits_at_a_suspicious_line():
    src = SourceFile("ent.py", ENTITIES)
    func = src.enclosing_function(7)
    rules = {m.rule for m in mutate.at_line(src, 7, func)}
    assert "regex.class-add" in rules and "regex.quantifier" in rules
