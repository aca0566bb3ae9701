"""Metric formulas: a small arithmetic language parsed into an expression tree.

Formulas are never ``eval``'d. The tree compiles to SQL (for dbt) and is walked
in Python (for evaluation and, later, component drift).

Grammar::

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/') unary)*
    unary  := '-' unary | atom
    atom   := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')'

Functions: ``abs(x)``, ``min(a, b, ...)``, ``max(a, b, ...)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Union

FUNCTIONS = {"abs": (1, 1), "min": (2, 16), "max": (2, 16)}
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/(),]))"
)


class FormulaError(ValueError):
    """A formula that does not parse; ``position`` is the 0-based offset."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Neg:
    operand: "Expr"


@dataclass(frozen=True)
class BinOp:
    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple["Expr", ...]


Expr = Union[Num, Ref, Neg, BinOp, Call]


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            bad = len(text) - len(text[pos:].lstrip())
            raise FormulaError(f"unexpected character {text[bad]!r} at position {bad}", bad)
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


# Bounds that keep every later tree walk (SQL compilation, evaluation, drift) far from Python's recursion limit.
MAX_TOKENS = 400
MAX_NESTING = 50


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        if len(self.tokens) > MAX_TOKENS:
            raise FormulaError(f"formula has {len(self.tokens)} tokens; at most {MAX_TOKENS} are allowed", 0)
        self.i = 0
        self.depth = 0

    def nested(self, pos: int) -> None:
        """Enter one more level of brackets, call or sign (the caller steps back out when done)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormulaError(f"formula nested deeper than {MAX_NESTING} levels at position {pos}", pos)

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise FormulaError(f"unexpected end of formula{f', expected {value!r}' if value else ''}", len(self.text))
        if value is not None and token[1] != value:
            raise FormulaError(f"expected {value!r} at position {token[2]}, found {token[1]!r}", token[2])
        self.i += 1
        return token

    def parse(self) -> Expr:
        if not self.tokens:
            raise FormulaError("empty formula", 0)
        expr = self.expr()
        token = self.peek()
        if token is not None:
            raise FormulaError(f"unexpected {token[1]!r} at position {token[2]}", token[2])
        return expr

    def expr(self) -> Expr:
        node = self.term()
        while (token := self.peek()) and token[1] in "+-" and token[0] == "op":
            self.take()
            node = BinOp(token[1], node, self.term())
        return node

    def term(self) -> Expr:
        node = self.unary()
        while (token := self.peek()) and token[1] in "*/" and token[0] == "op":
            self.take()
            node = BinOp(token[1], node, self.unary())
        return node

    def unary(self) -> Expr:
        token = self.peek()
        if token and token[1] == "-" and token[0] == "op":
            self.take()
            self.nested(token[2])
            node = Neg(self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Expr:
        kind, value, pos = self.take()
        if kind == "num":
            return Num(float(value))
        if kind == "name":
            nxt = self.peek()
            if nxt and nxt[1] == "(":
                return self.call(value, pos)
            if not NAME_PATTERN.match(value):
                raise FormulaError(f"metric name {value!r} at position {pos} must be lower_snake_case", pos)
            return Ref(value)
        if value == "(":
            self.nested(pos)
            node = self.expr()
            self.take(")")
            self.depth -= 1
            return node
        raise FormulaError(f"unexpected {value!r} at position {pos}", pos)

    def call(self, func: str, pos: int) -> Call:
        if func not in FUNCTIONS:
            raise FormulaError(f"unknown function {func!r} at position {pos}; known: {', '.join(sorted(FUNCTIONS))}", pos)
        self.take("(")
        self.nested(pos)
        args = [self.expr()]
        while (token := self.peek()) and token[1] == ",":
            self.take()
            args.append(self.expr())
        self.take(")")
        self.depth -= 1
        low, high = FUNCTIONS[func]
        if not low <= len(args) <= high:
            raise FormulaError(f"{func}() takes {low}..{high} arguments, got {len(args)}", pos)
        return Call(func, tuple(args))


def parse_formula(text: str) -> Expr:
    """Parse a metric formula into an expression tree.

    Parameters
    ----------
    text : str
        Formula such as ``"spend / nullif_zero"`` or ``"0.5 * a + 0.5 * b"``.

    Returns
    -------
    Expr
        The root node.

    Raises
    ------
    FormulaError
        On any syntax error, with the position of the offending token.
    """
    if not isinstance(text, str):
        raise FormulaError(f"formula must be a string, got {type(text).__name__}")
    return _Parser(text).parse()


def references(expr: Expr) -> list[str]:
    """Metric names referenced by ``expr``, in first-seen order, without repeats."""
    seen: dict[str, None] = {}

    def walk(node: Expr) -> None:
        if isinstance(node, Ref):
            seen.setdefault(node.name, None)
        elif isinstance(node, Neg):
            walk(node.operand)
        elif isinstance(node, BinOp):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Call):
            for arg in node.args:
                walk(arg)

    walk(expr)
    return list(seen)


def substitute(expr: Expr, definitions: Mapping[str, Expr]) -> Expr:
    """Inline every reference that has a definition, recursively (callers ensure no cycles)."""
    if isinstance(expr, Ref):
        inner = definitions.get(expr.name)
        return substitute(inner, definitions) if inner is not None else expr
    if isinstance(expr, Neg):
        return Neg(substitute(expr.operand, definitions))
    if isinstance(expr, BinOp):
        return BinOp(expr.op, substitute(expr.left, definitions), substitute(expr.right, definitions))
    if isinstance(expr, Call):
        return Call(expr.func, tuple(substitute(a, definitions) for a in expr.args))
    return expr


def linear_terms(expr: Expr) -> dict[str, float] | None:
    """Each reference's coefficient when ``expr`` is a sum of references times constants, with no constant of
    its own (``40 * hours + parts``, ``revenue - cost``, ``(a + b) / 2``); None otherwise (a product or ratio of
    metrics, a function, a constant term). Such a formula of day totals is the total of its days' values."""
    def terms(node: Expr) -> tuple[dict[str, float], float] | None:
        if isinstance(node, Num):
            return {}, float(node.value)
        if isinstance(node, Ref):
            return {node.name: 1.0}, 0.0
        if isinstance(node, Neg):
            inner = terms(node.operand)
            return None if inner is None else ({k: -v for k, v in inner[0].items()}, -inner[1])
        if not isinstance(node, BinOp):
            return None
        left, right = terms(node.left), terms(node.right)
        if left is None or right is None:
            return None
        if node.op in "+-":
            sign = 1.0 if node.op == "+" else -1.0
            merged = dict(left[0])
            for name, value in right[0].items():
                merged[name] = merged.get(name, 0.0) + sign * value
            return merged, left[1] + sign * right[1]
        if node.op == "*" and not (left[0] and right[0]):
            (refs, constant), scale = (left, right[1]) if left[0] else (right, left[1])
            return {k: v * scale for k, v in refs.items()}, constant * scale
        if node.op == "/" and not right[0] and right[1] != 0:
            return {k: v / right[1] for k, v in left[0].items()}, left[1] / right[1]
        return None

    found = terms(expr)
    if found is None or found[1] != 0 or not found[0]:
        return None
    return found[0]


def ratio_parts(expr: Expr) -> tuple[str, str, float] | None:
    """``(numerator, denominator, constant)`` when ``expr`` is a ratio of two references times a constant.

    Accepts ``a / b``, ``k * a / b``, ``a * k / b``, ``k * (a / b)`` and ``(a / b) * k`` with ``k`` a
    non-zero number; anything else (sums, products of metrics, functions, a reference divided by
    itself) is None.
    """
    def scaled_ref(node: Expr) -> tuple[str, float] | None:
        if isinstance(node, Ref):
            return node.name, 1.0
        if isinstance(node, BinOp) and node.op == "*":
            for ref, num in ((node.left, node.right), (node.right, node.left)):
                if isinstance(ref, Ref) and isinstance(num, Num) and num.value != 0:
                    return ref.name, float(num.value)
        return None

    constant = 1.0
    if isinstance(expr, BinOp) and expr.op == "*":
        for inner, num in ((expr.left, expr.right), (expr.right, expr.left)):
            if isinstance(num, Num) and num.value != 0 and isinstance(inner, BinOp) and inner.op == "/":
                expr, constant = inner, float(num.value)
                break
    if not (isinstance(expr, BinOp) and expr.op == "/" and isinstance(expr.right, Ref)):
        return None
    top = scaled_ref(expr.left)
    if top is None or top[0] == expr.right.name:
        return None
    return top[0], expr.right.name, constant * top[1]


def to_source(expr: Expr) -> str:
    """Render ``expr`` back to formula text, fully parenthesised where needed."""
    if isinstance(expr, Num):
        return repr(expr.value) if not expr.value.is_integer() else str(int(expr.value))
    if isinstance(expr, Ref):
        return expr.name
    if isinstance(expr, Neg):
        return f"-({to_source(expr.operand)})"
    if isinstance(expr, Call):
        return f"{expr.func}({', '.join(to_source(a) for a in expr.args)})"
    return f"({to_source(expr.left)} {expr.op} {to_source(expr.right)})"


_SQL_FUNCS = {"abs": "abs", "min": "least", "max": "greatest"}


def to_sql(expr: Expr, column: Callable[[str], str] = lambda name: f'"{name}"') -> str:
    """Compile ``expr`` to a portable SQL expression.

    Division compiles to ``x / nullif(y, 0)`` so that a zero denominator gives
    NULL (its reason comes from :func:`null_reason_sql`). ``column`` maps a
    metric name to its SQL column; names are validated identifiers.
    """
    if isinstance(expr, Num):
        return f"cast({expr.value!r} as double)"
    if isinstance(expr, Ref):
        return column(expr.name)
    if isinstance(expr, Neg):
        return f"(-{to_sql(expr.operand, column)})"
    if isinstance(expr, Call):
        args = [to_sql(a, column) for a in expr.args]
        call = f"{_SQL_FUNCS[expr.func]}({', '.join(args)})"
        if expr.func == "abs":
            return call
        # greatest/least skip NULLs on some engines (DuckDB, Postgres): a missing input must stay NULL
        return f"(case when {' or '.join(f'{a} is null' for a in args)} then null else {call} end)"
    left, right = to_sql(expr.left, column), to_sql(expr.right, column)
    if expr.op == "/":
        return f"({left} / nullif({right}, 0))"
    return f"({left} {expr.op} {right})"


def _denominators(expr: Expr) -> list[Expr]:
    found: list[Expr] = []

    def walk(node: Expr) -> None:
        if isinstance(node, BinOp):
            walk(node.left)
            walk(node.right)
            if node.op == "/":
                found.append(node.right)
        elif isinstance(node, Neg):
            walk(node.operand)
        elif isinstance(node, Call):
            for arg in node.args:
                walk(arg)

    walk(expr)
    return found


def null_reason_sql(expr: Expr, column: Callable[[str], str] = lambda name: f'"{name}"') -> str:
    """SQL expression giving why ``expr`` is NULL (or NULL when it is not).

    Reasons: ``division by zero: <denominator>`` or ``missing input: <metric>``.
    """
    branches = []
    for name in references(expr):
        branches.append(f"when {column(name)} is null then 'missing input: {name}'")
    for den in _denominators(expr):
        branches.append(f"when {to_sql(den, column)} = 0 then 'division by zero: {to_source(den)} = 0'")
    if not branches:
        return "cast(null as varchar)"
    return "case " + " ".join(branches) + " else cast(null as varchar) end"


@dataclass(frozen=True)
class Evaluation:
    """Result of evaluating a formula: a value, or ``None`` with a reason."""

    value: float | None
    reason: str | None = None


def evaluate(expr: Expr, values: Mapping[str, float | None]) -> Evaluation:
    """Evaluate ``expr`` with metric values; a zero denominator yields ``None`` with a reason."""

    def ev(node: Expr) -> float:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Ref):
            value = values.get(node.name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                raise _Null(f"missing input: {node.name}")
            return float(value)
        if isinstance(node, Neg):
            return -ev(node.operand)
        if isinstance(node, Call):
            args = [ev(a) for a in node.args]
            return abs(args[0]) if node.func == "abs" else (min(args) if node.func == "min" else max(args))
        left, right = ev(node.left), ev(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if right == 0:
            raise _Null(f"division by zero: {to_source(node.right)} = 0")
        return left / right

    try:
        return Evaluation(ev(expr))
    except _Null as null:
        return Evaluation(None, str(null))


class _Null(Exception):
    pass


def evaluate_array(expr: Expr, values: Mapping[str, "np.ndarray"]) -> "np.ndarray":
    """Evaluate ``expr`` element-wise over arrays (e.g. forecast paths); a zero denominator gives NaN."""
    import numpy as np

    def ev(node: Expr):
        if isinstance(node, Num):
            return np.float64(node.value)
        if isinstance(node, Ref):
            if node.name not in values:
                raise KeyError(f"missing input: {node.name}")
            return np.asarray(values[node.name], dtype=float)
        if isinstance(node, Neg):
            return -ev(node.operand)
        if isinstance(node, Call):
            args = np.broadcast_arrays(*[ev(a) for a in node.args])
            if node.func == "abs":
                return np.abs(args[0])
            return np.min(args, axis=0) if node.func == "min" else np.max(args, axis=0)
        left, right = ev(node.left), ev(node.right)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(right == 0, np.nan, left / np.where(right == 0, 1.0, right))

    return np.asarray(ev(expr), dtype=float)
