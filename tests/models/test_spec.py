import copy
import datetime as dt

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from assets.settings import DEMO_SPECS
from models.spec import SpecError, load_spec, load_specs, parse_spec

VALID = {
    "id": "shop", "name": "Shop", "owner": "me@example.com",
    "allocation": {"amount": 1000, "currency": "EUR", "period": "month"},
    "value_chain": ["traffic", "sales"],
    "segments": {"levels": ["channel", "campaign"], "attributes": {"channel": {"web": {"region": "eu"}}}},
    "measures": {"visit": {"min": 0}, "order_value": {"min": 0}},
    "metrics": {
        "visits": {"measure": "visit", "agg": "count", "step": "traffic", "roles": ["input"]},
        "orders": {"measure": "order_value", "agg": "count", "step": "sales", "roles": ["output", "north_star"]},
        "revenue": {"measure": "order_value", "agg": "sum", "step": "sales"},
        "conversion": {"formula": "orders / visits", "step": "sales", "unit": "ratio"},
        "aov": {"formula": "revenue / orders", "step": "sales"},
        "health": {"composite": {"components": [
            {"metric": "conversion", "weight": 0.5, "normalize": {"method": "range", "min": 0, "max": 0.1}},
            {"metric": "aov", "weight": 0.5, "normalize": {"method": "zscore"}}]}, "step": "sales"},
    },
    "relationships": [{"from": "visits", "to": "orders", "type": "probabilistic", "lag_days": 1}],
    "goals": [{"id": "g1", "metric": "orders", "target": 100, "deadline": "2026-12-31"}],
    "rules": [{"id": "r1", "when": "conversion < 0.01", "scope": {"level": "channel"}, "action": {"type": "flag"}}],
    "events": [{"date": "2026-03-01", "name": "Launch", "kind": "launch", "level": "channel", "segment": "web"}],
    "source": {"kind": "files", "pattern": "shop/*.csv", "segments": {"channel": "ch", "campaign": "cmp"}},
}


def mutate(path: str, value):
    data = copy.deepcopy(VALID)
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


DELETE = object()


def problems(data) -> list[tuple[str, str, str]]:
    with pytest.raises(SpecError) as err:
        parse_spec(data, "budgets/shop.yaml")
    return err.value.problems


def test_valid_spec_and_demo_specs_load():
    spec = parse_spec(VALID, "budgets/shop.yaml")
    assert spec.north_star == "orders"
    assert spec.metrics["health"].kind == "composite"
    assert [s.id for s in load_specs(DEMO_SPECS)] == ["customer_support", "marketing_acquisition", "product_delivery"]


@pytest.mark.parametrize("path, value, key, fragment", [
    ("metrics.conversion.formula", "orders / vists", "metrics.conversion.formula", "unknown metric 'vists' (did you mean 'visits'?)"),
    ("metrics.conversion.formula", "orders / (visits", "metrics.conversion.formula", "bad syntax"),
    ("metrics.visits.step", "trafic", "metrics.visits.step", "unknown value-chain step 'trafic'"),
    ("metrics.visits.measure", "visits", "metrics.visits.measure", "unknown measure 'visits'"),
    ("rules.0.scope.level", "chanel", "rules.0.scope.level", "unknown segment level 'chanel'"),
    ("events.0.level", "region", "events.0.level", "unknown segment level 'region'"),
    ("goals.0.metric", "sales", "goals.0.metric", "unknown metric 'sales'"),
    ("rules.0.when", "conversion is low", "rules.0.when", "bad syntax"),
    ("allocation.amount", "lots", "allocation.amount", "valid number"),
    ("allocation.currency", "euro", "allocation.currency", "should match pattern"),
    ("metrics.visits.agg", "median", "metrics.visits.agg", "Input should be"),
    ("metrics.visits.roles", ["hero"], "metrics.visits.roles.0", "Input should be"),
    ("source.segments", {"channel": "ch"}, "source.segments", "missing campaign"),
    ("source.pattern", "../elsewhere/*.csv", "source", "inside the landing folder"),
    ("source.timezone", "Mars/Olympus", "source.timezone", "unknown time zone"),
    ("timezone", "Europe/Pariss", "timezone", "unknown time zone 'Europe/Pariss'"),
    ("holidays", [{"country": "Germany"}], "holidays.0.country", "unknown country 'GERMANY': use an ISO 3166-1 code"),
    ("holidays", [{"country": "UZ"}, {"country": "gbb"}], "holidays.1.country", "unknown country 'GBB' (did you mean 'GB'?)"),
    ("holidays", [{"country": "de", "subdivision": "XX"}], "holidays.0.subdivision", "DE has no subdivision 'XX' (it has: BB, BE"),
    ("holidays", [{"country": "US", "level": "region", "segment": "n"}], "holidays.0.level", "unknown segment level 'region'"),
    ("holidays", [{"country": "US", "level": "channel"}], "holidays.0", "level and segment go together"),
    ("segments.levels", ["channel", "channel"], "segments.levels", "duplicate segment level"),
    ("metrics.health.composite.components.0.metric", "health", "metrics.health.composite.components.0.metric", "composite score"),
    ("relationships.0.to", "visits", "relationships.0", "two different metrics"),
    ("metrics.extra", {"measure": "visit", "agg": "sum", "formula": "visits", "step": "sales"}, "metrics.extra", "exactly one of"),
    ("metrics.unknown_field", {"measure": "visit", "agg": "sum", "step": "sales", "colour": "red"}, "metrics.unknown_field", "unknown key 'colour'"),
    ("metrics.visits.rolls", ["input"], "metrics.visits", "unknown key 'rolls' (did you mean 'roles'?)"),
    ("relationships.0.form", "visits", "relationships.0", "unknown key 'form' (did you mean 'from'?)"),
    ("source.timestmp", "ts", "source", "unknown key 'timestmp' (did you mean 'timestamp'?)"),
    ("reporting_grian", "week", "", "unknown key 'reporting_grian' (did you mean 'reporting_grain'?)"),
    ("name", DELETE, "name", "Field required"),
])
def test_each_error_names_file_key_and_problem(path, value, key, fragment):
    found = problems(mutate(path, value))
    assert any(file == "budgets/shop.yaml" and k == key and fragment in message for file, k, message in found), found


def test_holiday_calendars_become_known_events_of_kind_holiday():
    spec = parse_spec({**VALID, "holidays": [{"country": "gb", "subdivision": "sct"}]}, "shop.yaml")
    events = spec.known_events(dt.date(2026, 12, 20), dt.date(2027, 1, 5))
    holidays = [(e.date, e.name, e.kind) for e in events if e.kind == "holiday"]
    # Scotland: 26 December and 2 January fall on Saturdays, so each is observed the Monday after
    assert [(day.isoformat(), name) for day, name, kind in holidays if kind == "holiday"] == [
        ("2026-12-25", "Christmas Day (GB-SCT)"), ("2026-12-26", "Boxing Day (GB-SCT)"),
        ("2026-12-28", "Boxing Day (observed) (GB-SCT)"), ("2027-01-01", "New Year's Day (GB-SCT)"),
        ("2027-01-02", "New Year Holiday (GB-SCT)"), ("2027-01-04", "New Year Holiday (observed) (GB-SCT)")]
    assert len(events) == len(holidays) + len(spec.events)


def test_the_clock_is_the_budgets_timezone_else_the_sources():
    assert parse_spec(VALID, "shop.yaml").clock == VALID["source"].get("timezone", "UTC")
    paris = {**VALID, "source": {**VALID["source"], "timezone": "Europe/Paris"}}
    assert parse_spec(paris, "shop.yaml").clock == "Europe/Paris"
    assert parse_spec({**paris, "timezone": "America/New_York"}, "shop.yaml").clock == "America/New_York"


MOOD = {"text": {"kinds": ["ticket"], "question": "How happy are customers?", "min": 1, "max": 5, "level": "campaign"},
        "step": "sales"}
WITH_DOCUMENTS = {**VALID, "metrics": {**VALID["metrics"], "mood": MOOD},
                  "source": {**VALID["source"], "documents": [
                      {"pattern": "shop/tickets/*.csv", "kind": "ticket", "text": "body"}]}}


def test_a_text_metric_of_a_files_budget_needs_documents_it_can_read():
    assert parse_spec(WITH_DOCUMENTS, "budgets/shop.yaml").source.documents[0].kind == "ticket"
    found = problems({**VALID, "metrics": {**VALID["metrics"], "mood": MOOD}})
    assert ("budgets/shop.yaml", "metrics.mood.text", "the source has no documents to read: add source.documents "
            "(landing files with a timestamp, a text and a kind)") in found
    found = problems({**WITH_DOCUMENTS, "metrics": {**VALID["metrics"], "mood": {
        **MOOD, "text": {**MOOD["text"], "kinds": ["tickets"]}}}})
    assert ("budgets/shop.yaml", "metrics.mood.text.kinds", "no document source has kind 'tickets' "
            "(did you mean 'ticket'?)") in found
    shallow = copy.deepcopy(WITH_DOCUMENTS)
    shallow["source"]["documents"][0]["segments"] = {"channel": "ch"}
    assert ("budgets/shop.yaml", "metrics.mood.text.level", "the documents name segments down to channel, "
            "not 'campaign'") in problems(shallow)
    demo = {**WITH_DOCUMENTS, "source": {"kind": "demo", "scenario": "x", "documents": WITH_DOCUMENTS["source"]["documents"]}}
    assert any("documents come from landing files" in m for _, _, m in problems(demo))


def test_cycles_are_reported_with_their_path():
    data = mutate("metrics.conversion.formula", "aov / visits")
    data["metrics"]["aov"]["formula"] = "revenue / conversion"
    found = problems(data)
    assert any("cycle: " in m and "aov" in m and "conversion" in m for _, _, m in found), found


def test_duplicate_goal_and_rule_ids():
    data = copy.deepcopy(VALID)
    data["goals"].append(dict(data["goals"][0]))
    assert ("budgets/shop.yaml", "goals", "duplicate id 'g1'") in problems(data)


def test_a_goal_starting_on_or_after_its_deadline_is_named_by_its_key():
    data = mutate("goals.0.start", "2026-12-31")
    assert ("budgets/shop.yaml", "goals.0.start", "start must be before deadline") in problems(data)


def test_exactly_one_north_star():
    data = mutate("metrics.visits.roles", ["input", "north_star"])
    assert any(k == "metrics" and "found 2" in m for _, k, m in problems(data))


def test_a_comma_splitting_a_flow_mapping_value_is_explained(tmp_path):
    # YAML ends {formula: max(a, 1)} at the comma: the rest becomes a key of its own
    text = yaml.safe_dump(VALID, sort_keys=False).replace(
        "metrics:\n", "metrics:\n  ratio: {formula: visits / max(orders, 1), step: sales}\n", 1)
    (tmp_path / "shop.yaml").write_text(text)
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "shop.yaml")
    (file, key, message), = err.value.problems
    assert key == "metrics.ratio" and message.startswith("unknown key '1)'") and 'quote' in message


def test_duplicate_yaml_key_and_duplicate_budget_ids_across_files(tmp_path):
    text = yaml.safe_dump(VALID, sort_keys=False)
    (tmp_path / "a.yaml").write_text(text + "name: Again\n")
    with pytest.raises(SpecError, match=r"a.yaml: line \d+: bad YAML: duplicate key 'name'"):
        load_spec(tmp_path / "a.yaml")
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(SpecError, match=r"b.yaml: id: duplicate budget id 'shop' \(also in .*a.yaml\)"):
        load_specs(tmp_path)


def test_bad_yaml_names_what_is_wrong_and_where(tmp_path):
    """The fast parser's refusals carry the full parser's words: which alias, which character."""
    text = yaml.safe_dump(VALID, sort_keys=False)
    (tmp_path / "a.yaml").write_text(text + "owner_again: *nobody\n")
    with pytest.raises(SpecError, match=r"a.yaml: line \d+: bad YAML: found undefined alias 'nobody'"):
        load_spec(tmp_path / "a.yaml")
    (tmp_path / "a.yaml").write_text(text + "extra:\n\t- tabbed\n")
    with pytest.raises(SpecError, match=r"a.yaml: line \d+: bad YAML: found character '\\t' that cannot start"):
        load_spec(tmp_path / "a.yaml")


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(SpecError, match="no \\*.yaml budget specs"):
        load_specs(tmp_path)
    with pytest.raises(SpecError, match="spec folder does not exist"):
        load_specs(tmp_path / "nope")


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["id", "metrics", "segments", "source", "goals", "rules", "measures", "allocation", "value_chain",
                        "timezone", "holidays"]),
       yaml_values)
def test_fuzzed_specs_fail_with_a_validation_error_not_a_traceback(key, value):
    data = copy.deepcopy(VALID)
    data[key] = value
    try:
        parse_spec(data, "fuzz.yaml")
    except SpecError as err:
        assert all(file == "fuzz.yaml" for file, _, _ in err.problems)


ON_A_CLOCK = {**VALID, "timezone": "America/New_York",
              "holidays": [{"country": "US"}, {"country": "DE", "subdivision": "BY", "level": "channel", "segment": "web"}]}
SEEDS = [VALID, WITH_DOCUMENTS, ON_A_CLOCK] + [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(DEMO_SPECS.glob("*.yaml"))]
formula_like = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789+-*/().<>=!, ", max_size=40)


def _paths(node, prefix=()):
    """Every key path into a parsed YAML document."""
    if prefix:
        yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, prefix + (key,))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_part_of_any_spec_mutated_gives_a_validation_error_not_a_traceback(data):
    """Up to three edits anywhere in a valid spec (the demo specs included: text metrics, optimisation,
    archetypes): a key deleted, a value replaced by any YAML value or by formula-like text."""
    document = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = list(_paths(document))
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        edit = data.draw(st.sampled_from(["delete", "value", "formula"]))
        if edit == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(yaml_values if edit == "value" else formula_like)
    try:
        parse_spec(document, "fuzz.yaml")
    except SpecError as err:
        assert err.problems and all(file == "fuzz.yaml" and message for file, _, message in err.problems)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_file_text_gives_a_validation_error_not_a_traceback(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "shop.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_spec(path)
    except SpecError as err:
        assert all(file == str(path) for file, _, _ in err.problems)


def test_deeply_nested_formula_is_a_validation_error():
    with pytest.raises(SpecError, match="metrics"):
        parse_spec(mutate("metrics.conversion.formula", "(" * 5000 + "orders" + ")" * 5000), "shop.yaml")


def test_very_long_formula_is_a_validation_error():
    with pytest.raises(SpecError, match="tokens"):
        parse_spec(mutate("metrics.conversion.formula", " + ".join(["orders"] * 5000)), "shop.yaml")


def test_a_variance_is_neutral_unless_the_spec_says_otherwise():
    data = copy.deepcopy(VALID)
    data["metrics"]["spread"] = {"measure": "order_value", "agg": "variance", "step": "sales"}
    data["metrics"]["tighter"] = {"measure": "order_value", "agg": "variance", "step": "sales", "favourable": "down"}
    spec = parse_spec(data, "shop.yaml")
    assert [spec.metrics[m].favourable for m in ("spread", "tighter", "revenue", "conversion")] == [
        "neutral", "down", "up", "up"]
