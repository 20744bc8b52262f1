"""Every link in README, CHANGELOG and docs/ resolves inside a clone of the repository: to a
file that exists, and to a heading of it when the link names one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.servers import PROJECT_ROOT

DOCUMENTS = sorted(
    [PROJECT_ROOT / "README.md", PROJECT_ROOT / "CHANGELOG.md", *PROJECT_ROOT.glob("docs/*.md")]
)
# [text](target) outside code; images and reference-style links are not used here.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def anchors_of(document: Path) -> set[str]:
    """GitHub's anchors: lowercased, punctuation dropped, spaces to hyphens; repeats numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", document.read_text())):
        text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def links_of(document: Path) -> list[str]:
    prose = re.sub(r"`[^`\n]*`", "", FENCE.sub("", document.read_text()))
    return [target for target in LINK.findall(prose) if not re.match(r"[a-z]+:", target)]


def test_the_documents_exist() -> None:
    names = {path.relative_to(PROJECT_ROOT).as_posix() for path in DOCUMENTS}
    for required in ("docs/architecture.md", "docs/operations.md", "docs/protocol.md"):
        assert required in names


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_link_resolves_in_the_repository(document: Path) -> None:
    broken = []
    for target in links_of(document):
        path_part, _, anchor = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document
        if PROJECT_ROOT not in linked.parents and linked != PROJECT_ROOT:
            broken.append(f"{target}: outside the repository")
        elif not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors_of(linked):
            broken.append(f"{target}: no such heading")
    assert not broken, f"{document.name}: {broken}"
