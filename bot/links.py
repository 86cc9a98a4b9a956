"""The issues a pull request says it fixes, as GitHub reads them. Pure functions.

GitHub links an issue when a closing keyword (close, closes, closed, fix, fixes, fixed, resolve,
resolves, resolved; any case, an optional colon) is followed by ``#12``, ``owner/repo#12`` or the
issue's URL, in the pull request's body or its commit messages. Only issues of the pull
request's own repository can be verified (their text is what PVE reproduces); others are named
and left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEYWORD = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_REF = r"(?:https?://github\.com/[\w.-]+/[\w.-]+/issues/\d+|(?:[\w.-]+/[\w.-]+)?#\d+)(?![\w/])"
# a keyword, then one reference, or several joined by commas/"and" ("Fixes #1, #2 and #3" links all)
_LINK = re.compile(rf"(?<![\w-]){_KEYWORD}:?\s+(?P<refs>{_REF}(?:\s*(?:,|and|&)\s*{_REF})*)", re.I)
_ONE = re.compile(r"https?://github\.com/(?P<url_repo>[\w.-]+/[\w.-]+)/issues/(?P<url_n>\d+)"
                  r"|(?P<repo>[\w.-]+/[\w.-]+)?#(?P<n>\d+)", re.I)
# text inside code is not a link (GitHub does not link there either)
_CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.S)
MAX_LINKED = 5


@dataclass(frozen=True)
class Linked:
    numbers: tuple[int, ...]  # issues of this repository, in the order written, without repeats
    elsewhere: tuple[str, ...]  # "owner/repo#12" in other repositories: named, not verified


def linked_issues(texts: list[str], full_name: str) -> Linked:
    numbers: list[int] = []
    elsewhere: list[str] = []
    for text in texts:
        for m in _LINK.finditer(_CODE.sub(" ", text or "")):
            for ref in _ONE.finditer(m.group("refs")):
                repo = ref.group("url_repo") or ref.group("repo")
                n = int(ref.group("url_n") or ref.group("n"))
                if repo is None or repo.lower() == full_name.lower():
                    if n not in numbers:
                        numbers.append(n)
                elif f"{repo}#{n}" not in elsewhere:
                    elsewhere.append(f"{repo}#{n}")
    return Linked(tuple(numbers[:MAX_LINKED]), tuple(elsewhere))
