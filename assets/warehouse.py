"""The raw layer of the DuckDB file: tables Python writes and dbt reads as sources."""

from __future__ import annotations

from contextlib import contextmanager

import duckdb

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.events (
    budget_id varchar not null,
    event_id varchar not null,
    event_ts timestamp not null,
    day date not null,
    measure varchar not null,
    value double not null,
    segment_id varchar not null,
    source varchar not null,
    source_row bigint not null
);
create table if not exists raw.quarantine (
    budget_id varchar not null,
    day date,
    source varchar not null,
    source_row bigint not null,
    reason varchar not null,
    record varchar not null
);
create table if not exists raw.ingestion_log (
    budget_id varchar not null,
    day date,
    source varchar not null,
    received bigint not null,
    loaded bigint not null,
    quarantined bigint not null,
    content varchar not null default 'events'
);
create table if not exists raw.ingested_days (
    budget_id varchar not null,
    day date not null
);
create table if not exists raw.segment_members (
    budget_id varchar not null,
    segment_id varchar not null,
    depth integer not null,
    level varchar not null,
    node_id varchar not null,
    node_value varchar not null
);
create table if not exists raw.documents (
    budget_id varchar not null,
    doc_id varchar not null,
    doc_ts timestamp not null,
    day date not null,
    kind varchar not null,
    segment_id varchar not null,
    text varchar not null,
    source varchar not null default '',
    source_row bigint not null default 0
);
create table if not exists raw.landing_files (
    budget_id varchar not null,
    path varchar not null,
    fingerprint varchar not null,
    first_day date,
    last_day date,
    rows bigint not null,
    error varchar,
    read_as varchar not null default ''
);
create table if not exists raw.llm_calls (
    run_id varchar not null,
    call_seq integer not null,
    called_at timestamp not null,
    budget_id varchar not null,
    purpose varchar not null,
    subject varchar,
    model varchar not null,
    outcome varchar not null,
    input_tokens bigint not null,
    output_tokens bigint not null,
    cache_creation_input_tokens bigint not null,
    cache_read_input_tokens bigint not null,
    cost_usd double not null,
    price_basis varchar not null,
    error varchar
);
create table if not exists raw.text_metric_values (
    budget_id varchar not null,
    metric_id varchar not null,
    grain varchar not null,
    period_start date not null,
    segment_level varchar not null,
    segment_id varchar not null,
    value double,
    null_reason varchar,
    confidence double,
    provenance varchar not null,
    method varchar not null,
    documents_available integer not null,
    documents_used integer not null,
    tokens_used integer not null,
    sources varchar,
    conflict varchar,
    reasoning varchar,
    rejected varchar,
    cache_key varchar not null
);
"""


# Columns added after the first release: (table, column, definition). A warehouse made before them gets
# them on its next connection (old rows take the default), so an upgrade needs no rebuild.
ADDED_COLUMNS = [
    ("ingestion_log", "content", "varchar not null default 'events'"),
    ("documents", "source", "varchar not null default ''"),
    ("documents", "source_row", "bigint not null default 0"),
    ("landing_files", "read_as", "varchar not null default ''"),
]


def prepare(conn: duckdb.DuckDBPyConnection) -> None:
    """Session settings every budgetlens connection needs, and the raw tables."""
    # DuckDB prints a progress bar on long queries even without a TTY (STACK-NOTES).
    conn.execute("set enable_progress_bar = false")
    conn.execute("set TimeZone = 'UTC'")
    conn.execute(RAW_DDL)
    present = set(conn.execute("select table_name, column_name from duckdb_columns() where schema_name = 'raw' "
                               "and database_name = current_database()").fetchall())
    for table, column, definition in ADDED_COLUMNS:
        if (table, column) not in present:
            conn.execute(f"alter table raw.{table} add column {column} {definition}")


def replace_table(conn: duckdb.DuckDBPyConnection, table: str, frame, types: dict[str, str] | None = None) -> None:
    """Replace ``table`` (schema-qualified) with the rows of a pandas DataFrame, its columns typed by ``types``
    (column -> SQL type) when given, else by what DuckDB infers from the rows (NULL for an empty column)."""
    conn.register("_replacement", frame)
    try:
        if types is None:
            conn.execute(f"create or replace table {table} as select * from _replacement")
        else:
            conn.execute(f"create or replace table {table} ({column_definitions(types)})")
            conn.execute(f"insert into {table} by name select * from _replacement")
    finally:
        conn.unregister("_replacement")


def column_types(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """A schema-qualified table's columns and their SQL types, lower case, in order (empty without the table)."""
    schema, name = table.split(".")
    return {c: t.lower() for c, t in conn.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, name]).fetchall()}


def column_definitions(types: dict[str, str]) -> str:
    """A table's column list for ``create table``: each column (quoted) with its SQL type."""
    return ", ".join(f"{quote_ident(name)} {kind}" for name, kind in types.items())


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (names from specs are validated too; this is the second fence)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table]).fetchone()[0])


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection):
    """Everything inside one transaction: committed at the end, rolled back on any error (a killed or failing
    writer leaves the tables as they were)."""
    conn.execute("begin transaction")
    try:
        yield
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
