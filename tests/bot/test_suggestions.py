"""Mapping a verified fix onto a PR diff: suggestions where GitHub allows them, a diff elsewhere."""

from __future__ import annotations

import difflib

from bot.suggestions import change_blocks, hunk_ranges, plan_review, suggestion_body


def udiff(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{path}", f"b/{path}"))


BASE = "".join(f"line {i}\n" for i in range(1, 41))


def test_a_replacement_inside_the_pr_diff_becomes_one_suggestion_on_its_lines():
    fix = udiff("m.py", BASE, BASE.replace("line 10\nline 11\n", "LINE 10\n"))
    plan = plan_review(fix, {"m.py": "@@ -5,10 +5,12 @@ ctx\n"})
    assert plan.outside == []
    (c,) = plan.comments
    assert (c["path"], c["start_line"], c["line"], c["side"]) == ("m.py", 10, 11, "RIGHT")
    assert c["body"] == "```suggestion\nLINE 10\n```"


def test_an_insertion_is_anchored_on_the_line_before_and_repeats_it():
    fix = udiff("m.py", BASE, BASE.replace("line 20\n", "line 20\nnew\n"))
    (block,) = change_blocks(fix)
    assert (block.start, block.end, block.new_lines) == (20, 20, ("line 20\n", "new\n"))
    (c,) = plan_review(fix, {"m.py": "@@ -18,5 +18,5 @@\n"}).comments
    assert "start_line" not in c and c["line"] == 20


def test_an_insertion_at_the_top_of_a_file_anchors_on_the_next_line():
    fix = udiff("m.py", BASE, "import os\n" + BASE)
    (block,) = change_blocks(fix)
    assert (block.start, block.new_lines) == (1, ("import os\n", "line 1\n"))


def test_a_deletion_is_an_empty_suggestion():
    fix = udiff("m.py", BASE, BASE.replace("line 30\n", ""))
    (c,) = plan_review(fix, {"m.py": "@@ -28,4 +28,4 @@\n"}).comments
    assert c["line"] == 30 and c["body"] == "```suggestion\n```"


def test_hunks_outside_the_pr_diff_go_to_the_body_whole():
    fix = udiff("m.py", BASE, BASE.replace("line 3\n", "LINE 3\n").replace("line 35\n", "LINE 35\n"))
    plan = plan_review(fix, {"m.py": "@@ -1,6 +1,6 @@\n"})
    assert [c["line"] for c in plan.comments] == [3]
    (outside,) = plan.outside
    assert "-line 35" in outside and "+LINE 35" in outside and outside.startswith("--- a/m.py")


def test_a_block_straddling_the_end_of_a_pr_hunk_is_not_suggested():
    fix = udiff("m.py", BASE, BASE.replace("line 9\nline 10\nline 11\n", "X\n"))
    plan = plan_review(fix, {"m.py": "@@ -1,10 +1,10 @@\n"})  # right side lines 1-10 only
    assert plan.comments == [] and len(plan.outside) == 1


def test_files_the_pr_does_not_touch_are_outside():
    fix = udiff("other.py", BASE, BASE.replace("line 2\n", "LINE 2\n"))
    plan = plan_review(fix, {"m.py": "@@ -1,6 +1,6 @@\n"})
    assert plan.comments == [] and len(plan.outside) == 1


def test_hunk_ranges_read_githubs_patch_headers():
    assert hunk_ranges("@@ -1,3 +1,4 @@ def f():\n x\n@@ -50 +51 @@\n y\n@@ -60,2 +62,0 @@\n") == [(1, 4), (51, 51)]


def test_suggestion_fences_grow_when_the_code_has_fences():
    fix = udiff("README.md", "a\n", "```py\nx\n```\n")
    (block,) = change_blocks(fix)
    body = suggestion_body(block)
    assert body.startswith("````suggestion\n```py\n") and body.endswith("\n````")
