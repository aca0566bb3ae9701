"""Write the spec catalogue (budgets, metrics, edges, goals, ...) to the raw schema."""

from __future__ import annotations

import duckdb

from assets.warehouse import prepare
from models.catalog import CATALOG_TABLES
from models.spec import BudgetSpec


def write_catalog(conn: duckdb.DuckDBPyConnection, specs: list[BudgetSpec]) -> dict[str, int]:
    """Replace every catalogue table from ``specs``; returns row counts per table."""
    prepare(conn)
    counts = {}
    conn.execute("begin transaction")
    try:
        for table, build in CATALOG_TABLES.items():
            frame = build(specs)
            conn.register("_catalog_frame", frame)
            conn.execute(f"create or replace table raw.{table} as select * from _catalog_frame")
            conn.unregister("_catalog_frame")
            counts[table] = len(frame)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return counts
