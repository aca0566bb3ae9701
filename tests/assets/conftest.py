import copy
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from models.spec import parse_spec

SPEC = {
    "id": "shop", "name": "Shop", "owner": "me@example.com",
    "allocation": {"amount": 1000, "currency": "EUR", "period": "month"},
    "value_chain": ["traffic", "sales"],
    "segments": {"levels": ["channel", "campaign"]},
    "measures": {"visit": {"min": 0}, "order_value": {"min": 0}},
    "metrics": {
        "visits": {"measure": "visit", "agg": "count", "step": "traffic"},
        "revenue": {"measure": "order_value", "agg": "sum", "step": "sales", "roles": ["north_star"]},
        "orders": {"measure": "order_value", "agg": "count", "step": "sales"},
        "conversion": {"formula": "orders / visits", "step": "sales", "unit": "ratio"},
    },
    "source": {"kind": "files", "pattern": "shop/*.csv", "event_id": "id",
               "segments": {"channel": "channel", "campaign": "campaign"}},
}


def make_spec(**source_overrides):
    data = copy.deepcopy(SPEC)
    data["source"].update(source_overrides)
    return parse_spec(data, "shop.yaml")


@pytest.fixture
def spec():
    return make_spec()


@pytest.fixture
def landing(tmp_path) -> Path:
    folder = tmp_path / "landing"
    (folder / "shop").mkdir(parents=True)
    return folder


@pytest.fixture
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "test.duckdb"))
    yield connection
    connection.close()


HISTORY_START = dt.date(2026, 1, 1)
