"""Parts of a table kept while their inputs read the same, and written only when something changed."""

import dataclasses

import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.kept_parts import Part, stored_readings, write_parts
from models.fingerprint import read_frames

TYPES = {"budget_id": "varchar", "grain": "varchar", "value": "double"}
TABLE, READINGS = "main.results", "main.result_inputs"


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        yield connection


def _reading(values: list[float]):
    return read_frames([pd.DataFrame({"day": range(len(values)), "value": values})], salt="test")


def _parts(rows: bool) -> list[Part]:
    """Budgets a and b at one grain: computed (with their rows) or kept (``rows`` False)."""
    def computed(budget: str, value: float) -> list[dict] | None:
        return [{"budget_id": budget, "grain": "day", "value": value}] if rows else None

    return [Part(("a", "day"), _reading([1.0, 2.5]), computed("a", 3.5)),
            Part(("b", "day"), _reading([4.0]), computed("b", 4.0))]


def test_stored_readings_come_back_as_written(conn):
    write_parts(conn, TABLE, READINGS, TYPES, _parts(rows=True))
    stored = stored_readings(conn, TABLE, READINGS)
    assert stored.keys() == {("a", "day"), ("b", "day")}
    digest, values = stored[("a", "day")]
    assert digest == _reading([1.0, 2.5]).digest
    assert isinstance(values, np.ndarray) and values.tolist() == [1.0, 2.5]


def test_nothing_is_written_when_every_part_is_kept_from_the_very_same_readings(conn):
    write_parts(conn, TABLE, READINGS, TYPES, _parts(rows=True))
    conn.execute(f"insert into {TABLE} values ('ghost', 'day', 0)")  # a row no writing would keep

    write_parts(conn, TABLE, READINGS, TYPES, _parts(rows=False))
    assert conn.execute(f"select count(*) from {TABLE} where budget_id = 'ghost'").fetchone()[0] == 1

    # kept, but read within the rounding tolerance only: the table and its readings are written again
    a, b = _parts(rows=False)
    nudged = dataclasses.replace(a.inputs, values=a.inputs.values * (1 + 1e-15))
    write_parts(conn, TABLE, READINGS, TYPES, [dataclasses.replace(a, inputs=nudged), b])
    assert conn.execute(f"select budget_id, value from {TABLE} order by all").fetchall() == [("a", 3.5), ("b", 4.0)]
    assert np.array_equal(stored_readings(conn, TABLE, READINGS)[("a", "day")][1], nudged.values)


def test_a_part_gone_or_computed_again_is_written(conn):
    write_parts(conn, TABLE, READINGS, TYPES, _parts(rows=True))
    write_parts(conn, TABLE, READINGS, TYPES, _parts(rows=False)[:1])  # budget b gone
    assert conn.execute(f"select budget_id from {TABLE}").fetchall() == [("a",)]
    assert stored_readings(conn, TABLE, READINGS).keys() == {("a", "day")}

    again = [dataclasses.replace(_parts(rows=True)[0], rows=[{"budget_id": "a", "grain": "day", "value": 9.0}])]
    write_parts(conn, TABLE, READINGS, TYPES, again)
    assert conn.execute(f"select value from {TABLE}").fetchall() == [(9.0,)]
