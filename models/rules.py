"""Rule conditions: comparisons of formulas joined by ``and`` / ``or``.

``cpa > 150 and new_customers < 10`` parses into a :class:`Condition`; each side
of a comparison is a formula (see :mod:`models.formula`). ``and`` binds tighter
than ``or``; no parentheses across comparisons are needed for spec rules.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Mapping

from models.formula import Expr, FormulaError, evaluate, parse_formula, references

_COMPARATORS = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq,
    "!=": operator.ne, "<": operator.lt, ">": operator.gt,
}
_CMP_RE = re.compile(r"(<=|>=|==|!=|<|>)")
_BOOL_RE = re.compile(r"\s+(and|or)\s+")


@dataclass(frozen=True)
class Comparison:
    left: Expr
    op: str
    right: Expr

    def holds(self, values: Mapping[str, float | None]) -> bool | None:
        left, right = evaluate(self.left, values), evaluate(self.right, values)
        if left.value is None or right.value is None:
            return None
        return _COMPARATORS[self.op](left.value, right.value)


@dataclass(frozen=True)
class Condition:
    """Disjunction of conjunctions of comparisons."""

    any_of: tuple[tuple[Comparison, ...], ...]

    def references(self) -> list[str]:
        seen: dict[str, None] = {}
        for group in self.any_of:
            for cmp in group:
                for name in references(cmp.left) + references(cmp.right):
                    seen.setdefault(name, None)
        return list(seen)

    def holds(self, values: Mapping[str, float | None]) -> bool | None:
        """True/False, or None when a needed value is missing (unknown is not false)."""
        saw_unknown = False
        for group in self.any_of:
            results = [cmp.holds(values) for cmp in group]
            if all(r is True for r in results):
                return True
            saw_unknown |= any(r is None for r in results) and not any(r is False for r in results)
        return None if saw_unknown else False


def _parse_comparison(text: str) -> Comparison:
    parts = _CMP_RE.split(text)
    if len(parts) != 3:
        found = "no comparison" if len(parts) == 1 else "more than one comparison"
        raise FormulaError(f"{text.strip()!r}: expected one of <, <=, >, >=, ==, != between two formulas ({found})")
    left, op, right = parts
    return Comparison(parse_formula(left), op, parse_formula(right))


def parse_condition(text: str) -> Condition:
    """Parse a rule condition such as ``churn_risk > 0.8 or csat < 3``.

    Raises
    ------
    FormulaError
        On a missing comparator or a bad formula on either side.
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("empty condition")
    tokens = _BOOL_RE.split(text.strip())
    clauses, connectors = tokens[0::2], tokens[1::2]
    groups: list[list[Comparison]] = [[_parse_comparison(clauses[0])]]
    for connector, clause in zip(connectors, clauses[1:]):
        if connector == "or":
            groups.append([])
        groups[-1].append(_parse_comparison(clause))
    return Condition(tuple(tuple(g) for g in groups))
