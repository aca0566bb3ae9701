"""Write the spec catalogue (budgets, metrics, edges, goals, ...) to the raw schema."""

from __future__ import annotations

import datetime as dt

import duckdb

from assets.warehouse import prepare, replace_table, transaction
from models.catalog import CATALOG_TABLES, known_events
from models.spec import BudgetSpec


def write_catalog(conn: duckdb.DuckDBPyConnection, specs: list[BudgetSpec], first: dt.date,
                  last: dt.date) -> dict[str, int]:
    """Replace every catalogue table from ``specs`` (holidays from ``first`` to ``last``); returns row counts
    per table."""
    prepare(conn)
    counts = {}
    with transaction(conn):
        builders = {**CATALOG_TABLES, "known_events": lambda s: known_events(s, first, last)}
        for table, build in builders.items():
            frame = build(specs)
            replace_table(conn, f"raw.{table}", frame)
            counts[table] = len(frame)
    return counts
