"""Optimal reallocation of a budget across levers (e.g. spend per channel).

Each lever turns spend into outcome through a :class:`~models.response.ResponseCurve`.
Linear curves are solved exactly as a linear programme with HiGHS
(``scipy.optimize.linprog``), whose duals are the shadow prices; concave
(diminishing-returns) curves with SLSQP, whose shadow prices are measured by
re-solving with each limit relaxed. Either way the result names the binding
constraints and the bottleneck, and an infeasible problem names a minimal set of
constraints that conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog, minimize

from models.response import ResponseCurve

BINDING_TOL = 1e-6


class InfeasibleAllocation(ValueError):
    """No allocation satisfies every constraint; ``conflicting`` names a minimal conflicting set."""

    def __init__(self, conflicting: list[str]):
        self.conflicting = conflicting
        super().__init__("no allocation satisfies every constraint; these conflict: " + "; ".join(conflicting))


@dataclass(frozen=True)
class Lever:
    """One decision variable: how much of the budget goes to ``name``."""

    name: str
    curve: ResponseCurve
    current: float = 0.0
    minimum: float = 0.0
    maximum: float | None = None


@dataclass(frozen=True)
class Ratio:
    """``allocation[numerator] <= max_ratio * allocation[denominator]``."""

    numerator: str
    denominator: str
    max_ratio: float


@dataclass(frozen=True)
class Problem:
    """Maximise total outcome subject to a total budget, an outcome capacity, bounds and ratios."""

    levers: tuple[Lever, ...]
    budget: float | None = None
    capacity: float | None = None
    ratios: tuple[Ratio, ...] = ()
    outcome: str = "outcome"
    spend: str = "spend"


@dataclass(frozen=True)
class Constraint:
    name: str
    limit: float
    used: float
    shadow_price: float

    @property
    def binding(self) -> bool:
        return abs(self.limit - self.used) <= BINDING_TOL * max(1.0, abs(self.limit))


@dataclass(frozen=True)
class Allocation:
    recommended: dict[str, float]
    current: dict[str, float]
    expected_outcome: float
    current_outcome: float
    constraints: list[Constraint] = field(default_factory=list)
    solver: str = ""

    @property
    def gain(self) -> float:
        return self.expected_outcome - self.current_outcome

    @property
    def binding(self) -> list[Constraint]:
        return [c for c in self.constraints if c.binding]

    @property
    def bottleneck(self) -> Constraint | None:
        """The binding constraint with the highest shadow price: what holds the outcome back most."""
        binding = [c for c in self.binding if c.shadow_price > BINDING_TOL]
        return max(binding, key=lambda c: c.shadow_price) if binding else None

    def explain(self, problem: Problem) -> str:
        """One sentence on what limits the outcome."""
        neck = self.bottleneck
        if neck is None:
            return f"No constraint binds: more {problem.spend} would not add {problem.outcome}."
        slack = [c.name for c in self.constraints if c.name != neck.name and c.shadow_price <= BINDING_TOL
                 and c.name in ("budget", "capacity")]
        others = f", not {' or '.join(slack)}," if slack else ""
        return (f"{neck.name.capitalize()}{others} is what holds {problem.outcome} back: one more unit of its limit "
                f"is worth {neck.shadow_price:.4g} {problem.outcome}.")


def _rows(problem: Problem) -> list[tuple[str, np.ndarray, float]]:
    """Linear constraint rows (name, coefficients on allocations, limit) for linear curves."""
    n = len(problem.levers)
    index = {lever.name: i for i, lever in enumerate(problem.levers)}
    rows = []
    if problem.budget is not None:
        rows.append(("budget", np.ones(n), problem.budget))
    if problem.capacity is not None:
        intercepts = sum(l.curve.intercept for l in problem.levers)
        rows.append(("capacity", np.array([l.curve.slope for l in problem.levers]), problem.capacity - intercepts))
    for ratio in problem.ratios:
        coef = np.zeros(n)
        coef[index[ratio.numerator]] = 1.0
        coef[index[ratio.denominator]] = -ratio.max_ratio
        rows.append((f"ratio {ratio.numerator} <= {ratio.max_ratio:g} x {ratio.denominator}", coef, 0.0))
    for i, lever in enumerate(problem.levers):
        if lever.minimum > 0:  # non-negativity itself is a variable bound, never part of a "conflict"
            coef = np.zeros(n)
            coef[i] = -1.0
            rows.append((f"minimum {lever.name}", coef, -lever.minimum))
        if lever.maximum is not None:
            coef = np.zeros(n)
            coef[i] = 1.0
            rows.append((f"maximum {lever.name}", coef, lever.maximum))
    return rows


def _solve_linear(problem: Problem, rows) -> tuple[np.ndarray, np.ndarray] | None:
    if not rows:
        raise ValueError("the problem needs at least one constraint (budget, capacity or lever maximum)")
    c = -np.array([l.curve.slope for l in problem.levers])
    a_ub = np.vstack([r[1] for r in rows])
    b_ub = np.array([r[2] for r in rows])
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(0, None)] * len(problem.levers), method="highs")
    if res.status == 2:
        return None
    if res.status == 3:
        raise ValueError("the allocation is unbounded: add a budget, a capacity or lever maxima")
    if not res.success:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    return res.x, -res.ineqlin.marginals  # duals of a maximisation are non-negative


def _conflict(problem: Problem, rows) -> list[str]:
    """Deletion filter: drop every constraint whose removal keeps the problem infeasible."""
    def infeasible(subset) -> bool:
        try:
            return bool(subset) and _solve_linear(problem, subset) is None
        except ValueError:  # unbounded without the row: the row is part of no conflict
            return False

    kept = list(rows)
    for row in list(kept):
        trial = [r for r in kept if r is not row]
        if infeasible(trial):
            kept = trial
    return [r[0] for r in kept]


def _outcome(problem: Problem, x: np.ndarray) -> float:
    return float(sum(l.curve.predict(xi) for l, xi in zip(problem.levers, x)))


def optimise(problem: Problem) -> Allocation:
    """Best allocation of ``problem``; linear curves by LP (HiGHS), concave ones by SLSQP.

    Raises
    ------
    InfeasibleAllocation
        When the constraints cannot all hold, naming a minimal conflicting set.
    """
    if not problem.levers:
        raise ValueError("no levers to allocate")
    current = np.array([l.current for l in problem.levers])
    names = [l.name for l in problem.levers]
    if all(l.curve.form == "linear" for l in problem.levers):
        rows = _rows(problem)
        solved = _solve_linear(problem, rows)
        if solved is None:
            raise InfeasibleAllocation(_conflict(problem, rows))
        x, duals = solved
        # capacity rows were written net of the curves' intercepts; report them gross
        intercepts = sum(l.curve.intercept for l in problem.levers)
        constraints = [
            Constraint(name, limit + (intercepts if name == "capacity" else 0.0),
                       float(coef @ x) + (intercepts if name == "capacity" else 0.0), float(dual))
            for (name, coef, limit), dual in zip(rows, duals)
            if not name.startswith("minimum")  # lower bounds are commitments, not resources
        ]
        solver = "HiGHS (linear programme)"
    else:
        # the limits other than capacity are linear: diagnose a conflict among them by name first
        rows = [r for r in _rows(problem) if r[0] != "capacity"]
        if rows and _solve_linear(problem, rows) is None:
            raise InfeasibleAllocation(_conflict(problem, rows))
        x = _solve_concave(problem)
        constraints = _concave_constraints(problem, x)
        solver = "SLSQP (concave response curves)"
    return Allocation(dict(zip(names, map(float, x))), dict(zip(names, map(float, current))),
                      _outcome(problem, x), _outcome(problem, current), constraints, solver)


def _scipy_constraints(problem: Problem, budget: float | None, capacity: float | None) -> list[dict]:
    index = {lever.name: i for i, lever in enumerate(problem.levers)}
    cons = []
    if budget is not None:
        cons.append({"type": "ineq", "fun": lambda x, b=budget: b - x.sum()})
    if capacity is not None:
        cons.append({"type": "ineq", "fun": lambda x, c=capacity: c - _outcome(problem, x)})
    for r in problem.ratios:
        cons.append({"type": "ineq", "fun": lambda x, r=r: r.max_ratio * x[index[r.denominator]] - x[index[r.numerator]]})
    return cons


def _solve_concave(problem: Problem, budget: float | None = None, capacity: float | None = None) -> np.ndarray:
    budget = problem.budget if budget is None else budget
    capacity = problem.capacity if capacity is None else capacity
    bounds = [(l.minimum, l.maximum) for l in problem.levers]
    if budget is None and any(l.maximum is None for l in problem.levers):
        raise ValueError("the allocation is unbounded: add a budget or lever maxima")
    total = budget if budget is not None else sum(l.maximum for l in problem.levers)
    start = np.array([max(l.minimum, total / len(problem.levers)) for l in problem.levers])
    res = minimize(lambda x: -_outcome(problem, x), start, method="SLSQP", bounds=bounds,
                   constraints=_scipy_constraints(problem, budget, capacity),
                   options={"ftol": 1e-10, "maxiter": 500})
    if not res.success:
        raise InfeasibleAllocation([f"SLSQP: {res.message}"])
    return res.x


def _concave_constraints(problem: Problem, x: np.ndarray) -> list[Constraint]:
    """Budget and capacity with shadow prices measured by re-solving with the limit relaxed by 1%."""
    best = _outcome(problem, x)
    out = []
    for name, limit, used in (("budget", problem.budget, float(x.sum())),
                              ("capacity", problem.capacity, best)):
        if limit is None:
            continue
        step = 0.01 * max(abs(limit), 1.0)
        relaxed = _solve_concave(problem, **{name: limit + step})
        out.append(Constraint(name, limit, used, max(0.0, (_outcome(problem, relaxed) - best) / step)))
    return out


def gain_interval(problem: Problem, allocation: Allocation, level: float = 0.9, draws: int = 4000,
                  seed: int = 0) -> tuple[float, float]:
    """Interval of the expected gain, from the response curves' coefficient uncertainty (seeded)."""
    rng = np.random.default_rng(seed)
    gains = np.zeros(draws)
    for lever in problem.levers:
        curve = lever.curve
        params = rng.multivariate_normal([curve.intercept, curve.slope], np.asarray(curve.cov), size=draws)
        change = curve.feature(allocation.recommended[lever.name]) - curve.feature(allocation.current[lever.name])
        gains += params[:, 1] * change
    low, high = np.quantile(gains, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
