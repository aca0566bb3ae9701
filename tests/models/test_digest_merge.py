"""The dbt merge_digests macro, rendered as shipped and run in DuckDB, against numpy on raw values."""

import duckdb
import jinja2
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from assets.settings import DBT_PROJECT_DIR

MACROS = (DBT_PROJECT_DIR / "macros" / "merge_digests.sql").read_text()


def merge_sql(relation: str, keys: list[str]) -> str:
    template = jinja2.Environment().from_string(MACROS + "{{ merge_digests(relation, keys) }}")
    return template.render(relation=relation, keys=keys)


def digest(conn, values_by_part: list[list[float]]) -> tuple:
    rows = [(0, i, v) for i, part in enumerate(values_by_part) for v in part]
    conn.register("raw_values", pd.DataFrame(rows, columns=["g", "part", "value"]))
    conn.execute("""create or replace temp table parts as
        select g, part, count(*) as event_count, sum(value) as value_sum, min(value) as value_min,
               max(value) as value_max, var_pop(value) * count(*) as value_m2
        from raw_values group by g, part""")
    return conn.execute(f"select event_count, value_sum, value_mean, value_min, value_max, value_m2 "
                        f"from ({merge_sql('parts', ['g'])})").fetchone()


values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(values, min_size=1, max_size=30), min_size=1, max_size=8))
def test_merged_digest_equals_direct_statistics(parts):
    conn = duckdb.connect()
    n, total, mean, low, high, m2 = digest(conn, parts)
    flat = np.concatenate([np.array(p) for p in parts])
    scale = max(1.0, float(np.abs(flat).max()))
    assert n == flat.size
    assert total == pytest.approx(flat.sum(), rel=1e-9, abs=1e-6 * scale)
    assert mean == pytest.approx(flat.mean(), rel=1e-9, abs=1e-9 * scale)
    assert (low, high) == (flat.min(), flat.max())
    assert m2 == pytest.approx(((flat - flat.mean()) ** 2).sum(), rel=1e-7, abs=1e-6 * scale * scale)


def test_known_numbers():
    # {1,2,3} and {10,20}: mean 7.2, M2 254.8, sample variance 63.7
    n, total, mean, low, high, m2 = digest(duckdb.connect(), [[1, 2, 3], [10, 20]])
    assert (n, total, low, high) == (5, 36, 1, 20)
    assert mean == pytest.approx(7.2) and m2 == pytest.approx(254.8) and m2 / (n - 1) == pytest.approx(63.7)


def test_merge_is_stable_for_large_offsets():
    # a naive sum-of-squares merge loses everything here; Chan's formula keeps the variance
    base = 1e9
    n, _, mean, _, _, m2 = digest(duckdb.connect(), [[base + 1, base + 2], [base + 3, base + 4, base + 5]])
    assert mean == pytest.approx(base + 3) and m2 / (n - 1) == pytest.approx(2.5, rel=1e-6)
