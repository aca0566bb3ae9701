"""SQL that stages, validates and splits incoming rows into loaded events and quarantine.

Everything arrives as text (``*_raw`` columns) so that a bad cell becomes a
quarantined row with a reason instead of a failed read. The first failing check
names the reason; a row that passes every check but repeats an earlier event id
(or, without ids, identical content) is quarantined as a duplicate.
"""

from __future__ import annotations

import datetime as dt

from assets.warehouse import quote_ident, quote_literal
from models.spec import BudgetSpec, Source

MAX_SEGMENT_LENGTH = 200
MAX_RECORD_LENGTH = 2000
# Bounds of a plausible event time; anything outside is quarantined, not loaded.
TS_MAX = "2100-01-01"
_OFFSET_RE = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)$"


def timestamp_utc_sql(text_col: str, timezone: str) -> str:
    """UTC (naive) timestamp from text: an explicit offset wins, else ``timezone`` applies."""
    trimmed = f"trim({text_col})"
    return (
        f"case when regexp_matches({trimmed}, '{_OFFSET_RE}') "
        f"then timezone('UTC', try_cast({trimmed} as timestamptz)) "
        f"else timezone('UTC', timezone({quote_literal(timezone)}, try_cast({trimmed} as timestamp))) end"
    )


def staged_select(spec: BudgetSpec, src: Source, reader: str, source: str, columns: list[str],
                  row_number: str = "row_number() over ()") -> str:
    """Map a file's (or frame's) columns to the staged text layout for this budget.

    A column the spec needs but the file lacks is staged as NULL, so each row is
    quarantined with a reason naming the missing column. ``row_number`` numbers the
    source's rows (file order by default).
    """
    present = set(columns)

    def col(name: str | None) -> str:
        if name is None or name not in present:
            return "cast(null as varchar)"
        return f"cast({quote_ident(name)} as varchar)"

    missing = sorted({c for c in [src.timestamp, src.measure if src.format == "long" else None,
                                  src.value if src.format == "long" else None, src.event_id,
                                  *src.segments.values(), *(src.measures.values() if src.format == "wide" else [])]
                      if c is not None and c not in present})
    missing_sql = quote_literal(", ".join(missing)) if missing else "cast(null as varchar)"
    seg_cols = [src.segments.get(level, level) for level in spec.segments.levels]
    segs = ", ".join(f"{col(c)} as seg_{i}" for i, c in enumerate(seg_cols))
    record = f"left(cast(to_json(t) as varchar), {MAX_RECORD_LENGTH})"
    base = (f"select {quote_literal(source)} as source, {row_number} as source_row, {record} as record, "
            f"{col(src.timestamp)} as ts_raw, {col(src.event_id)} as event_id_raw, {segs}, "
            f"{missing_sql} as missing_columns, t.* from {reader} t")
    if src.format == "long":
        return (f"select source, source_row, record, ts_raw, event_id_raw, missing_columns, "
                f"{', '.join(f'seg_{i}' for i in range(len(seg_cols)))}, "
                f"{col(src.measure)} as measure_raw, {col(src.value)} as value_raw from ({base}) t")
    # wide: one event per non-empty measure cell; a row with no value at all is kept as one
    # event with no measure, so it is quarantined rather than silently dropped.
    segs_out = ", ".join(f"seg_{i}" for i in range(len(seg_cols)))
    branches = []
    for measure, column in sorted(src.measures.items()):
        branches.append(
            f"select source, source_row, record, ts_raw, "
            f"case when event_id_raw is null then null else event_id_raw || ':' || {quote_literal(measure)} end as event_id_raw, "
            f"missing_columns, {segs_out}, {quote_literal(measure)} as measure_raw, {col(column)} as value_raw "
            f"from ({base}) t where nullif(trim({col(column)}), '') is not null")
    all_empty = " and ".join(f"nullif(trim({col(c)}), '') is null" for c in src.measures.values())
    branches.append(
        f"select source, source_row, record, ts_raw, event_id_raw, missing_columns, {segs_out}, "
        f"cast(null as varchar) as measure_raw, cast(null as varchar) as value_raw from ({base}) t where {all_empty}")
    return " union all ".join(branches)


def checked_select(spec: BudgetSpec, staged: str, start: dt.datetime, end: dt.datetime,
                   earliest: dt.datetime) -> str:
    """Validate staged rows of the window ``[start, end)``, plus rows that belong to no window.

    A row belongs to no window when its timestamp is missing, unparseable, or
    outside ``[earliest, TS_MAX)``; such rows get ``day`` NULL and are kept in
    quarantine per source. Output columns: the staged ones plus ``ts``, ``day``,
    ``val``, ``eid``, ``segment_id`` and ``reason`` (NULL for rows to load).
    """
    levels = spec.segments.levels
    ts = timestamp_utc_sql("ts_raw", spec.source.timezone)
    content = ", ".join(["coalesce(ts_raw, '')", "coalesce(measure_raw, '')", "coalesce(value_raw, '')",
                         *[f"coalesce(seg_{i}, '')" for i in range(len(levels))]])
    checks = [
        "when missing_columns is not null then 'file lacks column(s): ' || missing_columns",
        "when ts_raw is null or trim(ts_raw) = '' then 'timestamp missing'",
        "when ts is null then 'timestamp not parseable: ' || left(ts_raw, 60)",
        f"when ts < timestamp '{earliest:%Y-%m-%d %H:%M:%S}' or ts >= timestamp '{TS_MAX}' "
        f"then 'timestamp outside {earliest:%Y-%m-%d}..{TS_MAX[:4]}: ' || left(ts_raw, 60)",
        "when measure_raw is null or trim(measure_raw) = '' then 'measure missing'",
        f"when trim(measure_raw) not in ({', '.join(quote_literal(m) for m in spec.measures)}) "
        "then 'unknown measure: ' || left(measure_raw, 60)",
        "when value_raw is null or trim(value_raw) = '' then 'value missing'",
        "when val is null then 'value not numeric: ' || left(value_raw, 60)",
        "when isnan(val) or isinf(val) then 'value not finite: ' || left(value_raw, 60)",
    ]
    for name, measure in spec.measures.items():
        if measure.min is not None:
            checks.append(f"when trim(measure_raw) = {quote_literal(name)} and val < {measure.min!r} "
                          f"then 'value ' || cast(val as varchar) || ' below minimum {measure.min!r} of measure {name}'")
        if measure.max is not None:
            checks.append(f"when trim(measure_raw) = {quote_literal(name)} and val > {measure.max!r} "
                          f"then 'value ' || cast(val as varchar) || ' above maximum {measure.max!r} of measure {name}'")
    for i, level in enumerate(levels):
        checks += [
            f"when seg_{i} is null or trim(seg_{i}) = '' then 'segment {level} missing'",
            f"when contains(seg_{i}, '/') then 'segment {level} contains \"/\": ' || left(seg_{i}, 60)",
            f"when length(seg_{i}) > {MAX_SEGMENT_LENGTH} then 'segment {level} longer than {MAX_SEGMENT_LENGTH} characters'",
        ]
    segment_id = "concat_ws('/', " + ", ".join(f"trim(seg_{i})" for i in range(len(levels))) + ")"
    return f"""
with typed as (
    select s.*,
        {ts} as ts,
        try_cast(trim(value_raw) as double) as val,
        coalesce(nullif(trim(event_id_raw), ''), md5(concat_ws('|', {content}))) as eid,
        {segment_id} as segment_id
    from ({staged}) s
),
windowed as (
    select *, case when in_window then cast(ts as date) end as day
    from (select *, coalesce(ts >= timestamp '{start:%Y-%m-%d %H:%M:%S}' and ts < timestamp '{end:%Y-%m-%d %H:%M:%S}', false) as in_window,
                 coalesce(ts >= timestamp '{earliest:%Y-%m-%d %H:%M:%S}' and ts < timestamp '{TS_MAX}', false) as has_window
          from typed)
    where in_window or not has_window
),
reasoned as (
    select *, case {' '.join(checks)} else null end as first_problem from windowed
),
ranked as (
    select *,
        case when first_problem is null
             then row_number() over (partition by first_problem is null, eid order by source, source_row) end as copy_number
    from reasoned
)
select * exclude (first_problem, copy_number, in_window, has_window),
    coalesce(first_problem, case when copy_number > 1 then 'duplicate of event ' || left(eid, 60) end) as reason
from ranked
"""
