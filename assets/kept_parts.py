"""Tables written in parts (one budget at one grain, say) that are kept while their inputs read the same.

A stage whose results for a part only depend on data that have not changed since the last run (the code,
the spec and every value it reads, up to the rounding of sums: :mod:`models.fingerprint`) copies that part's
rows from its table instead of computing them again. The readings are stored beside the table, written in
the same transaction, so a killed run leaves the two consistent.
"""

import functools
import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import models
from assets.warehouse import column_definitions, column_types, replace_table, table_exists, transaction
from models.fingerprint import Reading, same_reading

# what the stages' results depend on besides the data, the spec and our code
LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "holidays")
BY_BUDGET_AND_GRAIN = ("budget_id", "grain")
_READING_TYPES = {"digest": "varchar", "input_values": "double[]"}


@dataclass
class Part:
    """One part's rows (the part named by ``key``, its values of the table's key columns): computed now
    (``rows``), or kept from the stored table (``rows`` is None) because they were computed from the same inputs."""

    key: tuple
    inputs: Reading
    rows: list[dict] | None

    @property
    def name(self) -> str:
        return "/".join(str(k) for k in self.key)


Stored = dict[tuple, tuple[str, np.ndarray]]  # a part's key -> the stored reading's digest, values


@functools.cache
def code_fingerprint(stage_file: str) -> str:
    """A stage's code: every pure model's source, the stage module's (``stage_file``), and the numeric
    libraries' versions. Any change to them makes every stored part of the stage stale."""
    digest, root = hashlib.sha256(), Path(models.__file__).parent.parent
    for path in sorted(root.joinpath("models").rglob("*.py")) + [Path(stage_file)]:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}=={importlib.metadata.version(library)}\n".encode())
    return digest.hexdigest()


def unchanged(stored: Stored, key: tuple, inputs: Reading) -> bool:
    """Whether the part ``key``'s inputs read as ``stored`` holds (so its rows in the table can be kept)."""
    return key in stored and same_reading(*stored[key], inputs)


def stored_readings(conn, table: str, readings_table: str, keys: tuple[str, ...] = BY_BUDGET_AND_GRAIN) -> Stored:
    """The readings of the inputs of ``table``'s parts, by their ``keys`` columns' values (none before the
    first run, or without the table)."""
    if not all(table_exists(conn, *name.split(".")) for name in (table, readings_table)):
        return {}
    listed = ", ".join(keys)
    named = conn.execute(f"select {listed}, digest from {readings_table} order by {listed}").fetchall()
    # the values as numpy arrays, not lists of Python floats: 1.1M values of drift's readings in 6 ms, not 130
    values = conn.execute(f"select input_values from {readings_table} order by {listed}").fetchnumpy()["input_values"]
    return {tuple(row[:-1]): (row[-1], value) for row, value in zip(named, values)}


def write_parts(conn, table: str, readings_table: str, types: dict[str, str], parts: list[Part],
                keys: tuple[str, ...] = BY_BUDGET_AND_GRAIN) -> None:
    """``table`` (columns and SQL ``types``) as the parts say, in their order, in one transaction with their
    inputs' readings: kept parts' rows (their ``keys`` columns equal to the part's key) copied from the table
    as they are (same types, same order), computed parts' rows new. A table already laid out as ``types`` is
    emptied and filled, so it keeps its constraints; any other is replaced. Nothing is written when every
    part is kept from the same readings as stored (the table would be written as it is)."""
    if _as_stored(conn, table, readings_table, types, parts, keys):
        return
    columns = list(types)
    computed = [pd.DataFrame(p.rows, columns=columns).assign(_part=i, _row=range(len(p.rows)))
                for i, p in enumerate(parts) if p.rows is not None]
    fresh = pd.concat(computed, ignore_index=True) if computed else pd.DataFrame(columns=[*columns, "_part", "_row"])
    kept = pd.DataFrame([(i, *p.key) for i, p in enumerate(parts) if p.rows is None], columns=["_part", *keys])
    matches = " and ".join(f"t.{k} = k.{k}" for k in keys)
    conn.register("_fresh", fresh)
    conn.register("_kept", kept)
    try:
        with transaction(conn):
            conn.execute(f"create or replace temp table _parts_next ({column_definitions(types)}, "
                         "_part integer, _row bigint)")
            if len(kept):
                conn.execute("insert into _parts_next by name select t.*, k._part, t.rowid as _row "
                             f"from {table} as t join _kept as k on {matches}")
            conn.execute("insert into _parts_next by name select * from _fresh")
            if column_types(conn, table) == {c: t.lower() for c, t in types.items()}:
                conn.execute(f"delete from {table}")
            else:
                conn.execute(f"create or replace table {table} ({column_definitions(types)})")
            conn.execute(f"insert into {table} by name "
                         "select * exclude (_part, _row) from _parts_next order by _part, _row")
            readings = pd.DataFrame([(*p.key, p.inputs.digest, p.inputs.values) for p in parts],
                                    columns=[*keys, *_READING_TYPES])
            replace_table(conn, readings_table, readings, types={**{k: types[k] for k in keys}, **_READING_TYPES})
            conn.execute("drop table _parts_next")
    finally:
        conn.unregister("_fresh")
        conn.unregister("_kept")


def _as_stored(conn, table: str, readings_table: str, types: dict[str, str], parts: list[Part],
               keys: tuple[str, ...]) -> bool:
    """Whether the table and its readings already hold exactly what ``parts`` would write: every part kept, the
    same parts as stored, each with the very same reading (not only one within the rounding tolerance)."""
    if any(p.rows is not None for p in parts) or column_types(conn, table) != {c: t.lower() for c, t in types.items()}:
        return False
    stored = stored_readings(conn, table, readings_table, keys)
    return stored.keys() == {p.key for p in parts} and all(
        stored[p.key][0] == p.inputs.digest and np.array_equal(stored[p.key][1], p.inputs.values) for p in parts)
