"""Landing folder: finding a budget's files, fingerprinting them, and the days they cover."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.ingest_sql import timestamp_utc_sql
from assets.warehouse import quote_ident, quote_literal
from models.spec import BudgetSpec

SUPPORTED = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class LandingError(ValueError):
    """A landing file that cannot be used at all (outside the folder, unreadable, wrong columns)."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    relative: str
    fingerprint: str
    kind: str


def _fingerprint(path: Path) -> str:
    """Content hash: a file dropped twice (same bytes) keeps its fingerprint; an edited one changes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


def discover(spec: BudgetSpec, landing_dir: Path) -> list[LandingFile]:
    """Files matching the spec's ``source.pattern`` under ``landing_dir``, sorted by path.

    Symlinks or patterns that resolve outside the landing folder are refused.
    """
    if spec.source.kind != "files":
        return []
    root = landing_dir.resolve()
    found = []
    for path in sorted(root.glob(spec.source.pattern)):
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            raise LandingError(f"{path}: resolves outside the landing folder {root}")
        if not resolved.is_file() or resolved.name.startswith("."):
            continue
        kind = SUPPORTED.get(resolved.suffix.lower())
        if kind is None:
            continue
        found.append(LandingFile(resolved, str(resolved.relative_to(root)), _fingerprint(resolved), kind))
    return found


def reader_sql(file: LandingFile) -> str:
    """A DuckDB table function reading ``file`` with every column as text (types are checked later)."""
    path = quote_literal(str(file.path))
    if file.kind == "csv":
        # all_varchar: a bad cell must become a quarantined row, not a failed read.
        return (f"read_csv({path}, header = true, all_varchar = true, strict_mode = false, "
                f"null_padding = true, sample_size = -1, encoding = 'utf-8', ignore_errors = false)")
    return f"read_parquet({path})"


def read_columns(conn: duckdb.DuckDBPyConnection, file: LandingFile) -> list[str]:
    try:
        return [row[0] for row in conn.execute(f"describe select * from {reader_sql(file)}").fetchall()]
    except duckdb.Error as err:
        raise LandingError(f"{file.relative}: cannot read {file.kind} file: {str(err).splitlines()[0]}") from None


def day_range(conn: duckdb.DuckDBPyConnection, file: LandingFile, timestamp_col: str,
              timezone: str) -> tuple[dt.date | None, dt.date | None, int]:
    """First and last UTC day with a parseable timestamp, and the row count."""
    ts = timestamp_utc_sql(f"cast({quote_ident(timestamp_col)} as varchar)", timezone)
    first, last, rows = conn.execute(
        f"select min(cast({ts} as date)), max(cast({ts} as date)), count(*) from {reader_sql(file)}").fetchone()
    return first, last, rows
