"""Landing folder: finding a budget's files, fingerprinting them, and the days they cover."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.ingest_sql import clock_timestamp_sql
from assets.warehouse import quote_ident, quote_literal
from models.spec import BudgetSpec

SUPPORTED = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
UTF16_LE_BOM, UTF16_BE_BOM = b"\xff\xfe", b"\xfe\xff"


class LandingError(ValueError):
    """A landing file that cannot be used at all (outside the folder, unreadable, wrong columns)."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    relative: str
    fingerprint: str
    kind: str
    documents: int | None = None  # index of the spec's document source the file holds; None: events

    def timestamp(self, spec: BudgetSpec) -> tuple[str, str]:
        """The column and time zone of the file's timestamps."""
        if self.documents is None:
            return spec.source.timestamp, spec.source.timezone
        documents = spec.source.documents[self.documents]
        return documents.timestamp, spec.source.document_zone(documents)

    def timestamp_format(self, spec: BudgetSpec) -> str | None:
        """The strptime format of the file's text timestamps (event files; None: ISO 8601)."""
        return spec.source.timestamp_format if self.documents is None else None

    def read_as(self, spec: BudgetSpec) -> str:
        """What the file's day range depends on besides its bytes: its role, timestamp column, format and zone,
        and the budget's clock."""
        column, zone = self.timestamp(spec)
        fmt = self.timestamp_format(spec)
        return (f"{'events' if self.documents is None else 'documents'} by {column!r}"
                + ("" if fmt is None else f" as {fmt!r}") + f" in {zone}, days in {spec.clock}")


def _fingerprint(path: Path) -> str:
    """Content hash: a file dropped twice (same bytes) keeps its fingerprint; an edited one changes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


def _matches(root: Path, pattern: str) -> list[Path]:
    """Readable files ``pattern`` matches under ``root``; one that resolves outside it is refused."""
    found = []
    for path in sorted(root.glob(pattern)):
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            raise LandingError(f"{path}: resolves outside the landing folder {root}")
        if resolved.is_file() and not resolved.name.startswith(".") and resolved.suffix.lower() in SUPPORTED:
            found.append(resolved)
    return found


def discover(spec: BudgetSpec, landing_dir: Path) -> list[LandingFile]:
    """Files of the spec's ``source`` under ``landing_dir``, sorted by path: those a ``documents`` pattern
    matches hold documents (the first such pattern's), every other match of ``pattern`` holds events.

    Symlinks or patterns that resolve outside the landing folder are refused.
    """
    if spec.source.kind != "files":
        return []
    root = landing_dir.resolve()
    roles: dict[Path, int | None] = {}
    for index, documents in enumerate(spec.source.documents):
        for path in _matches(root, documents.pattern):
            roles.setdefault(path, index)
    for path in _matches(root, spec.source.pattern):
        roles.setdefault(path, None)
    return [LandingFile(path, str(path.relative_to(root)), _fingerprint(path), SUPPORTED[path.suffix.lower()], role)
            for path, role in sorted(roles.items())]


def csv_encoding(file: LandingFile) -> str:
    """UTF-8, or UTF-16 when the file starts with the little-endian byte-order mark (what spreadsheet
    programs write as "Unicode text"). DuckDB reads a big-endian UTF-16 file as no rows at all, so that
    one is refused with a reason instead."""
    with file.path.open("rb") as handle:
        start = handle.read(2)
    if start == UTF16_BE_BOM:
        raise LandingError(f"{file.relative}: UTF-16 big-endian text is not supported; save the file as UTF-8")
    return "utf-16" if start == UTF16_LE_BOM else "utf-8"


def _csv_sql(file: LandingFile, header: bool) -> str:
    # all_varchar: a bad cell must become a quarantined row, not a failed read; null_padding: a short row
    # keeps its fields (the missing ones NULL) and a long row's extra fields land in unnamed columns
    return (f"read_csv({quote_literal(str(file.path))}, header = {str(header).lower()}, all_varchar = true, "
            f"strict_mode = false, null_padding = true, sample_size = -1, "
            f"encoding = {quote_literal(csv_encoding(file))}, ignore_errors = false)")


def reader_sql(file: LandingFile) -> str:
    """A DuckDB table function reading ``file``: CSV columns all as text, Parquet in its own types
    (both are checked row by row later)."""
    if file.kind == "csv":
        return _csv_sql(file, header=True)
    return f"read_parquet({quote_literal(str(file.path))})"


# Columns a Parquet reader adds to every row without reading anything: the file's position in the reader's list
# and the row's position in its file. A file's own column of the same name hides them.
VIRTUAL_COLUMNS = ("file_index", "file_row_number")


def batchable(file: LandingFile, columns: dict[str, str]) -> bool:
    """True when ``file`` can be read together with other files of the same columns (a Parquet file whose own
    columns do not hide the reader's virtual ones)."""
    return file.kind == "parquet" and not set(VIRTUAL_COLUMNS) & set(columns)


def batch_reader_sql(files: list[LandingFile], columns: dict[str, str]) -> tuple[str, str, str]:
    """One reader of ``files`` (batchable files of the same ``columns``, or any single file), with the SQL of
    each row's number from 1 within its file and of its source (the file's relative path), over alias ``t``.

    Parquet rows carry their file and position as virtual columns, which cost nothing; numbering the rows of a
    CSV file (or of a Parquet file whose columns hide the virtual ones) needs a window over the file.
    """
    if len(files) == 1 and not batchable(files[0], columns):
        return reader_sql(files[0]), "row_number() over ()", quote_literal(files[0].relative)
    if not all(batchable(f, columns) for f in files):
        raise ValueError(f"cannot read {', '.join(f.relative for f in files)} as one batch")
    paths = ", ".join(quote_literal(str(f.path)) for f in files)
    sources = ", ".join(quote_literal(f.relative) for f in files)
    return (f"read_parquet([{paths}])", "t.file_row_number + 1",
            f"[{sources}][cast(t.file_index as bigint) + 1]")


def overflow_columns(conn: duckdb.DuckDBPyConnection, file: LandingFile, columns: dict[str, str]) -> list[str]:
    """Columns a CSV reader made up for fields beyond the header's (rows longer than the header).

    DuckDB names such a column ``column<position>``; only when the last columns are named so is the
    header line read again as a row (a second sniff of the file) to tell them from real names.
    """
    names = list(columns)
    trailing = 0
    while file.kind == "csv" and trailing < len(names) and names[-1 - trailing] == f"column{len(names) - 1 - trailing}":
        trailing += 1
    if trailing == 0:
        return []
    header = conn.execute(f"select * from {_csv_sql(file, header=False)} limit 1").fetchone() or ()
    width = max((i + 1 for i, name in enumerate(header) if name is not None and name.strip()), default=0)
    return names[max(width, len(names) - trailing):]


def read_columns(conn: duckdb.DuckDBPyConnection, file: LandingFile) -> dict[str, str]:
    """The file's column names and DuckDB types (every CSV column is text)."""
    try:
        columns = {row[0]: row[1] for row in conn.execute(f"describe select * from {reader_sql(file)}").fetchall()}
    except duckdb.Error as err:
        raise LandingError(f"{file.relative}: cannot read {file.kind} file: {str(err).splitlines()[0]}") from None
    if not columns or (file.kind == "csv" and file.path.stat().st_size == 0):
        raise LandingError(f"{file.relative}: empty file (no header, no rows)")
    return columns


def day_ranges(conn: duckdb.DuckDBPyConnection, files: list[LandingFile], columns: dict[str, str],
               spec: BudgetSpec) -> list[tuple[dt.date | None, dt.date | None, int]]:
    """First and last day (on the budget's clock) with a parseable timestamp, and the row count, of each of
    ``files`` (one file, or batchable files of one role and the same ``columns``) in one pass.

    Raises
    ------
    LandingError, duckdb.Error
        When a file cannot be read.
    """
    reader, _, source_sql = batch_reader_sql(files, columns)
    timestamp_col, timezone = files[0].timestamp(spec)
    # without the timestamp column every row will be quarantined for it: no days, only a count
    day = "cast(null as date)"
    if timestamp_col in columns:
        on_clock = clock_timestamp_sql("t." + quote_ident(timestamp_col), columns[timestamp_col], timezone, spec.clock,
                                       files[0].timestamp_format(spec))
        day = f"cast({on_clock} as date)"
    # every column is decoded (hashed, the hash unused): a file whose timestamps read but another column's pages
    # are corrupt is refused here as unreadable, instead of failing the load of the whole window
    found = {source: (first, last, rows) for source, first, last, rows, *_ in conn.execute(
        f"select {source_sql} as source, min({day}), max({day}), count(*), bit_xor(hash(columns(*))) "
        f"from {reader} t group by all").fetchall()}
    return [found.get(file.relative, (None, None, 0)) for file in files]


def day_range(conn: duckdb.DuckDBPyConnection, file: LandingFile,
              spec: BudgetSpec) -> tuple[dt.date | None, dt.date | None, int]:
    """First and last day (on the budget's clock) with a parseable timestamp, and the row count, of one file.

    Raises
    ------
    LandingError
        When the file cannot be read at all or is empty (see :func:`read_columns`).
    """
    return day_ranges(conn, [file], read_columns(conn, file), spec)[0]
