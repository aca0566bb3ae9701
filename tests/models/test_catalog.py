import duckdb
import pytest

from assets.settings import DEMO_SPECS
from models.catalog import metric_catalog, metric_components, metric_relationships
from models.spec import SYSTEM_METRICS, load_specs


@pytest.fixture(scope="module")
def specs():
    return load_specs(DEMO_SPECS)


def test_derived_sql_is_inlined_to_base_metrics(specs):
    catalog = metric_catalog(specs).set_index(["budget_id", "metric_id"])
    row = catalog.loc[("marketing_acquisition", "return_on_spend")]
    assert set(row["base_metrics"].split(",")) == {"avg_price", "units", "spend"}
    value, reason = duckdb.connect().execute(
        f"select {row['sql_value']}, {row['sql_null_reason']} from (select 2.0 as avg_price, 3.0 as units, 0.0 as spend)").fetchone()
    assert value is None and reason == "division by zero: spend = 0"


def test_every_metric_is_catalogued_once_with_its_place_in_the_chain(specs):
    catalog = metric_catalog(specs)
    assert not catalog.duplicated(["budget_id", "metric_id"]).any()
    assert len(catalog) == sum(len(s.metrics) + len(SYSTEM_METRICS) for s in specs)
    system = catalog[catalog["metric_kind"] == "system"]
    assert set(system["metric_id"]) == set(SYSTEM_METRICS) and not system["is_north_star"].any()
    assert catalog.groupby("budget_id")["is_north_star"].sum().eq(1).all()
    assert (catalog["step_order"] >= 1).all()


def test_relationship_types(specs):
    edges = metric_relationships(specs)
    marketing = edges[edges["budget_id"] == "marketing_acquisition"]
    formula = marketing[marketing["origin"] == "formula"]
    assert {("spend", "customer_acquisition_cost"), ("new_customers", "customer_acquisition_cost")} <= set(
        zip(formula["from_metric"], formula["to_metric"]))
    assert set(formula["relationship_type"]) == {"deterministic"}
    hierarchy = marketing[(marketing["origin"] == "hierarchy") & (marketing["from_metric"] == "spend")]
    assert list(zip(hierarchy["from_level"], hierarchy["to_level"])) == [
        ("channel", "_total"), ("campaign", "channel"), ("ad_group", "campaign")]
    declared = marketing[marketing["origin"] == "declared"]
    assert set(declared["relationship_type"]) == {"causal", "probabilistic"}
    composite = edges[edges["origin"] == "composite"]
    assert set(composite["to_metric"]) == {"project_health"} and composite["weight"].sum() == pytest.approx(1.0)
    assert len(metric_components(specs)) == 2
