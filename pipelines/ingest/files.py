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
from dataclasses import dataclass
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
    ignored: list[str]  # relative paths of folders/files that are not part of the layout


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


def scan(
    landing: Path,
    sources: tuple[str, ...] = LANDING_SOURCES,
    start: date | None = None,
    end: date | None = None,
) -> Scan:
    """Every landing file of `sources` whose dt is within [start, end] (inclusive, if given)."""
    files: list[LandingFile] = []
    ignored: list[str] = []
    if not landing.is_dir():
        return Scan(files, ignored)
    for top in sorted(os.scandir(landing), key=lambda e: e.name):
        if top.name.startswith(".") or top.name == "ground_truth.json":
            continue
        if not top.is_dir() or top.name not in LANDING_SOURCES:
            ignored.append(top.name)
            continue
        if top.name not in sources:
            continue
        for part in sorted(os.scandir(top.path), key=lambda e: e.name):
            m = DT_DIR.match(part.name)
            if part.name.startswith("."):
                continue
            if not part.is_dir() or not m:
                ignored.append(f"{top.name}/{part.name}")
                continue
            try:
                dt = date.fromisoformat(m.group(1))
            except ValueError:
                ignored.append(f"{top.name}/{part.name}")
                continue
            if (start and dt < start) or (end and dt > end):
                continue
            for f in sorted(os.scandir(part.path), key=lambda e: e.name):
                rel = f"{top.name}/{part.name}/{f.name}"
                if f.name.startswith("."):
                    continue
                if not f.is_file() or file_format(f.name, top.name) is None:
                    ignored.append(rel)
                    continue
                st = f.stat()
                files.append(
                    LandingFile(top.name, dt, rel, Path(f.path), st.st_size, st.st_mtime_ns)
                )
    return Scan(files, ignored)


@dataclass(frozen=True)
class Fingerprint:
    content_hash: str
    encoding: str | None  # 'utf-8' | 'utf-8-sig' | 'gb18030' | None (not text / undecodable)


def fingerprint(f: LandingFile) -> Fingerprint:
    """SHA-256 of the file's bytes and, for CSV, the text encoding (one streamed pass)."""
    fmt = f.format
    digest = hashlib.sha256()
    if fmt == "csv":
        dec = codecs.getincrementaldecoder("utf-8")()
        utf8_ok, first = True, True
        has_bom = False
        with open(f.abspath, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                if first:
                    has_bom = chunk.startswith(BOM)
                    first = False
                if utf8_ok:
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
    with open(f.abspath, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    if fmt == "csv.gz":
        return Fingerprint(digest.hexdigest(), _gz_encoding(f.abspath))
    if fmt in ("jsonl", "json"):
        return Fingerprint(digest.hexdigest(), "utf-8")
    return Fingerprint(digest.hexdigest(), None)


def _gz_encoding(path: Path) -> str | None:
    try:
        with gzip.open(path, "rb") as fh:
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
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                dec.decode(chunk)
            dec.decode(b"", final=True)
    except (UnicodeDecodeError, OSError, EOFError):
        return False
    return True


def transcode_to_utf8(src: Path, dst: Path, encoding: str, gz: bool) -> None:
    """Stream a GB18030 text file (optionally gzip'd) into a UTF-8 file for DuckDB."""
    opener = gzip.open if gz else open
    dec = codecs.getincrementaldecoder(encoding)()
    with opener(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            fout.write(dec.decode(chunk).encode("utf-8"))
        fout.write(dec.decode(b"", final=True).encode("utf-8"))
