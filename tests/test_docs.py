"""Every relative link and anchor in the README, the changelog and docs/ resolves."""

import re
from pathlib import Path

import pytest
from helpers import ROOT

PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)



def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text()), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken(page: Path) -> list[str]:
    """The links of a page whose file or anchor does not exist."""
    wrong = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # another site
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            wrong.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            wrong.append(f"{target}: no heading #{anchor} in {file.name}")
    return wrong


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_and_anchor_resolves(page):
    assert broken(page) == []


def test_a_missing_file_or_heading_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## A part\n")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## Here\n\n[a](other.md#a-part) [b](#here) [c](#gone) "
                    "[d](missing.md) [e](other.md#nope) [f](https://example.org/x)\n")
    assert broken(page) == [
        "#gone: no heading #gone in page.md",
        f"missing.md: no file {tmp_path / 'missing.md'}",
        "other.md#nope: no heading #nope in other.md",
    ]


def test_anchors_follow_githubs_rules(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# Capacity at a latency goal (open loop)\n## `nox -s app`, walked\n"
                    "## Twice\n## Twice\n```sh\n# not a heading\n```\n")
    assert anchors(page) == {"capacity-at-a-latency-goal-open-loop", "nox--s-app-walked",
                             "twice", "twice-1"}


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
