"""The GitHub App end to end: a signed delivery in, the right GitHub calls out (real sandboxes,
real githubkit, the local GitHub checked against GitHub's REST description)."""

from __future__ import annotations

import asyncio

import pytest

from bot.render import APPLY_ID, CHECK_NAME
from entrypoints import bootstrap
from store.base import MAX_ATTEMPTS
from tests.app_harness import INSTALLATION, ROOT, Harness, app_env, files_of, for_repo
from tests.github_payloads import comment_on_issue, comment_on_pr, example, failed_workflow_run

pytestmark = pytest.mark.sandbox
STATS = ROOT / "examples" / "stats"
LOG = (STATS / "ci.log").read_text(encoding="utf-8-sig")
GUARDED = (STATS / "stats" / "core.py").read_text().replace(
    "    return total(values) / len(values)", "    if not values:\n        return 0.0\n    return total(values) / len(values)")


def bot_comments(repo):
    return [c["body"] for c in repo.comments.values() if c["user"]["type"] == "Bot"]


def issue_command(gh, repo, body, *, issue_body="", association="OWNER", user="octocat"):
    number = gh.add_issue(repo, "mean([]) crashes", issue_body)
    comment = gh.add_comment(repo, number, body, association=association, user=user)
    payload = for_repo(comment_on_issue(body, association), repo.full_name)
    payload["issue"].update(number=number, body=issue_body)
    payload["issue"].pop("pull_request", None)
    payload["comment"].update(id=comment["id"], user={**payload["comment"]["user"], "login": user})
    return payload


def pr_with_bug(gh):
    """Main has the guard; the PR removes it (so the bug is inside the PR's diff)."""
    files = files_of(STATS)
    repo = gh.add_repo("octo/stats", {**files, "stats/core.py": GUARDED}, installation=INSTALLATION)
    pull = gh.add_pull(repo, "Simplify mean", files, branch="simplify")
    return repo, pull


def pr_command(gh, repo, pull, body, association="OWNER"):
    comment = gh.add_comment(repo, pull["number"], body, association=association)
    payload = for_repo(comment_on_pr(body, association), repo.full_name)
    payload["issue"].update(number=pull["number"], body="")
    payload["comment"]["id"] = comment["id"]
    return payload


# --------------------------------------------------------------------------- /pve verify


def test_verify_on_an_issue_opens_a_fix_pr_and_replies_once(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    payload = issue_command(gh, repo, "/pve verify", issue_body=f"CI fails:\n\n```\n{LOG}\n```")
    number = payload["issue"]["number"]

    harness.run("issue_comment", payload)

    (body,) = bot_comments(repo)
    assert "Verified fix" in body and "ZeroDivisionError" in body and "49 of 50" in body, body
    (reply,) = [c for c in repo.comments.values() if c["user"]["type"] == "Bot"]
    assert reply["history"][0].startswith("⏳ PVE is verifying issue #")  # then edited as it progressed
    assert any("> Reproducing in sandbox" in b and "[FAILED as reported" in b for b in reply["history"])
    assert [r["content"] for r in repo.reactions] == ["eyes"]
    (pr,) = [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
    assert f"Fixes #{number}" in pr["body"] and "PVE EXECUTION PROOF" in pr["body"]
    assert pr["html_url"] in body
    fixed = repo.files_at(pr["head"]["ref"])["stats/core.py"]
    assert "if not values" in fixed and fixed != repo.files_at("main")["stats/core.py"]
    (run,) = repo.check_runs.values()
    assert (run["name"], run["status"], run["conclusion"]) == (CHECK_NAME, "completed", "success")
    assert run["annotations"] and run["annotations"][0]["path"] == "stats/core.py"
    assert "PVE EXECUTION PROOF" in run["output"]["text"] and "oracle" in run["output"]["summary"].lower()
    assert run["actions"] == []  # an issue's fix is already a PR: nothing to apply
    assert harness.store.quota(INSTALLATION, 50).used == 1
    (session,) = harness.store.recent_sessions()  # its page links where it came from
    assert session.origin is not None and (session.origin.repo, session.origin.issue) == ("octo/stats", number)
    assert session.origin.sha == run["head_sha"] and session.origin.pull is None

    # The same job again (a retry after a crash): nothing new on GitHub, no second credit.
    job = harness.store.jobs()[0]
    harness.store._conn().execute("UPDATE jobs SET status = 'queued', run_after = 0 WHERE id = ?", (job.id,))
    asyncio.run(harness.drain())
    assert len(bot_comments(repo)) == 1
    assert len([p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]) == 1
    assert len(repo.check_runs) == 1
    assert harness.store.quota(INSTALLATION, 50).used == 1


REPORTS = [  # (example, the issue's text, the file the fix edits, what the reply says it read, verified?)
    # tablekit's column() fails on every call and pairs has no tests: no test that passed before can
    # run the fix, so it is plausible, not verified: a neutral check run, no fix pull request
    ("tablekit", "report.md", "src/tablekit/table.py", "reproducing with the report's code block 1", False),
    ("tablekit", "report_repl.md", "src/tablekit/table.py", "matched src/tablekit/table.py column by its code", False),
    # the shapes of real reports (issue benchmark): an IPython session, a pytest test and its
    # E-lines, a Python 2 script using an unimported standard-library name, a command-line
    # tool's crash report with the command and its input file
    ("tablekit", "report_ipython.md", "src/tablekit/table.py", "reproducing with the report's code block 1", False),
    ("tablekit", "report_test.md", "src/tablekit/table.py", "is a test module: pytest runs it", False),
    ("tablekit", "report_py2.md", "src/tablekit/table.py", "added from random import randint", False),
    ("tablekit", "report_frames.md", "src/tablekit/table.py", "the reproduction is the traceback's own line", False),
    ("linecount", "report.md", "linecount/cli.py", "wrote stub.py from code block 1", False),
    ("pairs", "error.log", "pairs.py", None, False),
    ("calc", "ci.log", "calc.py", None, True),
]


@pytest.mark.parametrize("example, report, fixed, said, verified", REPORTS, ids=[f"{r[0]}:{r[1]}" for r in REPORTS])
def test_verify_on_a_bug_report_as_people_write_them(harness, example, report, fixed, said, verified):
    """A report pasted into an issue (code block + installed copy's traceback, a REPL transcript,
    a script's traceback, a unittest CI log) is reproduced and fixed from the issue alone."""
    gh = harness.github
    project = ROOT / "examples" / example
    repo = gh.add_repo(f"octo/{example}", files_of(project), installation=INSTALLATION)
    text = (project / report).read_text(encoding="utf-8")
    payload = issue_command(gh, repo, "/pve verify", issue_body=text if report.endswith(".md") else f"```\n{text}\n```")

    harness.run("issue_comment", payload)

    (body,) = bot_comments(repo)
    assert said is None or said in body, body
    assert "/home/" not in body and "--" not in body.split("[Session")[0].split("```diff")[0]  # no host path, no CLI flag
    (run,) = repo.check_runs.values()
    if not verified:
        assert "Plausible, not verified" in body and "This is not a verified fix" in body, body
        assert f"+++ b/{fixed}" in body  # the candidate is shown, as a lead
        assert run["conclusion"] == "neutral" and run["output"]["title"] == "Plausible, not verified"
        assert not repo.pulls and "Verified" not in body.replace("not verified", "")
        return
    assert "Verified fix" in body, body
    assert run["conclusion"] == "success"
    (pr,) = [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
    changed = {path for path, text in repo.files_at(pr["head"]["ref"]).items() if repo.files_at("main").get(path) != text}
    assert changed == {fixed}  # the fix, and never the reproduction PVE wrote from the report


def env_harness(tmp_path, github, app_key, wheel_store) -> Harness:
    """``pve serve`` building environments from the local wheel folder (no registry)."""
    base, wheels = wheel_store
    env = app_env(tmp_path / "pve-home", github, app_key[0], PVE_PROGRESS_SECONDS="0.2", PVE_FIND_LINKS=str(wheels),
                  PVE_ENV_NETWORK="0", PVE_ENV_DIR=str(base / "app-envs"))
    service = bootstrap.github_service(env)
    service.runtime.bot_login = f"{github.slug}[bot]"
    return Harness(github, service.runtime.store, service.runtime, service.web)


def test_a_repository_with_dependencies_gets_its_environment_once(tmp_path, github, app_key, wheel_store):
    """Two issues on a repository with requirements: the environment is built for the first and
    found by key for the second; both fixes run with the dependency installed."""
    base, _wheels = wheel_store
    h = env_harness(tmp_path, github, app_key, wheel_store)
    repo = github.add_repo("octo/shades", {
        "requirements.txt": "colorlib==1.0\n",
        "shade.py": "import colorlib\n\n\ndef ratio(parts):\n    return len(colorlib.favourite()) / len(parts)\n",
        "tests/test_shade.py": "from shade import ratio\n\n\ndef test_ratio():\n    assert ratio(['a']) == 3\n"},
        installation=INSTALLATION)
    log = ("Traceback (most recent call last):\n  File \"/home/dev/shades/app.py\", line 3, in <module>\n    ratio([])\n"
           "  File \"/home/dev/shades/shade.py\", line 5, in ratio\n    return len(colorlib.favourite()) / len(parts)\n"
           "ZeroDivisionError: division by zero\n")
    for _ in range(2):
        payload = issue_command(github, repo, "/pve verify", issue_body=f"```python\nfrom shade import ratio\n"
                                                                          f"ratio([])\n```\n\n```\n{log}```")
        h.run("issue_comment", payload)
    bodies = bot_comments(repo)
    assert len(bodies) == 2 and all("Verified fix" in b for b in bodies), bodies
    envs = [s.environment for s in h.store.recent_sessions()]
    assert len(envs) == 2 and all(e is not None and "colorlib==1.0" in e.packages for e in envs)
    assert sorted(e.reused for e in envs) == [False, True] and envs[0].key == envs[1].key
    built = list((base / "app-envs").glob("*/env-*"))
    assert len(built) == 1  # one declaration, one environment
    # in the store of this installation's public repositories (sandbox/environments.py: tenant_of)
    assert built[0].parent.name == f"installation-{INSTALLATION}-public"


def test_dependencies_that_cannot_be_installed_are_said_so(tmp_path, github, app_key, wheel_store):
    h = env_harness(tmp_path, github, app_key, wheel_store)
    repo = github.add_repo("octo/broken", {"requirements.txt": "nosuchpkg==3.1\n", "app.py": "print(1 / 0)\n"},
                           installation=INSTALLATION)
    log = ("Traceback (most recent call last):\n  File \"/srv/app.py\", line 1, in <module>\n    print(1 / 0)\n"
           "ZeroDivisionError: division by zero\n")
    h.run("issue_comment", issue_command(github, repo, "/pve verify", issue_body=f"```\n{log}```"))
    (body,) = bot_comments(repo)
    assert "Could not install the dependencies" in body and "nosuchpkg" in body, body
    assert "/tmp/" not in body and "/envs" not in body  # the installer's reason, no host path
    (run,) = repo.check_runs.values()
    assert run["conclusion"] != "success" and "COULD NOT INSTALL THE DEPENDENCIES" in run["output"]["text"]
    assert h.store.quota(INSTALLATION, 50).used == 0  # no verdict, no credit


def test_verify_on_a_pr_posts_suggestions_and_apply_fix_commits_them(harness):
    gh = harness.github
    repo, pull = pr_with_bug(gh)
    payload = pr_command(gh, repo, pull, "/pve verify tests/test_core.py::test_mean_of_empty_sample_is_zero")

    harness.run("issue_comment", payload)

    (review,) = repo.reviews
    assert review["event"] == "COMMENT" and review["commit_id"] == pull["head"]["sha"]
    assert review["comments"], review["body"]  # the local GitHub already refused lines outside the diff
    assert all("```suggestion" in c["body"] for c in review["comments"])
    assert "Verified fix" in bot_comments(repo)[0]
    (run,) = repo.check_runs.values()
    assert run["conclusion"] == "success"
    assert [a["identifier"] for a in run["actions"]] == [APPLY_ID]
    assert not [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/")]

    # "Apply fix": a fast-forward commit on the PR's own branch.
    click = for_repo(example("check_run", "requested_action"), repo.full_name)
    click["check_run"].update(id=run["id"], external_id=run["external_id"], head_sha=run["head_sha"])
    click["requested_action"] = {"identifier": APPLY_ID}
    before = repo.refs["heads/simplify"]
    harness.run("check_run", click)
    after = repo.refs["heads/simplify"]
    assert after != before and repo.commits[after]["parents"] == [before]
    assert "if not values" in repo.files_at("simplify")["stats/core.py"]
    assert any("Applied PVE's verified fix to `simplify`" in b for b in bot_comments(repo))


def test_rerequested_check_runs_again_as_a_new_run(harness):
    gh = harness.github
    repo, pull = pr_with_bug(gh)
    harness.run("issue_comment", pr_command(gh, repo, pull, "/pve verify tests/test_core.py"))
    (run,) = repo.check_runs.values()
    again = for_repo(example("check_run", "rerequested"), repo.full_name)
    again["check_run"].update(id=run["id"], external_id=run["external_id"], head_sha=run["head_sha"])
    harness.run("check_run", again)
    assert len(repo.check_runs) == 2 and all(r["conclusion"] == "success" for r in repo.check_runs.values())
    assert len(repo.reviews) == 2


# --------------------------------------------------------------------------- who may ask, and the replies that are not fixes


def test_outsiders_get_one_polite_refusal_and_nothing_runs(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    repo.permissions["drive-by"] = "read"
    payload = issue_command(gh, repo, "/pve verify", issue_body=LOG, association="NONE", user="drive-by")
    harness.run("issue_comment", payload)
    (body,) = bot_comments(repo)
    assert body.startswith("Sorry @drive-by")
    assert not repo.reactions and not repo.check_runs and len(repo.pulls) == 0
    assert gh.requests("GET", r"/collaborators/drive-by/permission")


def test_write_permission_is_enough_without_an_association(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    repo.permissions["helper"] = "write"
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=LOG, association="CONTRIBUTOR", user="helper"))
    assert "Verified fix" in bot_comments(repo)[0]


@pytest.mark.parametrize("command, expected", [
    ("/pve help", "`/pve verify`: reproduce the traceback"),
    ("/pve", "`/pve verify`: reproduce the traceback"),
    ("/pve frobnicate", "unknown command `/pve frobnicate`"),
    ("/pve verify ../../etc/passwd", "is not a path or test id inside the repository"),
])
def test_help_and_bad_commands_answer_in_one_comment(harness, command, expected):
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    harness.run("issue_comment", issue_command(gh, repo, command, issue_body=LOG))
    (body,) = bot_comments(repo)
    assert expected in body
    assert not repo.check_runs


def test_no_traceback_says_what_to_paste(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body="It is broken, please fix."))
    (body,) = bot_comments(repo)
    assert "I found no traceback to verify" in body
    assert not repo.check_runs and harness.store.quota(INSTALLATION, 50).used == 0


def test_a_failure_that_does_not_happen_is_not_reproduced_and_costs_nothing(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", {**files_of(STATS), "stats/core.py": GUARDED}, installation=INSTALLATION)
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=LOG))
    (body,) = bot_comments(repo)
    assert "Could not reproduce" in body, body
    (run,) = repo.check_runs.values()
    assert run["conclusion"] == "neutral" and run["actions"] == []
    assert len(repo.pulls) == 0 and harness.store.quota(INSTALLATION, 50).used == 0


def test_input_problems_are_told_without_host_paths_or_cli_flags(harness):
    """A traceback from another project: the comment and check run say so in GitHub's words."""
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    foreign = ('Traceback (most recent call last):\n  File "/home/maria/reports/build.py", line 3, in main\n'
               "    go()\nValueError: bad\n")
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=foreign))
    (body,) = bot_comments(repo)
    (run,) = repo.check_runs.values()
    said = body + run["output"]["summary"]
    assert "the traceback's frames are not in this repository (/home/maria/reports/build.py)" in body, body
    home = str(harness.runtime.settings.home)
    assert home not in said and "checkouts" not in said and "--" not in said.replace("<!--", "").replace("-->", "")
    assert "hint:" not in said and harness.store.quota(INSTALLATION, 50).used == 0


def test_a_repository_that_asks_for_plausible_fixes_gets_a_draft_titled_as_such(harness):
    gh = harness.github
    project = ROOT / "examples" / "pairs"
    repo = gh.add_repo("octo/pairs", {**files_of(project), ".github/pve.yml": "plausible_pull_request: true\n"},
                       installation=INSTALLATION)
    text = (project / "error.log").read_text(encoding="utf-8")
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=f"```\n{text}\n```"))
    (body,) = bot_comments(repo)
    assert "Plausible, not verified" in body and "Draft pull request" in body, body
    (pr,) = repo.pulls.values()
    assert pr["draft"] is True and pr["title"].startswith("Plausible fix, not verified, for #")
    assert "plausible fix, not verified" in pr["body"] and "Fixes #" not in pr["body"]
    (run,) = repo.check_runs.values()
    assert run["conclusion"] == "neutral"


def test_no_verified_fix_suggests_nothing(harness):
    gh = harness.github
    shop = ROOT / "examples" / "shop"
    repo = gh.add_repo("octo/shop", files_of(shop), installation=INSTALLATION)
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=(shop / "pytest.log").read_text()))
    (body,) = bot_comments(repo)
    assert "No fix" in body, body
    assert repo.check_runs and all(r["conclusion"] == "neutral" for r in repo.check_runs.values())
    assert len(repo.pulls) == 0 and harness.store.quota(INSTALLATION, 50).used == 0


def test_quota_exhausted_is_said_and_nothing_runs(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    harness.store.put_installation(INSTALLATION, "octo", daily_credits=0)
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=LOG))
    (body,) = bot_comments(repo)
    assert "daily budget of 0 verified fixes is used up" in body
    assert not repo.check_runs


def test_a_broken_repo_config_gets_a_clear_comment(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", {**files_of(STATS), ".github/pve.yml": "candidates: lots\nmystery: 1\n"},
                       installation=INSTALLATION)
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=LOG))
    (body,) = bot_comments(repo)
    assert "configuration is broken" in body and "`candidates`" in body and "`mystery`: unknown setting" in body
    assert not repo.check_runs


def test_repo_config_can_turn_the_comment_trigger_off(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", {**files_of(STATS), ".github/pve.yml": "triggers:\n  comment: false\n"},
                       installation=INSTALLATION)
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=LOG))
    assert "turned off" in bot_comments(repo)[0]


# --------------------------------------------------------------------------- failing CI


def failed_run_payload(gh, repo, pull, *, fork: bool):
    run_id = gh.next_id()
    job_id = gh.next_id()
    repo.run_jobs[run_id] = [{"id": job_id, "name": "test (3.11)", "conclusion": "failure", "status": "completed"},
                             {"id": gh.next_id(), "name": "lint", "conclusion": "success", "status": "completed"}]
    repo.job_logs[job_id] = ("\ufeff" + LOG).encode()
    payload = for_repo(failed_workflow_run(), repo.full_name)
    payload["workflow_run"].update(id=run_id, head_sha=pull["head"]["sha"], name="CI")
    payload["workflow_run"]["pull_requests"] = [] if fork else [
        {"number": pull["number"], "head": {"sha": pull["head"]["sha"], "ref": pull["head"]["ref"]}}]
    return payload


@pytest.mark.parametrize("fork", [False, True])
def test_failed_ci_on_a_pr_gets_suggestions(harness, fork):
    gh = harness.github
    repo, pull = pr_with_bug(gh)
    harness.run("workflow_run", failed_run_payload(gh, repo, pull, fork=fork))
    (review,) = repo.reviews
    assert review["comments"] and "```suggestion" in review["comments"][0]["body"]
    (body,) = bot_comments(repo)
    assert "tests/test_core.py::test_mean_of_empty_sample_is_zero" in body and "Verified fix" in body
    assert gh.requests("GET", r"/actions/jobs/\d+/logs")
    assert bool(gh.requests("GET", r"/commits/[0-9a-f]+/pulls")) == fork


# --------------------------------------------------------------------------- installations


def test_installation_created_and_deleted_keep_a_profile(harness):
    created = example("installation", "created")
    harness.run("installation", created)
    inst = created["installation"]["id"]
    profile = harness.store.get_installation(inst)
    assert profile["status"] == "active" and profile["daily_credits"] == 50
    assert profile["account"] == created["installation"]["account"]["login"]
    harness.run("installation", {**example("installation", "deleted"), "installation": created["installation"]})
    assert harness.store.get_installation(inst)["status"] == "retired"


# --------------------------------------------------------------------------- GitHub failing


def test_a_transient_github_error_is_retried_and_still_one_comment(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    gh.fail_next[("POST", "issues/create-comment")] = [502]
    assert harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=LOG)) == ["done"]
    (body,) = bot_comments(repo)
    assert "Verified fix" in body
    assert len(gh.requests("POST", r"/issues/\d+/comments$")) == 2  # the 502, then the retry


def test_a_job_that_keeps_failing_ends_failed_and_says_so(harness):
    gh = harness.github
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    gh.fail_next[("GET", "repos/download-tarball-archive")] = [502] * 100
    statuses = harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=LOG), crashes_ok=True)
    assert statuses == ["queued"] * (MAX_ATTEMPTS - 1) + ["failed"]
    (job,) = harness.store.jobs()
    assert job.status == "failed" and "502" in job.error
    (body,) = bot_comments(repo)
    assert "PVE failed on this request after several attempts" in body and "502" in body
    (run,) = repo.check_runs.values()
    assert run["conclusion"] == "neutral" and run["output"]["title"] == "PVE failed"
    assert len(repo.pulls) == 0 and harness.store.quota(INSTALLATION, 50).used == 0


def test_a_fix_pull_request_carries_its_attestation_that_the_published_key_verifies(harness):
    """The repository opts in (``attestations: true``): the fix's commit carries the proof as an
    in-toto attestation; a reader verifies it with an independent DSSE library and nothing but
    the key the web view publishes; replies and the check run name that key."""
    import base64
    import hashlib
    import json

    import httpx
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    gh = harness.github
    repo = gh.add_repo("octo/stats", {**files_of(STATS), ".github/pve.yml": "attestations: true\n"},
                       installation=INSTALLATION)
    harness.run("issue_comment", issue_command(gh, repo, "/pve verify", issue_body=f"CI fails:\n\n```\n{LOG}\n```"))

    (pr,) = [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
    files = repo.files_at(pr["head"]["ref"])
    (path,) = [p for p in files if p.startswith(".pve/attestations/")]

    async def published() -> dict:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.web), base_url="http://pve") as client:
            return (await client.get("/.well-known/pve-proof-key")).json()

    (key,) = asyncio.run(published())["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA") and key["not_after"] is None
    verifier = SSlibKey.from_crypto(load_pem_public_key(key["pem"].encode()), keyid=key["kid"])
    assert list(Envelope.from_dict(json.loads(files[path])).verify([verifier], 1)) == [key["kid"]]
    from statemachine.proof.attestation import verify_envelope  # what `pve proof verify` runs
    assert verify_envelope(files[path].encode(), harness.runtime.services.signer.trusted())["predicate"]["session"] \
        == pr["head"]["ref"].removeprefix("pve/fix-")
    statement = json.loads(base64.b64decode(json.loads(files[path])["payload"]))
    fixed = hashlib.sha256(files["stats/core.py"].encode()).hexdigest()
    assert {"name": "stats/core.py", "digest": {"sha256": fixed}} in statement["subject"]
    assert statement["predicate"]["verdict"]["evidence"] == "verified"
    (body,) = bot_comments(repo)
    (run,) = repo.check_runs.values()
    assert f"Signed with key `{key['kid']}`" in body and key["kid"] in run["output"]["summary"]
