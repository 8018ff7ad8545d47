"""What the marts package derives from parsing its SQL files, kept on disk between processes.

Parsing the 39 files of sql/marts with sqlglot costs about 0.3 CPU-s. Every process that
imports the marts package paid it: the build order is derived when the package is imported
(`build.BUILD_ORDER`), and the incremental build rewrites some files
(`rewrite.scoped_insert`). A no-op `nudgescope run` imports the package too, only to read the
metric settings. The results depend only on the files' text and the code that derives them.
This module keeps each result in a file named by a digest of exactly those inputs:
- the text of the SQL file(s);
- the arguments of the derivation;
- the source of the modules that derive it (lineage.py, rewrite.py and this one);
- sqlglot's version.
So a changed file, a changed rule or another sqlglot misses the cache and is parsed again; a
hit gives what parsing would give.

Where: `$NUDGESCOPE_PARSE_CACHE` (a folder; `off` disables the cache), else
`$XDG_CACHE_HOME/nudgescope/sql-parse` (`~/.cache/…`; no cache without a home folder). A
folder that cannot be read or written costs only the parse: every error here is a miss.
Entries are written to a temporary name and renamed, so a reader never sees half an entry.
The folder keeps the newest `KEEP` entries.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

CACHE_ENV = "NUDGESCOPE_PARSE_CACHE"
KEEP = 256
_HERE = Path(__file__).resolve().parent
# the modules whose rules turn a file's text into what is cached
_CODE_FILES = ("lineage.py", "rewrite.py", "parse_cache.py")


def folder() -> Path | None:
    """The cache folder, or None when the cache is off."""
    chosen = os.environ.get(CACHE_ENV, "")
    if chosen.strip().lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home == "~":  # no home folder known: no cache, rather than one under the cwd
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "nudgescope" / "sql-parse"


@cache
def _code_digest() -> str:
    # the installed version, without importing sqlglot (0.4 CPU-s): a hit must not need it
    h = hashlib.sha256(metadata.version("sqlglot").encode())
    for name in _CODE_FILES:
        h.update((_HERE / name).read_bytes())
    return h.hexdigest()


def key(kind: str, *parts: str) -> str:
    """The entry name for a `kind` of result derived from `parts` (texts and arguments)."""
    h = hashlib.sha256(_code_digest().encode())
    for part in (kind, *parts):
        data = part.encode()
        h.update(len(data).to_bytes(8, "little"))  # ("ab", "c") and ("a", "bc") differ
        h.update(data)
    return f"{kind}-{h.hexdigest()[:40]}.json"


def get(entry: str) -> Any | None:
    """The value stored under `entry`, or None (no cache, no entry, unreadable)."""
    where = folder()
    if where is None:
        return None
    try:
        return json.loads((where / entry).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def put(entry: str, value: Any) -> None:
    """Store `value` (JSON) under `entry`. A folder that cannot be written, a full disk or a
    process that may not write files (the SQL sandbox's workers) is not an error."""
    where = folder()
    if where is None:
        return
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(value, out)
            os.replace(tmp, where / entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(where)
    except OSError:
        return


def _prune(where: Path) -> None:
    entries = [p for p in where.glob("*.json") if not p.name.startswith(".")]
    if len(entries) <= KEEP:
        return
    by_age = sorted(entries, key=lambda p: p.stat().st_mtime)
    for old in by_age[: len(entries) - KEEP]:
        old.unlink(missing_ok=True)
