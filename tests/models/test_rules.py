import pytest

from models.formula import FormulaError
from models.rules import parse_condition


def test_and_binds_tighter_than_or():
    cond = parse_condition("churn_risk > 0.8 or csat < 3 and tickets >= 100")
    assert cond.references() == ["churn_risk", "csat", "tickets"]
    assert cond.holds({"churn_risk": 0.9, "csat": 4, "tickets": 1}) is True
    assert cond.holds({"churn_risk": 0.1, "csat": 2, "tickets": 150}) is True
    assert cond.holds({"churn_risk": 0.1, "csat": 2, "tickets": 50}) is False


def test_unknown_when_a_value_is_missing():
    assert parse_condition("cpa / 2 > 10").holds({}) is None
    assert parse_condition("a > 1 or b > 1").holds({"a": 5}) is True


@pytest.mark.parametrize("text, fragment", [
    ("churn_risk 0.8", "expected one of <, <=, >, >=, ==, !="),
    ("a > 1 > 2", "more than one comparison"),
    ("a > (1", "expected ')'"),
    ("  ", "empty condition"),
])
def test_bad_conditions_are_clear(text, fragment):
    with pytest.raises(FormulaError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_condition(text)
