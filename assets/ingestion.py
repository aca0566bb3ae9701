"""Load one budget's events for a window of days into ``raw.events`` (idempotently).

The window is replaced as a whole inside one transaction: a re-run of the same
days, a late file or a killed run followed by a re-run all leave exactly the
rows a clean run leaves. Every received row is either loaded or quarantined
with its reason, and ``raw.ingestion_log`` counts both per day and source.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from assets.ingest_sql import checked_documents_select, checked_select, clock_timestamp_sql
from assets.landing import (LandingError, LandingFile, batch_reader_sql, batchable, day_ranges, discover,
                            overflow_columns, read_columns)
from assets.warehouse import prepare, quote_literal, transaction
from models.demo.generator import generate_day
from models.spec import BudgetSpec

DEMO_CHUNK_DAYS = 31
# Rows of landing files judged in one statement. Judged rows stream into the tables; this bounds the rejected rows
# a statement's quarantine pass sorts (a batch of files every row of which is rejected).
BATCH_ROWS = 4_000_000


@dataclass(frozen=True)
class IngestionReport:
    budget_id: str
    start: dt.date
    end: dt.date
    received: int
    loaded: int
    quarantined: int
    duplicates: int
    sources: int
    seconds: float
    documents: int = 0  # documents loaded (received, loaded and quarantined above count events)
    documents_quarantined: int = 0
    # wide source: measures whose column no event file of the window has (a misspelt column reads as none)
    measures_without_column: tuple[str, ...] = ()


def _ts(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _delete_window(conn, budget: str, start: dt.date, end: dt.date) -> None:
    for table, col in (("events", "day"), ("quarantine", "day"), ("ingestion_log", "day"), ("documents", "day"),
                       ("ingested_days", "day")):
        conn.execute(f"delete from raw.{table} where budget_id = ? and {col} >= ? and {col} < ?", [budget, start, end])


def _load_source(conn, spec: BudgetSpec, reader: str, source_sql: str, columns: dict[str, str], start: dt.date,
                 end: dt.date, history_start: dt.date, row_number: str = "row_number() over ()",
                 overflow: list[str] | None = None, rescan: bool = False) -> None:
    """Judge the rows of ``reader`` (one or more sources): valid ones to ``raw.events``, the rest to
    ``raw.quarantine`` with their reason, and the count received per day and source into ``_received`` (the
    ledger :func:`_finish_window` balances)."""
    checked = checked_select(spec, reader, source_sql, columns, _ts(start), _ts(end), _earliest(history_start),
                             row_number, overflow)
    _split(conn, spec, checked, "events", """
        insert into raw.events
        select ?, eid, ts, day, measure, val, segment_id, source, source_row
        from _checked where reason is null""", rescan)


def _load_files(conn, spec: BudgetSpec, files: list[LandingFile], columns: dict[str, str], start: dt.date,
                end: dt.date, history_start: dt.date) -> None:
    """Judge landing files of one role and the same ``columns`` together (a batch, or any single file)."""
    reader, row_number, source_sql = batch_reader_sql(files, columns)
    rescan = batchable(files[0], columns)
    overflow = overflow_columns(conn, files[0], columns) if len(files) == 1 else []
    role = files[0].documents
    if role is None:
        _load_source(conn, spec, reader, source_sql, columns, start, end, history_start, row_number, overflow,
                     rescan)
        return
    checked = checked_documents_select(spec, spec.source.documents[role], reader, source_sql, columns, _ts(start),
                                       _ts(end), _earliest(history_start), row_number, overflow)
    _split(conn, spec, checked, "documents", """
        insert into raw.documents by name
        select ? as budget_id, doc_id, ts as doc_ts, day, kind, segment_id, body as text, source, source_row
        from _checked where reason is null order by source, source_row""", rescan)


def _earliest(history_start: dt.date) -> dt.datetime:
    return _ts(max(history_start, dt.date(1990, 1, 1)))


def _split(conn, spec: BudgetSpec, checked: str, content: str, load: str, rescan: bool) -> None:
    """Judge a source's rows by ``checked``, load the good ones with ``load`` (the budget id its one parameter),
    quarantine the rest, and count every row received into ``_received``.

    With ``rescan`` (Parquet files, a registered frame: reading them again is cheap) each statement judges the
    rows again from a view, and the quarantine pass runs only when fewer rows were loaded than received.
    10,059,264 events of the three demo budgets in 120 Parquet files, the Dagster ingestion step alone: 11.0
    and 11.9 s through a temp table of the judged rows, 9.2 and 9.6 s so (alternating runs); peak memory
    outside Dagster 1.4 GB -> 0.63 GB. A CSV file is parsed once, into a temp table."""
    kind = "view" if rescan else "table"
    conn.execute(f"create or replace temp {kind} _checked as {checked}")
    loaded = conn.execute(load, [spec.id]).fetchone()[0]
    # counting needs the day, not the checks: the optimiser leaves them out of this pass
    conn.execute("create or replace temp table _counted as "
                 "select day, source, count(*) as n from _checked group by all")
    if conn.execute("select coalesce(sum(n), 0) from _counted").fetchone()[0] > loaded:
        conn.execute("""
            insert into raw.quarantine
            select ?, day, source, source_row, reason, record
            from _checked where reason is not null order by source_row, reason""", [spec.id])
    conn.execute("insert into _received select ?, day, source, n from _counted", [content])
    conn.execute(f"drop {kind} _checked")
    conn.execute("drop table _counted")


def _finish_window(conn, spec: BudgetSpec, start: dt.date, end: dt.date) -> None:
    """After every source of the window is in: move repeated events to quarantine (the earliest source and row
    keeps the event), write the ingestion log from the tables, and add new segments to ``raw.segment_members``."""
    budget = quote_literal(spec.id)
    in_window = f"budget_id = {budget} and day >= '{start}' and day < '{end}'"
    if spec.source.kind == "files" and spec.source.event_id is None:
        _number_repeated_contents(conn, in_window)
    conn.execute("create or replace temp table _duplicates as "
                 f"select * exclude (occurrence) from ({_later_copies(in_window, 'event_id')})")
    conn.execute(f"""
        insert into raw.quarantine
        select budget_id, day, source, source_row, 'duplicate of event ' || left(event_id, 60),
               cast(json_object('event_id', event_id, 'timestamp', event_ts, 'measure', measure, 'value', value,
                                'segment_id', segment_id) as varchar)
        from _duplicates order by source, source_row, event_id""")
    conn.execute("""
        delete from raw.events e using _duplicates d
        where e.budget_id = d.budget_id and e.day = d.day and e.source = d.source
          and e.source_row = d.source_row and e.event_id = d.event_id""")
    conn.execute("drop table _duplicates")
    _quarantine_repeated_documents(conn, in_window)
    conn.execute(f"""
        insert into raw.ingestion_log by name
        with received as (select content, day, source, sum(received) as received from _received group by all),
        loaded as (
            select day, source, count(*) as n from raw.events where {in_window} group by all
            union all
            select day, source, count(*) as n from raw.documents where {in_window} group by all
        ),
        quarantined as (
            select day, source, count(*) as n from raw.quarantine
            where budget_id = {budget} and ((day >= '{start}' and day < '{end}')
                  or (day is null and source in (select source from _received)))
            group by all
        )
        select {budget} as budget_id, r.day, r.source, r.received, coalesce(l.n, 0) as loaded,
               coalesce(q.n, 0) as quarantined, r.content
        from received r
        left join loaded l on l.day is not distinct from r.day and l.source = r.source
        left join quarantined q on q.day is not distinct from r.day and q.source = r.source
        order by r.day, r.source, r.content""")
    levels = spec.segments.levels
    level_names = "[" + ", ".join(quote_literal(level) for level in levels) + "]"
    conn.execute(f"""
        insert into raw.segment_members
        with leaves as (select distinct segment_id from raw.events where {in_window}),
        nodes as (
            select segment_id, depth, string_split(segment_id, '/') as parts
            from leaves, range(1, {len(levels) + 1}) as r(depth)
        )
        select {budget}, segment_id, cast(depth as integer), {level_names}[depth],
               array_to_string(parts[1:depth], '/'), parts[depth]
        from nodes n
        where not exists (select 1 from raw.segment_members m
                          where m.budget_id = {budget} and m.segment_id = n.segment_id and m.depth = n.depth)
        order by segment_id, depth""")


def _later_copies(in_window: str, alike: str) -> str:
    """SQL of the window's events (``in_window``, a condition) that repeat an earlier one in the columns ``alike``
    (a comma-separated list), earlier meaning by source and row, each with its ``occurrence`` (2 for the first
    repeat)."""
    return f"""
        with repeated as (
            -- grouped by the columns' hash, not the columns (by the event id: 30% faster at 10M events, no strings
            -- in the hash table); a collision only adds a candidate, which the numbering by the columns leaves alone
            select hash({alike}) as key from raw.events where {in_window} group by key having count(*) > 1
        ),
        numbered as (
            select *, row_number() over (partition by {alike} order by source, source_row) as occurrence
            from raw.events semi join repeated on hash({alike}) = repeated.key
            where {in_window}
        )
        select * from numbered where occurrence > 1"""


def _number_repeated_contents(conn, in_window: str) -> None:
    """Events without ids are loaded as their content and ':1' (:func:`assets.ingest_sql.checked_select`); a
    content repeated in its file is numbered by its occurrence here: two signups in one minute of an export are
    two events (1.8% of a minute-stamped log's signups were lost as copies), while a file landed twice, or
    exports that overlap, repeat each copy's numbers and are found out as duplicates.

    Numbered after the load, not by a window over every row of the load, which handed the rows on in its own
    order, different from run to run (sorting them after it took 8.9 -> 13.2 s). 5,044,624 demo events without
    ids, alternating runs: 8.7 and 9.5 s through the window, 8.6 and 9.3 s so, the same rows and ids, now in their
    files' order every run."""
    conn.execute(f"create or replace temp table _repeats as {_later_copies(in_window, 'source, event_id')}")
    conn.execute("""
        update raw.events e set event_id = left(e.event_id, length(e.event_id) - 2) || ':' || r.occurrence
        from _repeats r
        where e.budget_id = r.budget_id and e.day = r.day and e.source = r.source and e.source_row = r.source_row
          and e.event_id = r.event_id""")
    conn.execute("drop table _repeats")


def _quarantine_repeated_documents(conn, in_window: str) -> None:
    """A document id seen again in the window: the earliest source and row keeps it, the rest go to quarantine."""
    conn.execute(f"""
        create or replace temp table _duplicates as
        select * from (
            select *, row_number() over (partition by doc_id order by source, source_row) as copy_number
            from raw.documents where {in_window}
        ) where copy_number > 1""")
    conn.execute("""
        insert into raw.quarantine
        select budget_id, day, source, source_row, 'duplicate of document ' || left(doc_id, 60),
               left(cast(json_object('doc_id', doc_id, 'timestamp', doc_ts, 'kind', kind, 'segment_id', segment_id,
                                     'text', text) as varchar), 2000)
        from _duplicates order by source, source_row""")
    conn.execute("""
        delete from raw.documents d using _duplicates x
        where d.budget_id = x.budget_id and d.day = x.day and d.source = x.source and d.source_row = x.source_row""")
    conn.execute("drop table _duplicates")


def _ingest_demo(conn, spec: BudgetSpec, start: dt.date, end: dt.date, history_start: dt.date,
                 seed: int, scale: float) -> int:
    source = spec.source.model_copy(update={"event_id": "event_id"})
    spec = spec.model_copy(update={"source": source})
    # the generator makes the source's days; on another clock a window's days reach into the days either side
    pad = dt.timedelta(days=0 if spec.clock == source.timezone else 1)
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + dt.timedelta(days=DEMO_CHUNK_DAYS), end)
        generated_from = chunk_start - pad
        batches = [generate_day(spec.source.scenario, generated_from + dt.timedelta(days=i), seed, scale)
                   for i in range((chunk_end + pad - generated_from).days)]
        # rows are numbered within their day, so a day's rows look the same whatever window loads them
        events = pd.concat([b.events.assign(row_in_day=range(1, len(b.events) + 1)) for b in batches], ignore_index=True)
        conn.register("_incoming", events)
        columns = {row[0]: row[1] for row in conn.execute("describe _incoming").fetchall() if row[0] != "row_in_day"}
        _load_source(conn, spec, "_incoming", quote_literal(f"demo:{spec.source.scenario}"), columns, chunk_start,
                     chunk_end, history_start, row_number="t.row_in_day", rescan=True)
        conn.unregister("_incoming")
        docs = pd.concat([b.documents for b in batches], ignore_index=True)
        if len(docs):
            first, *rest = (docs[level].astype(str) for level in spec.segments.levels)
            docs["segment_id"] = first.str.cat(rest, sep="/")  # row-wise "/".join: 13 of 23 s (measured)
            conn.register("_docs", docs[["doc_id", "timestamp", "kind", "segment_id", "text"]])
            source_name = f"demo:{spec.source.scenario}:documents"
            on_clock = clock_timestamp_sql("timestamp", "TIMESTAMP", source.timezone, spec.clock)
            conn.execute(f"""
                create or replace temp table _docs_on_clock as
                select * replace ({on_clock} as timestamp) from _docs
                where cast({on_clock} as date) >= ? and cast({on_clock} as date) < ?""", [chunk_start, chunk_end])
            conn.execute("""
                insert into raw.documents by name
                select ? as budget_id, doc_id, timestamp as doc_ts, cast(timestamp as date) as day, kind, segment_id,
                       text, ? as source, row_number() over (partition by cast(timestamp as date) order by doc_id) as source_row
                from _docs_on_clock order by doc_id""", [spec.id, source_name])
            conn.execute("insert into _received select 'documents', cast(timestamp as date), ?, count(*) "
                         "from _docs_on_clock group by all", [source_name])
            conn.execute("drop table _docs_on_clock")
            conn.unregister("_docs")
        chunk_start = chunk_end
    return 1


@dataclass(frozen=True)
class PlannedFile:
    file: LandingFile
    first_day: dt.date | None
    last_day: dt.date | None
    rows: int
    error: str | None

    def touches(self, start: dt.date, end: dt.date, history_start: dt.date) -> bool:
        """True when the file may hold rows of ``[start, end)`` (a file with no readable day always may). Days
        before the kept history count as its first day: a file of none but older rows is read, and its rows
        quarantined, with that day's window, not left out of every window."""
        if self.first_day is None:
            return True
        return max(self.last_day, history_start) >= start and max(self.first_day, history_start) < end


def _plan_files(conn, spec: BudgetSpec, landing_dir: Path) -> list[PlannedFile]:
    """Every landing file of the budget with the days it covers, cached by content fingerprint and by how the
    spec reads it (a changed timestamp column moves its days). A file that could not be read is probed again
    on every run: a newer reader may read it."""
    files = discover(spec, landing_dir)
    # one query for the budget's files, not one a file (124 monthly files: 0.1 s)
    known = {tuple(row[:3]): row[3:] for row in conn.execute(
        "select path, fingerprint, read_as, first_day, last_day, rows, error from raw.landing_files "
        "where budget_id = ? and error is null", [spec.id]).fetchall()}
    planned: dict[str, PlannedFile] = {}
    for file in files:
        row = known.get((file.relative, file.fingerprint, file.read_as(spec)))
        if row is not None:
            planned[file.relative] = PlannedFile(file, *row)
    unplanned = [file for file in files if file.relative not in planned]
    if unplanned:
        # probed on a scratch connection: a failed read must not abort the warehouse transaction
        with duckdb.connect() as scratch:
            probed = {found.file.relative: found for found in _probe(scratch, spec, unplanned)}
        for file in unplanned:
            found = probed[file.relative]
            conn.execute("delete from raw.landing_files where budget_id = ? and path = ?", [spec.id, file.relative])
            conn.execute("insert into raw.landing_files values (?, ?, ?, ?, ?, ?, ?, ?)",
                         [spec.id, file.relative, file.fingerprint, found.first_day, found.last_day, found.rows,
                          found.error, file.read_as(spec)])
            planned[file.relative] = found
    return [planned[file.relative] for file in files]


def _probe(scratch, spec: BudgetSpec, files: list[LandingFile]) -> list[PlannedFile]:
    """The days and rows of each file, or why it cannot be read. Batchable files of one role and the same columns
    are probed in one pass (120 monthly files took 1.6 s one by one); a batch that fails is probed file by file,
    so the error names the file."""
    found, batches = [], {}
    for file in files:
        try:
            columns = read_columns(scratch, file)
        except LandingError as err:
            found.append(PlannedFile(file, None, None, 0, str(err)))
            continue
        key = (file.documents, tuple(columns.items())) if batchable(file, columns) else (file.relative,)
        batches.setdefault(key, ([], columns))[0].append(file)
    for batch, columns in batches.values():
        try:
            ranges = day_ranges(scratch, batch, columns, spec)
            found += [PlannedFile(file, *days, None) for file, days in zip(batch, ranges)]
        except (LandingError, duckdb.Error) as err:
            if len(batch) > 1:
                found += [planned for file in batch for planned in _probe(scratch, spec, [file])]
            elif isinstance(err, LandingError):
                found.append(PlannedFile(batch[0], None, None, 0, str(err)))
            else:
                found.append(PlannedFile(batch[0], None, None, 0,
                                         f"{batch[0].relative}: {str(err).splitlines()[0][:300]}"))
    return found


def _quarantine_file(conn, spec: BudgetSpec, file: LandingFile, reason: str) -> None:
    """A file that cannot be read at all is kept as one quarantine entry (row 0) naming why."""
    conn.execute("insert into raw.quarantine values (?, null, ?, 0, ?, ?)",
                 [spec.id, file.relative, reason, f'{{"file": "{file.relative}"}}'])
    conn.execute("insert into raw.ingestion_log values (?, null, ?, 1, 0, 1, ?)",
                 [spec.id, file.relative, "events" if file.documents is None else "documents"])


def _ingest_files(conn, spec: BudgetSpec, plan: list[PlannedFile], start: dt.date, end: dt.date,
                  history_start: dt.date) -> tuple[int, set[str]]:
    """Load every file that touches the window; return how many, and the columns of its readable event files.
    Parquet files of one role and the same columns are judged together, up to ``BATCH_ROWS`` rows a statement:
    10M events in 72 monthly files loaded in 25.8 s one file at a time (each statement's fixed costs, a
    part-filled row group per file) and in 14.6 s batched."""
    touching = [planned for planned in plan if planned.touches(start, end, history_start)]
    # rows with no usable day belong to their file, not to a window: replace them per file
    sources = [planned.file.relative for planned in touching]
    for table in ("quarantine", "ingestion_log"):
        conn.execute(f"delete from raw.{table} where budget_id = ? and day is null and list_contains(?, source)",
                     [spec.id, sources])
    batch: list[LandingFile] = []
    batch_columns: dict[str, str] = {}
    batch_rows = 0
    event_columns: set[str] = set()
    for planned in touching:
        file = planned.file
        if planned.error is not None:
            _quarantine_file(conn, spec, file, f"unreadable file: {planned.error}")
            continue
        columns = read_columns(conn, file)
        if file.documents is None:
            event_columns |= set(columns)
        joins = (batch and batchable(file, columns) and file.documents == batch[0].documents
                 and columns == batch_columns and batch_rows + planned.rows <= BATCH_ROWS)
        if batch and not joins:
            _load_files(conn, spec, batch, batch_columns, start, end, history_start)
            batch = []
        if not batch:
            batch_columns, batch_rows = columns, 0
        batch.append(file)
        batch_rows += planned.rows
        if not batchable(file, columns):
            _load_files(conn, spec, batch, batch_columns, start, end, history_start)
            batch = []
    if batch:
        _load_files(conn, spec, batch, batch_columns, start, end, history_start)
    return len(touching), event_columns


def ingest_window(conn: duckdb.DuckDBPyConnection, spec: BudgetSpec, start: dt.date, end: dt.date, *,
                  landing_dir: Path, history_start: dt.date, seed: int, scale: float) -> IngestionReport:
    """Replace one budget's raw rows for the days ``[start, end)``.

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        Connection to the budgetlens DuckDB file.
    spec : BudgetSpec
        The budget; ``spec.source`` says whether rows come from the demo
        generator or from landing files.
    start, end : datetime.date
        Window of days on the budget's clock (``spec.clock``), end exclusive.
    landing_dir : pathlib.Path
        Landing folder for ``files`` sources.
    history_start : datetime.date
        First day the pipeline keeps; older rows are quarantined with a reason.
    seed, scale : int, float
        Demo generator settings.
    """
    began = time.perf_counter()
    prepare(conn)
    plan = _plan_files(conn, spec, landing_dir) if spec.source.kind == "files" else []
    absent: tuple[str, ...] = ()
    with transaction(conn):
        _delete_window(conn, spec.id, start, end)
        conn.execute("create or replace temp table _received (content varchar, day date, source varchar, received bigint)")
        if spec.source.kind == "demo":
            sources = _ingest_demo(conn, spec, start, end, history_start, seed, scale)
        else:
            sources, event_columns = _ingest_files(conn, spec, plan, start, end, history_start)
            if spec.source.format == "wide" and event_columns:
                absent = tuple(f"{measure} (column {column})"
                               for measure, column in sorted(spec.source.measures.items()) if column not in event_columns)
        _finish_window(conn, spec, start, end)
        # every day of the window, events or none: a shop closed on Sundays has ingested its Sunday
        conn.execute("insert into raw.ingested_days select ?, cast(d as date) from range(?, ?, interval 1 day) as t(d) "
                     "where d >= ?", [spec.id, start, end, history_start])
        conn.execute("drop table _received")
    counts = {content: (int(received), int(loaded), int(quarantined)) for content, received, loaded, quarantined in conn.execute(
        "select content, sum(received), sum(loaded), sum(quarantined) from raw.ingestion_log "
        "where budget_id = ? and ((day >= ? and day < ?) or day is null) group by all", [spec.id, start, end]).fetchall()}
    duplicates = conn.execute(
        "select count(*) from raw.quarantine where budget_id = ? and day >= ? and day < ? and reason like 'duplicate of event%'",
        [spec.id, start, end]).fetchone()[0]
    documents = counts.get("documents", (0, 0, 0))
    return IngestionReport(spec.id, start, end, *counts.get("events", (0, 0, 0)), int(duplicates), sources,
                           time.perf_counter() - began, documents=documents[1], documents_quarantined=documents[2],
                           measures_without_column=absent)


def reconcile(conn: duckdb.DuckDBPyConnection, budget: str, start: dt.date, end: dt.date) -> dict[str, int]:
    """Counts that must agree for the window: received = loaded + quarantined, and the log matches the tables
    (events and documents together)."""
    received, logged_loaded, logged_quarantined = conn.execute(
        "select coalesce(sum(received), 0), coalesce(sum(loaded), 0), coalesce(sum(quarantined), 0) "
        "from raw.ingestion_log where budget_id = ? and day >= ? and day < ?", [budget, start, end]).fetchone()
    loaded = sum(conn.execute(f"select count(*) from raw.{table} where budget_id = ? and day >= ? and day < ?",
                              [budget, start, end]).fetchone()[0] for table in ("events", "documents"))
    quarantined = conn.execute("select count(*) from raw.quarantine where budget_id = ? and day >= ? and day < ?",
                               [budget, start, end]).fetchone()[0]
    return {"received": int(received), "loaded": int(loaded), "quarantined": int(quarantined),
            "logged_loaded": int(logged_loaded), "logged_quarantined": int(logged_quarantined)}
