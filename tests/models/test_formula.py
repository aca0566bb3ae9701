import math

import duckdb
import pytest
from hypothesis import given, strategies as st

from models.formula import (
    BinOp, Call, FormulaError, Neg, Num, Ref, evaluate, null_reason_sql, parse_formula, ratio_parts, references,
    substitute, to_source, to_sql,
)


def test_precedence_and_associativity():
    assert parse_formula("a + b * c") == BinOp("+", Ref("a"), BinOp("*", Ref("b"), Ref("c")))
    assert parse_formula("a - b - c") == BinOp("-", BinOp("-", Ref("a"), Ref("b")), Ref("c"))
    assert parse_formula("-(a + 1)") == Neg(BinOp("+", Ref("a"), Num(1.0)))
    assert parse_formula("max(a, b, 2)") == Call("max", (Ref("a"), Ref("b"), Num(2.0)))


@pytest.mark.parametrize("text, fragment", [
    ("a +", "unexpected end"),
    ("a * (b + c", "expected ')'"),
    ("a $ b", "unexpected character '$' at position 2"),
    ("foo(a)", "unknown function 'foo'"),
    ("abs(a, b)", "abs() takes 1..1 arguments"),
    ("", "empty formula"),
    ("a b", "unexpected 'b' at position 2"),
    ("Revenue / x", "must be lower_snake_case"),
])
def test_syntax_errors_say_what_and_where(text, fragment):
    with pytest.raises(FormulaError) as err:
        parse_formula(text)
    assert fragment in str(err.value)


def test_references_and_substitution():
    formulas = {"revenue": parse_formula("price * quantity"), "margin": parse_formula("revenue - cost")}
    assert references(formulas["margin"]) == ["revenue", "cost"]
    inlined = substitute(formulas["margin"], formulas)
    assert references(inlined) == ["price", "quantity", "cost"]
    assert to_source(inlined) == "((price * quantity) - cost)"


@pytest.mark.parametrize("text, parts", [
    ("orders / leads", ("orders", "leads", 1.0)),
    ("1000 * cost / requests", ("cost", "requests", 1000.0)),
    ("cost * 1000 / requests", ("cost", "requests", 1000.0)),
    ("100 * (errors / requests)", ("errors", "requests", 100.0)),
    ("(errors / requests) * 100", ("errors", "requests", 100.0)),
    ("a + b", None), ("a * b", None), ("a / b / c", None), ("(a + b) / c", None), ("a / (b + c)", None),
    ("a / a", None), ("0 * a / b", None), ("a / 2", None), ("abs(a) / b", None),
])
def test_ratio_parts_recognise_a_scaled_ratio_of_two_metrics_and_nothing_else(text, parts):
    assert ratio_parts(parse_formula(text)) == parts


def test_evaluate_division_by_zero_is_null_with_reason():
    expr = parse_formula("orders / visits")
    assert evaluate(expr, {"orders": 3, "visits": 4}).value == 0.75
    result = evaluate(expr, {"orders": 3, "visits": 0})
    assert result.value is None and result.reason == "division by zero: visits = 0"
    missing = evaluate(expr, {"orders": 3})
    assert missing.value is None and missing.reason == "missing input: visits"


def test_sql_matches_python_evaluation_in_duckdb():
    expr = parse_formula("0.5 * abs(a - b) / max(c, 1) + min(a, b)")
    conn = duckdb.connect()
    for a, b, c in [(3.0, 5.0, 2.0), (-1.0, 4.0, 0.5), (10.0, 10.0, 0.0)]:
        sql_value = conn.execute(f"select {to_sql(expr)} from (select {a} as a, {b} as b, {c} as c)").fetchone()[0]
        assert sql_value == pytest.approx(evaluate(expr, {"a": a, "b": b, "c": c}).value)


def test_sql_null_reason_names_the_zero_denominator():
    expr = parse_formula("spend / leads")
    conn = duckdb.connect()
    value, reason = conn.execute(
        f"select {to_sql(expr)}, {null_reason_sql(expr)} from (select 10.0 as spend, 0.0 as leads)").fetchone()
    assert value is None and reason == "division by zero: leads = 0"


names = st.sampled_from(["a", "b", "c"])
leaf = st.one_of(names.map(Ref), st.integers(1, 9).map(lambda n: Num(float(n))))
exprs = st.recursive(leaf, lambda inner: st.builds(BinOp, st.sampled_from("+-*/"), inner, inner), max_leaves=8)


@given(exprs, st.floats(-50, 50), st.floats(-50, 50), st.floats(-50, 50))
def test_rendered_source_parses_back_to_the_same_value(expr, a, b, c):
    values = {"a": a, "b": b, "c": c}
    again = parse_formula(to_source(expr))
    first, second = evaluate(expr, values), evaluate(again, values)
    assert (first.value is None) == (second.value is None)
    if first.value is not None and math.isfinite(first.value):
        assert second.value == pytest.approx(first.value, rel=1e-9, abs=1e-9)


def test_sql_min_max_propagate_null_like_python():
    expr = parse_formula("max(a, b)")
    value = duckdb.connect().execute(f"select {to_sql(expr)} from (select 1.0 as a, cast(null as double) as b)").fetchone()[0]
    assert value is None and evaluate(expr, {"a": 1.0, "b": None}).value is None
