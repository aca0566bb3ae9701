"""The allocation asset, materialised by Dagster on a real DuckDB file: a budget whose first allocation cannot be
estimated still logs its later ones, and a segment too young to fit does not block the others."""

import datetime as dt

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import yaml
from dagster_duckdb import DuckDBResource

from assets.prescriptive_assets import allocation_recommendations
from tests.models.test_spec import VALID

YIELDS = {"web": 0.010, "mail": 0.025, "tv": 0.004}


def metric_values(weeks: int, young: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = []
    for w in range(weeks):
        start = dt.date(2026, 1, 5) + dt.timedelta(weeks=w)
        for channel, rate in {**YIELDS, **({young: 0.02} if young else {})}.items():
            if channel == young and w < weeks - 3:
                continue  # opened three weeks ago
            spend = rng.uniform(2000, 6000)
            for metric, value in (("revenue", spend), ("orders", rate * spend + rng.normal(0, 2))):
                rows.append({"budget_id": "shop", "metric_id": metric, "grain": "week", "period_start": start,
                             "segment_level": "channel", "segment_id": channel, "value": value, "is_complete": True})
    return pd.DataFrame(rows)


def materialise(db, frame: pd.DataFrame) -> None:
    with duckdb.connect(str(db)) as conn:
        conn.register("frame", frame)
        conn.execute("create or replace table main.metric_values as select * from frame")
    result = dg.materialize([allocation_recommendations], resources={"duckdb": DuckDBResource(database=str(db))})
    assert result.success


def shop_warehouse(tmp_path, monkeypatch):
    """The shop budget optimising orders by channel, as the specs, and its warehouse file (not yet made)."""
    specs = tmp_path / "specs"
    specs.mkdir()
    spec = {**VALID, "optimization": {"objective": "orders", "lever": "revenue", "level": "channel", "grain": "week"}}
    (specs / "shop.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("BUDGETLENS_SPECS", str(specs))
    return tmp_path / "warehouse.duckdb"


def test_a_first_run_without_a_recommendation_does_not_stop_later_ones_being_logged(tmp_path, monkeypatch):
    db = shop_warehouse(tmp_path, monkeypatch)

    materialise(db, metric_values(weeks=4))  # too short: the reason is kept, no recommendation
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("select count(*) from main.allocation_recommendations").fetchone()[0] == 0
        reason = conn.execute("select explanation from main.allocation_constraints").fetchone()[0]
        assert "need at least 6 complete weeks" in reason

    materialise(db, metric_values(weeks=10, young="app"))
    with duckdb.connect(str(db)) as conn:
        logged = conn.execute("select segment_id, held_reason from main.allocation_log order by 1").fetchall()
        types = dict(conn.execute("select column_name, data_type from information_schema.columns "
                                  "where table_name = 'allocation_log'").fetchall())
    assert [segment for segment, _ in logged] == ["app", "mail", "tv", "web"]
    assert "got 3" in dict(logged)["app"] and dict(logged)["mail"] is None
    assert types["basis_period"] == "DATE" and types["current"] == "DOUBLE" and types["held_reason"] == "VARCHAR"


def test_a_log_kept_before_the_shared_demand_was_recorded_gains_its_column(tmp_path, monkeypatch):
    """A warehouse whose allocation_log predates ``curve_demand`` still takes the next recommendations."""
    from assets.prescriptive_assets import RECOMMENDATION_TYPES
    from assets.warehouse import column_definitions

    db = shop_warehouse(tmp_path, monkeypatch)
    older = {column: kind for column, kind in RECOMMENDATION_TYPES.items() if column != "curve_demand"}
    with duckdb.connect(str(db)) as conn:
        conn.execute(f"create table main.allocation_log ({column_definitions(older)})")
    materialise(db, metric_values(weeks=10))
    with duckdb.connect(str(db)) as conn:
        demands = conn.execute("select curve_demand from main.allocation_log").fetchall()
    assert len(demands) == 3 and all(d > 0 for (d,) in demands)
