"""Write the spec catalogue (budgets, metrics, edges, goals, ...) to the raw schema."""

from __future__ import annotations

import duckdb

from assets.warehouse import prepare, replace_table
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
            replace_table(conn, f"raw.{table}", frame)
            counts[table] = len(frame)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return counts
