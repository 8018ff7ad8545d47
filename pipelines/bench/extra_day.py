"""One more day of landing files, derived from the simulator's last day.

For the incremental benchmark every source gets a new `dt=` folder for the day after the
data set's last day (`as_of + 1`). Its files are copies of the source's latest day of files
with, in every row:

- every calendar date moved forward by the same number of days (text `YYYY-MM-DD`, inside any
  timestamp spelling, and Parquet DATE / TIMESTAMP columns), so each row lands on the new day;
- the primary key made new by a day counter, `-x1` appended to an original key and `-xN`
  turned into `-x(N+1)` on a key copied before, so a key stays as long over any number of
  added days (an appended `-x1` a day grew the message ids past the contract's 64
  characters after 13 days at scale l, and the day's rows were quarantined); for `users`
  and `experiment_assignments` also
  the `user_id`, so the day's new users and their assignments stay consistent; for `sms_logs`
  also the caller's `out_id`, which names one send); other references (user, bill, order ids)
  keep pointing at existing rows.

So the new day has the volume and the shape of a real day of the same programme: new rows only,
nothing superseded, nothing quarantined. The original files are never opened for writing (the
benchmark's landing folders are hard links of the generated data set).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
from pathlib import Path

from pipelines import contract

SUFFIX = "-x1"
# a key copied before ends in -x<N>: the next copy counts on
COUNTED = re.compile(r"-x(\d+)$")
DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
FORMATS = ("csv.gz", "parquet", "jsonl", "csv")


def _dt(folder: Path) -> dt.date:
    return dt.date.fromisoformat(folder.name.removeprefix("dt="))


def _keys(source: str) -> set[str]:
    """The fields that get SUFFIX: the primary key's, except a timestamp or date (its date
    is moved to the new day already, which makes the key new; a suffix would not parse)."""
    spec = contract.SOURCES[source]
    kinds = {f.name: f.type for f in spec.fields}
    keys = {k for k in spec.primary_key if kinds.get(k) not in (contract.TS, contract.DATE)}
    if source in ("users", "experiment_assignments"):
        keys.add("user_id")
    if source == "sms_logs":
        # the caller's id names one send: a copy that kept it would claim the copied day's
        # gateway receipts (matched by it) and rematch those old messages
        keys.add("out_id")
    return keys


def _next_key(value: str) -> str:
    """The key of the next day's copy: `-x1` appended, or `-xN` counted on to `-x(N+1)`."""
    m = COUNTED.search(value)
    if m:
        return f"{value[: m.start()]}-x{int(m.group(1)) + 1}"
    return value + SUFFIX


class _Shift:
    def __init__(self, days: int):
        self.delta = dt.timedelta(days=days)
        self.cache: dict[str, str] = {}

    def _one(self, m: re.Match) -> str:
        s = m.group(0)
        if s not in self.cache:
            try:
                self.cache[s] = (dt.date.fromisoformat(s) + self.delta).isoformat()
            except ValueError:
                self.cache[s] = s
        return self.cache[s]

    def text(self, value: str) -> str:
        return DATE.sub(self._one, value) if value and "-" in value else value


def _csv(src: Path, dst: Path, keys: set[str], shift: _Shift) -> int:
    opener = gzip.open if src.name.endswith(".gz") else open
    raw = opener(src, "rb").read()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    reader = csv.reader(io.StringIO(raw.decode(encoding), newline=""))
    header = next(reader)
    key_idx = [i for i, name in enumerate(header) if name in keys]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in reader:
        row = [shift.text(v) for v in row]
        for i in key_idx:
            if i < len(row) and row[i]:
                row[i] = _next_key(row[i])
        writer.writerow(row)
        n += 1
    data = out.getvalue().encode(encoding)
    if src.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    dst.write_bytes(data)
    return n


def _jsonl(src: Path, dst: Path, keys: set[str], shift: _Shift) -> int:
    lines = []
    for line in src.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        for k, v in rec.items():
            if isinstance(v, str):
                rec[k] = shift.text(v)
                if k in keys and rec[k]:
                    rec[k] = _next_key(rec[k])
        lines.append(json.dumps(rec, ensure_ascii=False))
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def _parquet(src: Path, dst: Path, keys: set[str], days: int) -> int:
    import duckdb

    con = duckdb.connect()
    try:
        described = con.execute("describe select * from read_parquet($f)", {"f": str(src)})
        types = {name: typ for name, typ, *_ in described.fetchall()}
        exprs = []
        for name, typ in types.items():
            q = '"' + name.replace('"', '""') + '"'
            if name in keys:
                # _next_key in SQL
                counted = f"regexp_extract({q}, '-x(\\d+)$', 1)"
                exprs.append(
                    f"""case when {counted} <> ''
                        then regexp_replace({q}, '-x\\d+$', '')
                            || '-x' || (cast({counted} as bigint) + 1)
                        else {q} || '{SUFFIX}' end as {q}"""
                )
            elif typ == "DATE":
                exprs.append(f"({q} + interval ({days}) day)::date as {q}")
            elif typ.startswith("TIMESTAMP"):
                exprs.append(f"({q} + interval ({days}) day)::{typ} as {q}")
            else:
                exprs.append(q)
        # identifiers come from the file's own schema; the paths are bound
        rel = con.sql(f"select {', '.join(exprs)} from read_parquet(?)", params=[str(src)])
        rel.write_parquet(str(dst))
        return con.execute("select count(*) from read_parquet(?)", [str(dst)]).fetchone()[0]
    finally:
        con.close()


def add_day(landing: Path) -> dict:
    """Write the day after the landing folder's last day for every source; return a summary."""
    last = {}
    for source in contract.SOURCE_NAMES:
        folders = sorted((landing / source).glob("dt=*"))
        if folders:
            last[source] = folders[-1]
    as_of = max(_dt(f) for f in last.values())
    new_day = as_of + dt.timedelta(days=1)
    summary = {"as_of": as_of.isoformat(), "new_day": new_day.isoformat(), "sources": {}}
    for source, folder in last.items():
        days = (new_day - _dt(folder)).days
        shift = _Shift(days)
        out_dir = landing / source / f"dt={new_day.isoformat()}"
        out_dir.mkdir(parents=True, exist_ok=False)
        rows = files = 0
        for src in sorted(folder.iterdir()):
            fmt = next((f for f in FORMATS if src.name.endswith("." + f)), None)
            if fmt is None:
                continue
            dst = out_dir / shift.text(src.name)
            if dst.name == src.name:
                dst = out_dir / (src.name.split(".", 1)[0] + SUFFIX + "." + fmt)
            keys = _keys(source)
            if fmt == "parquet":
                rows += _parquet(src, dst, keys, days)
            elif fmt == "jsonl":
                rows += _jsonl(src, dst, keys, shift)
            else:
                rows += _csv(src, dst, keys, shift)
            files += 1
        summary["sources"][source] = {"copied_from": folder.name, "files": files, "rows": rows}
    summary["rows"] = sum(s["rows"] for s in summary["sources"].values())
    return summary
