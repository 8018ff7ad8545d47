"""The landing folder: which files exist, their format, content hash and text encoding.

Everything here works on whole files (a directory walk, a streamed hash, a streamed decode);
no row of data passes through Python.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipelines.contract import LANDING_SOURCES, RECEIPTS

CHUNK = 8 << 20
# How much decompressed text of a csv.gz is checked to tell UTF-8 from GB18030.
GZ_SNIFF_BYTES = 16 << 20
DT_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class LandingFile:
    source: str
    dt: date
    path: str  # relative to the landing folder, '/' separators
    abspath: Path
    size: int
    mtime_ns: int

    @property
    def format(self) -> str:
        return file_format(self.path, self.source)


@dataclass
class Scan:
    files: list[LandingFile]
    # paths of folders/files that are not part of the layout, each with why, e.g.
    # "orders/dt=2025-03-01/.x.csv (hidden file)"
    ignored: list[str]
    # folders (or files) that exist but cannot be listed or inspected: (relative path, the dt
    # of its partition or None for a source folder, reason). Known files below them are kept
    # as they are, not withdrawn.
    unreadable: list[tuple[str, date | None, str]] = field(default_factory=list)

    def blocked(self, path: str) -> bool:
        """True when `path` lies below an unreadable folder."""
        return any(path.startswith(p.rstrip("/") + "/") for p, _, _ in self.unreadable)


def file_format(name: str, source: str = "") -> str | None:
    lower = name.lower()
    if source == RECEIPTS and lower.endswith(".json"):  # the gateways' JSON documents
        return "json"
    if lower.endswith(".csv.gz"):
        return "csv.gz"
    for ext in ("csv", "parquet", "jsonl"):
        if lower.endswith("." + ext):
            return ext
    return None


def os_reason(exc: OSError) -> str:
    """An OS error in words, without the path (the caller names the file)."""
    return (exc.strerror or type(exc).__name__).lower()


def _entries(path: str) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: e.name)


def _refused(entry: os.DirEntry) -> str | None:
    """Why a directory entry is not followed, or None. Never follows a symbolic link, so
    nothing outside the landing folder is ever opened."""
    if entry.name.startswith("."):
        return "hidden file"
    if entry.is_symlink():
        return "symbolic link, not followed"
    return None


def scan(
    landing: Path,
    sources: tuple[str, ...] = LANDING_SOURCES,
    start: date | None = None,
    end: date | None = None,
) -> Scan:
    """Every landing file of `sources` whose dt is within [start, end] (inclusive, if given).

    Hidden entries, symbolic links and anything outside the layout are reported in `ignored`;
    folders that cannot be listed in `unreadable`. Only regular files are returned.
    """
    files: list[LandingFile] = []
    ignored: list[str] = []
    unreadable: list[tuple[str, date | None, str]] = []
    if not landing.is_dir():
        return Scan(files, ignored, unreadable)
    try:
        tops = _entries(str(landing))
    except OSError as exc:
        return Scan(
            files, ignored, [(".", None, f"cannot list the landing folder: {os_reason(exc)}")]
        )
    for top in tops:
        if top.name == "ground_truth.json":  # the simulator's answer key, not an export
            continue
        why = _refused(top)
        if why:
            ignored.append(f"{top.name} ({why})")
            continue
        if not top.is_dir(follow_symlinks=False) or top.name not in LANDING_SOURCES:
            ignored.append(f"{top.name} (not a source folder)")
            continue
        if top.name not in sources:
            continue
        try:
            parts = _entries(top.path)
        except OSError as exc:
            unreadable.append((top.name, None, f"cannot list the folder: {os_reason(exc)}"))
            continue
        for part in parts:
            rel_dir = f"{top.name}/{part.name}"
            why = _refused(part)
            m = DT_DIR.match(part.name)
            if why or not part.is_dir(follow_symlinks=False) or not m:
                ignored.append(f"{rel_dir} ({why or 'not a dt=YYYY-MM-DD folder'})")
                continue
            try:
                dt = date.fromisoformat(m.group(1))
            except ValueError:
                ignored.append(f"{rel_dir} (not a valid date)")
                continue
            if (start and dt < start) or (end and dt > end):
                continue
            try:
                entries = _entries(part.path)
            except OSError as exc:
                unreadable.append((rel_dir, dt, f"cannot list the folder: {os_reason(exc)}"))
                continue
            for f in entries:
                rel = f"{rel_dir}/{f.name}"
                why = _refused(f)
                if why:
                    ignored.append(f"{rel} ({why})")
                    continue
                if not f.is_file(follow_symlinks=False):
                    ignored.append(f"{rel} (not a regular file)")
                    continue
                if file_format(f.name, top.name) is None:
                    why = "not a csv, csv.gz, parquet or jsonl file; json for receipts"
                    ignored.append(f"{rel} ({why})")
                    continue
                try:
                    st = f.stat(follow_symlinks=False)
                except OSError as exc:
                    unreadable.append((rel, dt, f"cannot read the file: {os_reason(exc)}"))
                    continue
                files.append(
                    LandingFile(top.name, dt, rel, Path(f.path), st.st_size, st.st_mtime_ns)
                )
    return Scan(files, ignored, unreadable)


def open_exact(path: Path | str):
    """Open a landing file for reading without following a symbolic link (binary mode)."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


@dataclass(frozen=True)
class Fingerprint:
    content_hash: str
    encoding: str | None  # 'utf-8' | 'utf-8-sig' | 'gb18030' | None (not text / undecodable)


def fingerprint(f: LandingFile) -> Fingerprint:
    """SHA-256 of the file's bytes and, for CSV, the text encoding (one streamed pass).
    Raises OSError when the file cannot be read."""
    fmt = f.format
    digest = hashlib.sha256()
    if fmt == "csv":
        dec = codecs.getincrementaldecoder("utf-8")()
        utf8_ok, first = True, True
        has_bom = False
        with open_exact(f.abspath) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                if first:
                    has_bom = chunk.startswith(BOM)
                    first = False
                # ASCII bytes with nothing pending in the decoder are valid UTF-8: a cheap
                # test instead of decoding (most sources are ASCII throughout)
                if utf8_ok and not (chunk.isascii() and not dec.getstate()[0]):
                    try:
                        dec.decode(chunk)
                    except UnicodeDecodeError:
                        utf8_ok = False
        if utf8_ok:
            try:
                dec.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8_ok = False
        if utf8_ok:
            encoding = "utf-8-sig" if has_bom else "utf-8"
        else:
            encoding = "gb18030" if _decodes(f.abspath, "gb18030", gz=False) else None
        return Fingerprint(digest.hexdigest(), encoding)
    with open_exact(f.abspath) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    if fmt == "csv.gz":
        return Fingerprint(digest.hexdigest(), _gz_encoding(f.abspath))
    if fmt in ("jsonl", "json"):
        return Fingerprint(digest.hexdigest(), "utf-8")
    return Fingerprint(digest.hexdigest(), None)


def _gz_encoding(path: Path) -> str | None:
    try:
        with open_exact(path) as raw, gzip.open(raw, "rb") as fh:
            head = fh.read(GZ_SNIFF_BYTES)
    except (OSError, EOFError):
        return None  # not a readable gzip stream: the reader reports the error
    body = head[3:] if head.startswith(BOM) else head
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)().decode(body, final=False)
        except UnicodeDecodeError:
            continue
        if enc == "utf-8":
            return "utf-8-sig" if head.startswith(BOM) else "utf-8"
        return enc
    return None


def _decodes(path: Path, encoding: str, gz: bool) -> bool:
    dec = codecs.getincrementaldecoder(encoding)()
    try:
        with open_exact(path) as raw, gzip.open(raw, "rb") if gz else raw as fh:
            while chunk := fh.read(CHUNK):
                dec.decode(chunk)
            dec.decode(b"", final=True)
    except (UnicodeDecodeError, OSError, EOFError):
        return False
    return True


def transcode_to_utf8(src: Path, dst: Path, encoding: str, gz: bool) -> None:
    """Stream a GB18030 text file (optionally gzip'd) into a UTF-8 file for DuckDB."""
    dec = codecs.getincrementaldecoder(encoding)()
    with (
        open_exact(src) as raw,
        gzip.open(raw, "rb") if gz else raw as fin,
        open(dst, "wb") as fout,
    ):
        while chunk := fin.read(CHUNK):
            fout.write(dec.decode(chunk).encode("utf-8"))
        fout.write(dec.decode(b"", final=True).encode("utf-8"))
