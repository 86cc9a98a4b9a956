"""Commands, comment input and .github/pve.yml: pure decisions, clear words."""

from __future__ import annotations

import pytest

from bot.commands import has_failure, input_text, parse_command
from bot.repoconfig import ConfigError, RepoConfig, parse


@pytest.mark.parametrize("body, verb, arg, problem", [
    ("/pve verify", "verify", None, None),
    ("/PVE Verify tests/test_x.py::test_y\nmore text", "verify", "tests/test_x.py::test_y", None),
    ("  /pve verify tests/test_x.py::test_p[1-2]", "verify", "tests/test_x.py::test_p[1-2]", None),
    ("/pve help", "help", None, None),
    ("/pve", "help", None, None),
    ("/pve verify a b", "verify", None, "at most one"),
    ("/pve verify --rootdir=/", "verify", None, "not a path or test id"),
    ("/pve verify ../secrets.py", "verify", None, "not a path or test id"),
    ("/pve verify $(reboot)", "verify", None, "not a path or test id"),
    ("/pve deploy", "deploy", None, "unknown command"),
    ("/pvefoo verify", "", None, "not a /pve command"),
])
def test_parse_command(body, verb, arg, problem):
    cmd = parse_command(body)
    assert (cmd.verb, cmd.arg) == (verb, arg)
    assert (problem is None) == (cmd.problem is None) and (problem is None or problem in cmd.problem)


def test_input_keeps_only_the_parts_with_a_failure_comment_first_newest_comment_next():
    tb = "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nValueError: {}\n"
    text = input_text(tb.format("comment"), "Please help " + tb.format("issue"),
                      ["thanks!", tb.format("old"), tb.format("new")])
    assert [line for line in text.splitlines() if line.startswith("ValueError")] == [
        "ValueError: comment", "ValueError: issue", "ValueError: new", "ValueError: old"]
    assert "thanks!" not in text


def test_a_pasted_actions_log_with_timestamps_and_colours_counts_as_a_failure():
    assert has_failure("2026-11-20T16:19:59.0039730Z \x1b[31mFAILED\x1b[0m tests/test_core.py::\x1b[1mtest_mean\x1b[0m - E")
    assert has_failure("\x1b[31m\x1b[1m______ test_mean ______\x1b[0m")
    assert not has_failure("It fails, see CI.")


def test_an_absent_or_empty_config_is_the_defaults():
    assert parse(None) == RepoConfig() == parse("") == parse("# nothing\n")
    cfg = parse(None)
    assert cfg.allow.by_association("MEMBER") and not cfg.allow.by_association("CONTRIBUTOR")
    assert cfg.allow.by_permission("maintain") and not cfg.allow.by_permission("triage")


def test_a_full_config_is_read():
    cfg = parse("triggers: {ci: false}\nallow: {associations: [OWNER], permission: admin}\ntests: [tests/unit]\n"
                "ignore: ['docs/**', vendor/]\ncandidates: 20\ntimeout: 5\nmax_failures: 2\n")
    assert cfg.triggers.comment and not cfg.triggers.ci
    assert cfg.allow.associations == ["OWNER"] and not cfg.allow.by_permission("write")
    assert (cfg.tests, cfg.ignore, cfg.candidates, cfg.timeout, cfg.max_failures) == (
        ["tests/unit"], ["docs/**", "vendor/"], 20, 5, 2)


@pytest.mark.parametrize("text, words", [
    ("candidates: [1\n", "not valid YAML at line"),
    ("- a\n- b\n", "must be a mapping"),
    ("candidates: 0\n", "`candidates`: Input should be greater than or equal to 1"),
    ("timeout: 100000\n", "`timeout`"),
    ("allow: {permission: root}\n", "`allow.permission`"),
    ("tests: [../outside]\n", "must be a path inside the repository"),
    ("triggers: {comments: true}\n", "`triggers.comments`: unknown setting"),
    ("install: pip install -e .\n", "`install`: Input should be a valid dictionary"),
    ("install: {files: [/etc/passwd]}\n", "must be a path inside the repository"),
    ("install: {packages: ['--index-url=http://evil']}\n", "is not a requirement"),
    ("install: {extras: ['a b']}\n", "is not an extra or group name"),
    ("install: {command: [make]}\n", "`install.command`: unknown setting"),
])
def test_a_broken_config_says_what_to_change(text, words):
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert words in str(err.value)


def test_the_install_section_is_read():
    cfg = parse("install:\n  files: [requirements/ci.txt]\n  extras: [test]\n  packages: [numpy>=2]\n"
                "  commands: ['make generated']\n")
    assert cfg.install is not None
    assert (cfg.install.files, cfg.install.extras, cfg.install.packages, cfg.install.commands, cfg.install.editable) == (
        ["requirements/ci.txt"], ["test"], ["numpy>=2"], ["make generated"], None)
    assert parse("tests: [tests/]\n").install is None


def test_a_code_block_without_the_traceback_follows_the_parts_with_one_under_the_title():
    tb = "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nValueError: x\n"
    code = "To reproduce:\n\n```python\nimport tablekit\ntablekit.Table(['a']).column('a')\n```\n"
    text = input_text("/pve verify", code, [tb, "+1, same here"], title="column() crashes")
    assert text.startswith("# column() crashes\n\n" + tb)
    assert text.index("ValueError: x") < text.index("import tablekit")
    assert "+1" not in text
    assert input_text("/pve verify", code, ["+1"], title="t") == ""  # no failure anywhere: nothing to verify


def test_a_fork_s_workflow_run_is_known_as_one():
    """A fork's pull request's CI run: its code (and declarations) are the fork's, so its
    environment is built apart (sandbox/environments.py: tenant_of)."""
    from bot.triggers import FailedWorkflowRun
    from tests.github_payloads import failed_workflow_run

    payload = failed_workflow_run()
    own = FailedWorkflowRun.parse(payload)
    assert own.head_repo == payload["workflow_run"]["head_repository"]["full_name"] and own.fork is None
    payload["workflow_run"]["head_repository"]["full_name"] = "mallory/" + own.repo.full_name.split("/")[1]
    assert FailedWorkflowRun.parse(payload).fork == payload["workflow_run"]["head_repository"]["full_name"]
