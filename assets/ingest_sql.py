"""SQL that reads incoming rows, validates them and splits them into loaded events and quarantine.

One pass over the source: columns are used in their own type where that type is
already right (a Parquet TIMESTAMP or DOUBLE needs no parsing) and parsed from
text otherwise, so a bad cell becomes a quarantined row with a reason instead of
a failed read. The first failing check names the reason. The original record is
rendered as JSON only for the rows that are quarantined: rendering every row
cost more than all the checks together (measured on 5M events).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from assets.warehouse import quote_ident, quote_literal
from models.spec import NAME_RE, BudgetSpec, DocumentSource, Source

MAX_SEGMENT_LENGTH = 200
MAX_RECORD_LENGTH = 2000
# A document longer than this is more than any reading's token budget (100,000 tokens) could take.
MAX_DOCUMENT_LENGTH = 1_000_000
# Bounds of a plausible event time; anything outside is quarantined, not loaded.
TS_MAX = "2100-01-01"
_OFFSET_RE = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)$"
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_NAIVE_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE")


def _base_type(sql_type: str) -> str:
    return sql_type.upper().split("(")[0].strip()


def clock_timestamp_sql(col: str, sql_type: str, zone: str, clock: str, fmt: str | None = None) -> str:
    """The budget's wall-clock (naive) timestamp from a column of any type; NULL when it cannot be read as a time.

    Text: an explicit offset wins, else ``zone`` applies. A naive timestamp is read
    in ``zone``; a zoned one is converted. The instant is then told on ``clock``, the
    budget's zone, so its days and hours are the budget's own (a naive time already
    on that clock is kept as it is: no conversion, and a time a DST change skipped
    stays where it was written). ``fmt``, a strptime format, reads text that is not ISO 8601 (its ``%z`` an
    offset).
    """
    kind = _base_type(sql_type)
    on_clock = quote_literal(clock)
    if kind == "TIMESTAMP WITH TIME ZONE" or kind == "TIMESTAMPTZ":
        return f"timezone({on_clock}, {col})"

    def naive(value: str) -> str:
        return value if zone == clock else f"timezone({on_clock}, timezone({quote_literal(zone)}, {value}))"

    if kind in _NAIVE_TIMESTAMPS:
        return naive(f"cast({col} as timestamp)")
    text = f"trim(cast({col} as varchar))"
    if fmt is not None:
        parsed = f"try_strptime({text}, {quote_literal(fmt)})"
        return f"timezone({on_clock}, {parsed})" if "%z" in fmt or "%Z" in fmt else naive(parsed)
    return (
        f"case when regexp_matches({text}, '{_OFFSET_RE}') "
        f"then timezone({on_clock}, try_cast({text} as timestamptz)) "
        f"else {naive(f'try_cast({text} as timestamp)')} end"
    )


def _value_sql(col: str, sql_type: str, src: Source | None = None) -> str:
    if _base_type(sql_type) in _NUMERIC:
        return f"cast({col} as double)"
    text = f"trim(cast({col} as varchar))"
    if src is not None and src.thousands_separator:
        text = f"replace({text}, {quote_literal(src.thousands_separator)}, '')"
        if src.thousands_separator == " ":
            text = f"replace({text}, chr(160), '')"  # spreadsheets group with a no-break space
    if src is not None and src.decimal_separator == ",":
        text = f"replace({text}, ',', '.')"
    return f"try_cast({text} as double)"


def _blank_sql(col: str, sql_type: str) -> str:
    """True when a cell holds nothing (NULL, or only spaces in a text column)."""
    if _base_type(sql_type) == "VARCHAR":
        return f"({col} is null or trim({col}) = '')"
    return f"({col} is null)"


def _text_sql(col: str, sql_type: str) -> str:
    return col if _base_type(sql_type) == "VARCHAR" else f"cast({col} as varchar)"


def _lacking(needed: Iterable[str | None], columns: Iterable[str]) -> list[str]:
    """``file lacks column(s): ...`` for the ``needed`` columns (None: not mapped) not among ``columns``."""
    lacking = sorted({c for c in needed if c is not None} - set(columns))
    return [f"file lacks column(s): {', '.join(lacking)}"] if lacking else []


def missing_columns_reason(src: Source, columns: Iterable[str]) -> str | None:
    """Why a file's rows cannot be read for lack of columns, or None. A wide file needs one measure column at
    least, not every one: two systems' exports (till receipts, door counters) may each carry their own
    measures, and a file without a measure's column simply holds none of that measure."""
    present = set(columns)
    wide = src.format == "wide"
    problems = _lacking([src.timestamp, None if wide else src.measure, None if wide else src.value, src.event_id,
                         *src.segments.values()], present)
    if wide and not present & set(src.measures.values()):
        problems.append(f"file has none of the measure columns: {', '.join(sorted(set(src.measures.values())))}")
    return "; ".join(problems) or None


def checked_select(spec: BudgetSpec, reader: str, source_sql: str, columns: dict[str, str], start: dt.datetime,
                   end: dt.datetime, earliest: dt.datetime, row_number: str = "row_number() over ()",
                   overflow: list[str] | None = None) -> str:
    """Every row of ``reader`` for the window ``[start, end)`` or for no window at all, typed and judged.

    Parameters
    ----------
    spec : BudgetSpec
        The budget: its source mapping, measures (with bounds) and segment levels.
    reader : str
        A table or table function holding the rows of one or more sources (alias ``t``).
    source_sql : str
        SQL of the name recorded with each row: its landing file's relative path, or the generator.
    columns : dict
        The reader's column names and DuckDB types. A column the spec needs but the
        reader lacks quarantines every row with a reason naming it (see
        :func:`missing_columns_reason`: a wide file may lack some measure columns).
    start, end, earliest : datetime.datetime
        The window, and the first time the pipeline keeps. A row belongs to no window
        when its timestamp is missing, unparseable or outside ``[earliest, TS_MAX)``;
        such rows get ``day`` NULL and are kept in quarantine per source.
    row_number : str
        SQL numbering each source's rows from 1 in source order (over the reader's alias ``t``).
    overflow : list of str, optional
        Columns holding fields beyond the header's (a CSV row longer than its header). A row with
        anything there is quarantined: its fields no longer line up with the header's names.

    Returns
    -------
    str
        A query with columns ``source, source_row, ts, day, measure, val, eid,
        segment_id, reason, record``: ``reason`` NULL for rows to load, ``record`` (the
        original row as JSON) only for rows with a reason. Duplicates are found later,
        across every source of the window.
    """
    src, levels = spec.source, spec.segments.levels
    missing = missing_columns_reason(src, columns)

    def col(name: str | None) -> str:
        return f"t.{quote_ident(name)}" if name is not None and name in columns else "cast(null as varchar)"

    # the record kept for a quarantined row: the source's own columns (not the reader's row number)
    original = "struct_pack(" + ", ".join(f"{quote_ident(c)} := t.{quote_ident(c)}" for c in columns) + ")"
    seg_cols = [src.segments.get(level, level) for level in levels]
    segs = [(col(c), columns.get(c, "VARCHAR")) for c in seg_cols]
    ts_col, ts_type = col(src.timestamp), columns.get(src.timestamp, "VARCHAR")
    eid_text = f"nullif(trim({_text_sql(col(src.event_id), columns.get(src.event_id, 'VARCHAR'))}), '')"
    overflow = [c for c in overflow or [] if c in columns]
    extra = " + ".join(f"cast(not {_blank_sql(col(c), columns[c])} as integer)" for c in overflow) or "0"

    def branch(measure_sql: str, measure_blank: str, value_col: str, value_type: str, eid_suffix: str,
               where: str, row_values: list[str] | None = None) -> str:
        # without an id an event is its content: the time, the measure, the row's values (a wide row's every
        # measure cell, so two rows alike in one measure stay two events) and the segments
        values = row_values if row_values is not None else [_text_sql(value_col, value_type)]
        content = ", ".join(f"coalesce({x}, '')" for x in [
            _text_sql(ts_col, ts_type), measure_sql, *values, *[_text_sql(c, t) for c, t in segs]])
        return f"""
        select {source_sql} as source, {row_number} as source_row,
            {clock_timestamp_sql(ts_col, ts_type, src.timezone, spec.clock, src.timestamp_format)} as ts,
            {_blank_sql(ts_col, ts_type)} as ts_blank,
            {ts_col} as ts_cell,
            {measure_sql} as measure, {measure_blank} as measure_blank,
            {_value_sql(value_col, value_type, src)} as val, {_blank_sql(value_col, value_type)} as val_blank,
            {value_col} as value_cell,
            coalesce({eid_text}{eid_suffix}, md5(concat_ws('|', {content}))) as eid,
            {', '.join(f'{_text_sql(c, t)} as seg_{i}' for i, (c, t) in enumerate(segs))},
            {extra} as extra_fields,
            {original} as original
        from {reader} t {where}"""

    if src.format == "long":
        m_col, m_type = col(src.measure), columns.get(src.measure, "VARCHAR")
        v_col, v_type = col(src.value), columns.get(src.value, "VARCHAR")
        rows = branch(f"trim({_text_sql(m_col, m_type)})", _blank_sql(m_col, m_type), v_col, v_type, "", "")
    else:
        # wide: one event per non-empty measure cell; a row with no value at all is kept as one
        # event with no measure, so it is quarantined rather than silently dropped.
        branches = []
        row_values = [_text_sql(col(c), columns.get(c, "VARCHAR")) for _, c in sorted(src.measures.items())]
        for measure, column in sorted(src.measures.items()):
            v_col, v_type = col(column), columns.get(column, "VARCHAR")
            branches.append(branch(quote_literal(measure), "false", v_col, v_type,
                                   f" || ':' || {quote_literal(measure)}", f"where not {_blank_sql(v_col, v_type)}",
                                   row_values))
        all_blank = " and ".join(_blank_sql(col(c), columns.get(c, "VARCHAR")) for c in src.measures.values())
        branches.append(branch("cast(null as varchar)", "true", "cast(null as varchar)", "VARCHAR", "",
                               f"where {all_blank}"))
        rows = " union all ".join(branches)
    if src.event_id is None:
        # without ids an event is its content and its occurrence in its file, the first ':1'; the loaded rows
        # whose content repeats in their file are numbered on after the load
        # (:func:`assets.ingestion._number_repeated_contents`)
        rows = f"select * replace (eid || ':1' as eid) from ({rows})"

    checks = _row_checks(missing, len(columns) - len(overflow), earliest, spec.clock, src.timestamp_format) + [
        "when measure_blank then 'measure missing'",
        f"when measure not in ({', '.join(quote_literal(m) for m in spec.measures)}) "
        "then 'unknown measure: ' || left(measure, 60)",
        "when val_blank then 'value missing'",
        "when val is null then 'value not numeric: ' || left(cast(value_cell as varchar), 60)",
        "when isnan(val) or isinf(val) then 'value not finite: ' || left(cast(value_cell as varchar), 60)",
    ]
    for name, measure in spec.measures.items():
        if measure.min is not None:
            checks.append(f"when measure = {quote_literal(name)} and val < {measure.min!r} "
                          f"then 'value ' || cast(val as varchar) || ' below minimum {measure.min!r} of measure {name}'")
        if measure.max is not None:
            checks.append(f"when measure = {quote_literal(name)} and val > {measure.max!r} "
                          f"then 'value ' || cast(val as varchar) || ' above maximum {measure.max!r} of measure {name}'")
    checks += _segment_checks(levels)
    return _judged(rows, checks, "measure, val, eid", len(levels), start, end, earliest)


def _row_checks(missing: str | None, width: int, earliest: dt.datetime, clock: str,
                fmt: str | None = None) -> list[str]:
    """The first checks of any landed row: the columns are there (else ``missing`` says why not), the row fits
    the header, the time is usable (text read by ``fmt``, a strptime format, when given) and inside the kept
    history on the budget's ``clock``."""
    lo, hi = f"timestamp '{earliest:%Y-%m-%d %H:%M:%S}'", f"timestamp '{TS_MAX}'"
    checks = [f"when true then {quote_literal(missing)}"] if missing else []
    unparseable = "timestamp not parseable" + ("" if fmt is None else f" as {fmt}") + ": "
    cell = "left(cast(ts_cell as varchar), 60)"
    # the time as the clock reads it, where it reads otherwise than the cell: 2025-01-01T03:06Z is before a
    # New York budget's first day, 2025-01-01
    told = "strftime(ts, '%Y-%m-%d %H:%M:%S')"
    on_clock = (f"case when replace(trim(cast(ts_cell as varchar)), 'T', ' ') = {told} then '' "
                f"else ' (' || {told} || {quote_literal(f' on the budget clock, {clock})')} end")
    return checks + [
        f"when extra_fields > 0 then 'row has ' || cast(extra_fields as varchar) || ' field(s) more than "
        f"the header ({width} columns): its values do not line up with the column names'",
        "when ts_blank then 'timestamp missing'",
        f"when ts is null then {quote_literal(unparseable)} || {cell}",
        f"when ts < {lo} or ts >= {hi} then 'timestamp outside {earliest:%Y-%m-%d}..{TS_MAX[:4]}: ' || {cell} "
        f"|| {on_clock}",
    ]


def _segment_checks(levels: list[str]) -> list[str]:
    checks = []
    for i, level in enumerate(levels):
        checks += [
            f"when seg_{i} is null or trim(seg_{i}) = '' then 'segment {level} missing'",
            f"when contains(seg_{i}, '/') then 'segment {level} contains \"/\": ' || left(seg_{i}, 60)",
            f"when length(seg_{i}) > {MAX_SEGMENT_LENGTH} then 'segment {level} longer than {MAX_SEGMENT_LENGTH} characters'",
        ]
    return checks


def _judged(rows: str, checks: list[str], kept: str, depth: int, start: dt.datetime, end: dt.datetime,
            earliest: dt.datetime) -> str:
    """``rows`` cut to the window (or to no window at all), judged by ``checks`` (first failing names the
    reason), with the segment path of their first ``depth`` levels and the original record of rejected rows."""
    lo, hi = f"timestamp '{earliest:%Y-%m-%d %H:%M:%S}'", f"timestamp '{TS_MAX}'"
    window = f"ts >= timestamp '{start:%Y-%m-%d %H:%M:%S}' and ts < timestamp '{end:%Y-%m-%d %H:%M:%S}'"
    segment_id = f"concat_ws('/', {', '.join(f'trim(seg_{i})' for i in range(depth))})" if depth else "''"
    return f"""
with incoming as ({rows}
),
windowed as (
    select *, case when coalesce({window}, false) then cast(ts as date) end as day
    from incoming
    where coalesce({window}, false) or not coalesce(ts >= {lo} and ts < {hi}, false)
),
judged as (
    select *, case {' '.join(checks)} else null end as reason from windowed
),
final as (
    select source, source_row, ts, day, {kept}, {segment_id} as segment_id, reason,
        case when reason is not null then left(cast(to_json(original) as varchar), {MAX_RECORD_LENGTH}) end as record
    from judged
)
select * from final
"""


def checked_documents_select(spec: BudgetSpec, documents: DocumentSource, reader: str, source_sql: str,
                             columns: dict[str, str], start: dt.datetime, end: dt.datetime, earliest: dt.datetime,
                             row_number: str = "row_number() over ()", overflow: list[str] | None = None) -> str:
    """Every document row of ``reader`` for the window ``[start, end)`` or for no window at all, typed and judged.

    Parameters are those of :func:`checked_select`, with ``documents`` the spec's mapping of the file's
    columns. Returns a query with columns ``source, source_row, ts, day, kind, body, doc_id, segment_id,
    reason, record``; repeated document ids are found later, across every source of the window.
    """
    src, levels = spec.source, spec.segments.levels
    mapping = src.document_segments(documents, levels)
    needed = {documents.timestamp, documents.text, documents.kind_column, documents.doc_id, *mapping.values()}
    missing = "; ".join(_lacking(needed, columns)) or None

    def col(name: str | None) -> str:
        return f"t.{quote_ident(name)}" if name is not None and name in columns else "cast(null as varchar)"

    def typed(name: str | None) -> str:
        return _text_sql(col(name), columns.get(name, "VARCHAR"))

    original = "struct_pack(" + ", ".join(f"{quote_ident(c)} := t.{quote_ident(c)}" for c in columns) + ")"
    ts_col, ts_type = col(documents.timestamp), columns.get(documents.timestamp, "VARCHAR")
    kind = quote_literal(documents.kind) if documents.kind is not None else f"trim({typed(documents.kind_column)})"
    segs = [typed(c) for c in mapping.values()]
    content = ", ".join(f"coalesce({x}, '')" for x in [_text_sql(ts_col, ts_type), kind, typed(documents.text), *segs])
    overflow = [c for c in overflow or [] if c in columns]
    extra = " + ".join(f"cast(not {_blank_sql(col(c), columns[c])} as integer)" for c in overflow) or "0"
    rows = f"""
        select {source_sql} as source, {row_number} as source_row,
            {clock_timestamp_sql(ts_col, ts_type, src.document_zone(documents), spec.clock)} as ts,
            {_blank_sql(ts_col, ts_type)} as ts_blank,
            {ts_col} as ts_cell, {kind} as kind, {typed(documents.text)} as body,
            coalesce(nullif(trim({typed(documents.doc_id)}), ''), md5(concat_ws('|', {content}))) as doc_id,
            {''.join(f'{c} as seg_{i}, ' for i, c in enumerate(segs))}{extra} as extra_fields,
            {original} as original
        from {reader} t"""
    checks = _row_checks(missing, len(columns) - len(overflow), earliest, spec.clock) + [
        "when kind is null or kind = '' then 'document kind missing'",
        f"when not regexp_full_match(kind, '{NAME_RE[1:-1]}') "
        "then 'document kind not a lower_snake_case name: ' || left(kind, 60)",
        "when body is null or trim(body) = '' then 'document text missing'",
        f"when length(body) > {MAX_DOCUMENT_LENGTH} then 'document text longer than {MAX_DOCUMENT_LENGTH:,} characters'",
        f"when length(doc_id) > {MAX_SEGMENT_LENGTH} then 'document id longer than {MAX_SEGMENT_LENGTH} characters'",
    ] + _segment_checks(list(mapping))
    return _judged(rows, checks, "kind, body, doc_id", len(mapping), start, end, earliest)
