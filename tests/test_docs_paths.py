"""The docs name only files and folders that exist (README, docs/, package READMEs)."""

from __future__ import annotations

import re

from pipelines.settings import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))] + [
    p for p in REPO_ROOT.glob("*/**/README.md") if ".venv" not in p.parts and p.parts[-2] != "data"
]
# a repo path in backticks or a table cell: starts with a top-level folder of the project
PATH = re.compile(r"(?<![\w./<-])((?:pipelines|dashboard|sql|tests|docs)/[\w./-]*[\w/])")


def _named_paths(text: str) -> set[str]:
    return {m.group(1).rstrip("/.") for m in PATH.finditer(text) if "*" not in m.group(1)}


def test_path_pattern_reads_paths_from_prose():
    text = "see `sql/marts/user_cycle.sql`, the folder pipelines/ingest/ and <data-dir>/dagster."
    assert _named_paths(text) == {"sql/marts/user_cycle.sql", "pipelines/ingest"}


def test_every_path_named_in_the_docs_exists():
    missing = []
    for doc in DOCS:
        for named in sorted(_named_paths(doc.read_text(encoding="utf-8"))):
            if not (REPO_ROOT / named).exists() and not (doc.parent / named).exists():
                missing.append(f"{doc.relative_to(REPO_ROOT)}: {named}")
    assert missing == []
