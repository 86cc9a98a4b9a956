"""The README is not part of the documentation site (mkdocs.yml builds docs/, with broken links as
errors), so its own links and its length are checked here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub and MkDocs both write it for plain words: lower case, no
    punctuation, spaces as hyphens."""
    words = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return words.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+?)\s*$", text, flags=re.M)}


def _relative_links(text: str) -> list[str]:
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_every_relative_link_in_the_readme_names_a_file_that_exists():
    links = _relative_links(README.read_text(encoding="utf-8"))
    assert links, "the README links into docs/: is the pattern reading it?"
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (ROOT / path).resolve()
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: {path} has no heading #{anchor}")
    assert broken == []


def test_the_readme_stays_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 260, f"README.md has {lines} lines: move the detail into docs/ (see docs/index.md)"


def test_the_quickstart_shows_exactly_two_commands():
    text = README.read_text(encoding="utf-8")
    block = text.split("## Quickstart", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#", 1)[0].strip() for line in block.splitlines()] == ["./scripts/quickstart.sh", "uv run pytest"]


def _workflow(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_action_s_page_shows_the_readme_s_workflow():
    """The README and docs/github-action.md show one workflow (tests/test_workflows.py runs
    actionlint on the README's)."""
    assert _workflow(ROOT / "docs" / "github-action.md") == _workflow(README)


def test_the_link_check_sees_a_broken_link_and_a_missing_anchor(tmp_path):
    (tmp_path / "page.md").write_text('# Title\n\n## What "verified" means\n\n```sh\n# not a heading\n```\n')
    assert _anchors(tmp_path / "page.md") == {"title", "what-verified-means"}
    assert _relative_links("[a](docs/x.md#y) [b](https://e.com/) [c](#here) ![i](img.png)") == ["docs/x.md#y"]
