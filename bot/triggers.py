"""Which deliveries are work for PVE: a pure decision on the raw payload (no I/O).

The webhook edge asks this before queueing, so a busy repository's comments and green CI runs
never reach the queue. Payloads are read as plain dicts: GitHub's real examples do not all fit
strict models, and a missing field must mean "not for us", never a crash.
"""

from __future__ import annotations

from typing import Any

# (event, action) pairs PVE acts on
HANDLED = {
    ("issue_comment", "created"),
    ("workflow_run", "completed"),
    ("check_run", "requested_action"),
    ("check_run", "rerequested"),
    ("installation", "created"),
    ("installation", "deleted"),
}
COMMAND = "/pve"


def _get(payload: dict[str, Any], *keys: str) -> Any:
    cur: Any = payload
    for key in keys:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def is_command(body: object) -> bool:
    """Does a comment start with ``/pve`` (as a word: not ``/pvefoo``)?"""
    if not isinstance(body, str):
        return False
    first = body.lstrip().split(maxsplit=1)
    return bool(first) and first[0].lower() == COMMAND


def intake(event: str, payload: dict[str, Any]) -> tuple[bool, str]:
    """(queue it?, why) for one delivery."""
    action = payload.get("action")
    if (event, action) not in HANDLED:
        what = f"{event}.{action}" if action else event
        return False, f"{what} is not an event PVE handles"
    if event == "issue_comment":
        if not is_command(_get(payload, "comment", "body")):
            return False, "the comment is not a /pve command"
        if _get(payload, "comment", "user", "type") == "Bot":
            return False, "comments by bots are ignored"
    if event == "workflow_run":
        conclusion = _get(payload, "workflow_run", "conclusion")
        if conclusion != "failure":
            return False, f"the workflow run concluded {conclusion!r}, not 'failure'"
    return True, "queued"
