"""Optimal reallocation of a budget across levers (e.g. spend per channel).

Each lever turns spend into outcome through a :class:`~models.response.ResponseCurve`;
the outcome is maximised or minimised, and other metrics (each with its own
curves per lever) can be capped or floored. Linear curves are solved exactly as a
linear programme with HiGHS (``scipy.optimize.linprog``), whose duals are the
shadow prices; levers allocated in whole steps (``Lever.step``: a hire, a booked
day) make it a mixed-integer programme (HiGHS through ``scipy.optimize.milp``);
concave (diminishing-returns) curves go to SLSQP. Without duals (mixed-integer,
concave) shadow prices are measured by re-solving with each limit relaxed.
Either way the result names the binding constraints and the bottleneck, and an
infeasible problem names a minimal set of constraints that conflict.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp, minimize

from models.response import ResponseCurve

BINDING_TOL = 1e-6
# |recommended - current| below this share of the current total is floating-point rounding, not a change
SAME_VALUE_TOL = 1e-12


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
    step: float | None = None  # allocated in whole multiples of this (mixed-integer)
    held: str | None = None    # why this lever is kept where it is (minimum == maximum), e.g. no measurable response
    observed: tuple[float, float] | None = None  # the spend range its response curves were fitted on


@dataclass(frozen=True)
class MetricLimit:
    """Another metric's total over the levers (from its own response curve per lever), capped or floored."""

    metric: str
    curves: dict[str, ResponseCurve]
    maximum: float | None = None
    minimum: float | None = None

    def total(self, levers, x) -> float:
        """The metric's total over the levers at allocation ``x``."""
        return float(sum(self.curves[l.name].predict(xi) for l, xi in zip(levers, x)))


@dataclass(frozen=True)
class Ratio:
    """``allocation[numerator] <= max_ratio * allocation[denominator]``."""

    numerator: str
    denominator: str
    max_ratio: float


@dataclass(frozen=True)
class Problem:
    """Maximise (or minimise) total outcome subject to a total budget, an outcome capacity, limits on other
    metrics, per-lever bounds and steps, and ratios."""

    levers: tuple[Lever, ...]
    budget: float | None = None
    capacity: float | None = None
    ratios: tuple[Ratio, ...] = ()
    outcome: str = "outcome"
    spend: str = "spend"
    sense: str = "maximise"  # or "minimise"
    limits: tuple[MetricLimit, ...] = ()

    def __post_init__(self):
        if self.sense not in ("maximise", "minimise"):
            raise ValueError(f"sense must be maximise or minimise, got {self.sense!r}")
        names = {l.name for l in self.levers}
        for limit in self.limits:
            missing = sorted(names - set(limit.curves))
            if missing:
                raise ValueError(f"limit on {limit.metric} has no response curve for lever(s) {', '.join(missing)}")
            if limit.maximum is None and limit.minimum is None:
                raise ValueError(f"limit on {limit.metric} needs a maximum or a minimum")
        for lever in self.levers:
            if lever.step is not None and lever.step <= 0:
                raise ValueError(f"lever {lever.name}: step must be positive, got {lever.step}")


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
            return (f"No constraint binds: more {problem.spend} would not add {problem.outcome}."
                    if problem.sense == "maximise" else f"No constraint binds: {problem.outcome} is at its floor.")
        slack = [c.name for c in self.constraints if c.name != neck.name and c.shadow_price <= BINDING_TOL
                 and c.name in ("budget", "capacity")]
        others = f", not {' or '.join(slack)}," if slack else ""
        if problem.sense == "minimise":
            return (f"{neck.name.capitalize()}{others} is what keeps {problem.outcome} up: one unit more room in its "
                    f"limit would save {neck.shadow_price:.4g} {problem.outcome}.")
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
    for limit in problem.limits:
        slopes = np.array([limit.curves[l.name].slope for l in problem.levers])
        intercepts = sum(limit.curves[l.name].intercept for l in problem.levers)
        if limit.maximum is not None:
            rows.append((f"maximum {limit.metric}", slopes, limit.maximum - intercepts))
        if limit.minimum is not None:
            rows.append((f"minimum {limit.metric}", -slopes, -(limit.minimum - intercepts)))
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


def _stepped(problem: Problem) -> bool:
    return any(l.step is not None for l in problem.levers)


def _solve_linear(problem: Problem, rows, cost: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Allocation and shadow prices (None for a mixed-integer programme); None when infeasible.

    ``cost`` replaces the problem's objective (minimised), for the least-spend pass."""
    if not rows:
        raise ValueError("the problem needs at least one constraint (budget, capacity or lever maximum)")
    slopes = np.array([l.curve.slope for l in problem.levers])
    c = cost if cost is not None else (-slopes if problem.sense == "maximise" else slopes)
    a_ub = np.vstack([r[1] for r in rows])
    b_ub = np.array([r[2] for r in rows])
    if _stepped(problem):
        # x = step * k with k whole for stepped levers; HiGHS branch and bound
        scale = np.array([l.step or 1.0 for l in problem.levers])
        integrality = np.array([1 if l.step else 0 for l in problem.levers])
        res = milp(c * scale, constraints=LinearConstraint(a_ub * scale, -np.inf, b_ub), integrality=integrality,
                   bounds=Bounds(0, np.inf))
        if res.status == 2:
            return None
        if res.status == 3 or (res.status == 4 and res.x is None):
            raise ValueError("the allocation is unbounded: add a budget, a capacity or lever maxima")
        if not res.success:
            raise RuntimeError(f"HiGHS failed: {res.message}")
        return res.x * scale, None
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(0, None)] * len(problem.levers), method="highs")
    if res.status == 2:
        return None
    if res.status == 3:
        raise ValueError("the allocation is unbounded: add a budget, a capacity or lever maxima")
    if not res.success:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    return res.x, -res.ineqlin.marginals  # improvement per unit of relaxed limit: non-negative either sense


def _is_commitment(problem: Problem, name: str) -> bool:
    """Lever minimums are commitments, not resources (floors on metrics are reported); so are both bounds of a
    held lever, which pin it rather than limit it."""
    side, _, lever = name.partition(" ")
    held = {l.name for l in problem.levers if l.held is not None}
    return (side == "minimum" and lever in {l.name for l in problem.levers}) or (side == "maximum" and lever in held)


def _gross(problem: Problem, name: str, coef: np.ndarray, limit: float, x: np.ndarray, dual: float) -> Constraint:
    """A row reported in the metric's own terms: intercepts added back, floors un-negated."""
    if name == "capacity":
        offset = sum(l.curve.intercept for l in problem.levers)
        return Constraint(name, limit + offset, float(coef @ x) + offset, float(dual))
    for m in problem.limits:
        offset = sum(m.curves[l.name].intercept for l in problem.levers)
        if name == f"maximum {m.metric}":
            return Constraint(name, limit + offset, float(coef @ x) + offset, float(dual))
        if name == f"minimum {m.metric}":
            return Constraint(name, -limit + offset, -float(coef @ x) + offset, float(dual))
    return Constraint(name, limit, float(coef @ x), float(dual))


def _objective(problem: Problem, x: np.ndarray) -> float:
    """The outcome as the solver sees it: larger is better."""
    value = _outcome(problem, x)
    return value if problem.sense == "maximise" else -value


def _relaxed_duals(problem: Problem, rows, x: np.ndarray) -> list[float]:
    """Shadow prices without duals: the objective's improvement when a limit is relaxed by one of the
    smallest lever steps (per unit of limit)."""
    best = _objective(problem, x)
    unit = min(l.step for l in problem.levers if l.step)
    prices = []
    for i, (name, coef, limit) in enumerate(rows):
        step = unit * max(1.0, float(np.abs(coef).max()))
        relaxed = rows[:i] + [(name, coef, limit + step)] + rows[i + 1:]
        solved = _solve_linear(problem, relaxed)
        prices.append(0.0 if solved is None else max(0.0, (_objective(problem, solved[0]) - best) / step))
    return prices


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


def _marginals(curves: list, x: np.ndarray) -> np.ndarray:
    """Each lever's curve's slope at its value: the gradient of their total."""
    return np.array([float(c.marginal(xi)) for c, xi in zip(curves, x)])


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
    curves = [l.curve for l in problem.levers] + [c for m in problem.limits for c in m.curves.values()]
    if all(c.form == "linear" for c in curves):
        rows = _rows(problem)
        solved = _solve_linear(problem, rows)
        if solved is None:
            raise InfeasibleAllocation(_conflict(problem, rows))
        x, duals = solved
        if duals is None:
            duals = _relaxed_duals(problem, rows, x)
            solver = "HiGHS (mixed-integer programme; shadow prices by re-solving with each limit relaxed)"
        else:
            solver = "HiGHS (linear programme)"
        x = _least_spend_linear(problem, rows, x)
        constraints = [_gross(problem, name, coef, limit, x, dual) for (name, coef, limit), dual in zip(rows, duals)
                       if not _is_commitment(problem, name)]
    else:
        # budget, bounds and ratios are linear: diagnose a conflict among them by name first
        limits = {f"{side} {m.metric}" for m in problem.limits for side in ("maximum", "minimum")}
        rows = [r for r in _rows(problem) if r[0] != "capacity" and r[0] not in limits]
        if rows and _solve_linear(problem, rows) is None:
            raise InfeasibleAllocation(_conflict(problem, rows))
        x = _least_spend_concave(problem, _solve_concave(problem))
        constraints = _concave_constraints(problem, x)
        solver = ("SLSQP for each combination of whole steps (concave response curves)" if _stepped(problem)
                  else "SLSQP (concave response curves)")
    # a lever the solution leaves where it is, or takes to a bound, comes back a rounding error away from it
    # (2,992 recommended as 2,992 + 9e-13; a lever cut to nothing as 2.1e-27): it is that value
    scale = max(1.0, float(np.abs(current).sum()))
    for anchor in (current, [l.minimum for l in problem.levers],
                   [np.nan if l.maximum is None else l.maximum for l in problem.levers]):
        x = np.where(np.abs(x - np.asarray(anchor, float)) <= SAME_VALUE_TOL * scale, anchor, x)
    return Allocation(dict(zip(names, map(float, x))), dict(zip(names, map(float, current))),
                      _outcome(problem, x), _outcome(problem, current), constraints, solver)


# Least spend among optimal allocations. When capacity caps the outcome, every allocation reaching it is
# optimal and a solver returns an arbitrary one of them (a vertex of the LP, wherever SLSQP stopped); the
# cheapest is the one a budget owner can act on: the rest of the budget buys nothing.
OPTIMUM_TOL = 1e-7  # outcome given up for it, relative to the optimum (solver accuracy, not a trade-off)


def _capacity_binds(problem: Problem, x: np.ndarray) -> bool:
    return (problem.sense == "maximise" and problem.capacity is not None
            and Constraint("capacity", problem.capacity, _outcome(problem, x), 0.0).binding)


def _least_spend_linear(problem: Problem, rows, x: np.ndarray) -> np.ndarray:
    if not _capacity_binds(problem, x):
        return x
    slopes = np.array([l.curve.slope for l in problem.levers])
    reached = float(slopes @ x)
    floor = ("optimum", -slopes, -(reached - OPTIMUM_TOL * max(1.0, abs(reached))))
    solved = _solve_linear(problem, rows + [floor], cost=np.ones(len(problem.levers)))
    return x if solved is None else solved[0]


def _least_spend_concave(problem: Problem, x: np.ndarray) -> np.ndarray:
    if _stepped(problem) or not _capacity_binds(problem, x):
        return x
    reached = _outcome(problem, x)
    floor = reached - OPTIMUM_TOL * max(1.0, abs(reached))
    bounds = [(l.minimum, l.maximum) for l in problem.levers]
    free, full = _free_variables(bounds)
    if not free:
        return x
    scale = max(1.0, float(x.sum()))
    named = _named_constraints(problem, problem.budget, problem.capacity)
    curves = [l.curve for l in problem.levers]
    reach = (lambda full_x: _outcome(problem, full_x) - floor, lambda full_x: _marginals(curves, full_x))
    res = _scaled_slsqp((lambda full_x: full_x.sum() / scale, lambda full_x: np.full(len(full_x), 1.0 / scale)),
                        x, bounds, free, full, max(1.0, float(np.abs(x).max())),
                        [(f, g) for _, f, g in named] + [reach], 1e-12)
    cheaper = full(res.x)
    kept = _outcome(problem, cheaper) >= floor - OPTIMUM_TOL * max(1.0, abs(reached))
    if res.success and cheaper.sum() < x.sum() and kept and _feasible(problem, cheaper, problem.budget, problem.capacity):
        return cheaper
    return x


def _free_variables(bounds: list) -> tuple[list[int], Callable[[np.ndarray], np.ndarray]]:
    """The levers SLSQP may move, and the map from their values to a full allocation.

    Pinned levers (lo == hi: held, or a fixed count of whole steps) are left out of SLSQP's variables:
    scipy's finite differences give NaN for a variable with equal bounds, and SLSQP then stops where it
    started (measured: the demo's allocation stayed at its equal split)."""
    free = [i for i, (lo, hi) in enumerate(bounds) if lo != hi]
    pinned = np.array([lo if lo == hi else 0.0 for lo, hi in bounds], dtype=float)

    def full(z: np.ndarray) -> np.ndarray:
        x = pinned.copy()
        x[free] = z
        return x

    return free, full


def _scaled_slsqp(objective: tuple[Callable, Callable], start: np.ndarray, bounds: list, free: list[int],
                  full: Callable[[np.ndarray], np.ndarray], unit: float, constraints: list[tuple[Callable, Callable]],
                  ftol: float):
    """SLSQP over the free levers, moved in ``unit``s (``start``, ``bounds`` and the result's ``x`` in the
    levers' own units), with the objective's and every constraint's (value, gradient) functions of a full
    allocation; each constraint is divided by its size at the start or at nothing spent.

    Why the units: SLSQP's quasi-Newton model starts as the identity, so its first step is the gradient
    itself. With levers in the hundreds of thousands and an objective scaled to one, that gradient is ~1e-6:
    the step moved nothing and SLSQP stopped where it began, "successfully" (measured: a clinic's least-spend
    problem left 727,019 where 288,698 met the floor)."""

    def scaled(z: np.ndarray) -> np.ndarray:
        return full(np.asarray(z, dtype=float) * unit)

    z0 = start[free] / unit
    sizes = [max(1.0, abs(value(scaled(z0))), abs(value(scaled(np.zeros(len(free)))))) for value, _ in constraints]
    value, gradient = objective
    res = minimize(lambda z: value(scaled(z)), z0, jac=lambda z: gradient(scaled(z))[free] * unit, method="SLSQP",
                   bounds=[(bounds[i][0] / unit, None if bounds[i][1] is None else bounds[i][1] / unit) for i in free],
                   constraints=[{"type": "ineq", "fun": lambda z, f=f, k=k: f(scaled(z)) / k,
                                 "jac": lambda z, g=g, k=k: g(scaled(z))[free] * unit / k}
                                for (f, g), k in zip(constraints, sizes)],
                   options={"ftol": ftol, "maxiter": 500})
    res.x = res.x * unit
    return res


def _named_constraints(problem: Problem, budget: float | None,
                       capacity: float | None) -> list[tuple[str, Callable, Callable]]:
    """(name, slack function: >= 0 where the constraint holds, its gradient), named as :func:`_rows` names
    them. Exact gradients, not SLSQP's finite differences: at an optimum on a ratio's edge those stopped it with
    "positive directional derivative for linesearch" (the demo's allocation, a free lever held by a ratio)."""
    index = {lever.name: i for i, lever in enumerate(problem.levers)}
    n = len(problem.levers)
    outcome_curves = [l.curve for l in problem.levers]
    cons = []
    if budget is not None:
        cons.append(("budget", lambda x, b=budget: b - x.sum(), lambda x: -np.ones(n)))
    if capacity is not None:
        cons.append(("capacity", lambda x, c=capacity: c - _outcome(problem, x),
                     lambda x: -_marginals(outcome_curves, x)))
    for r in problem.ratios:
        numerator, denominator = index[r.numerator], index[r.denominator]
        gradient = np.zeros(n)
        gradient[denominator] += r.max_ratio
        gradient[numerator] -= 1.0
        cons.append((f"ratio {r.numerator} <= {r.max_ratio:g} x {r.denominator}",
                     lambda x, r=r, a=numerator, b=denominator: r.max_ratio * x[b] - x[a], lambda x, g=gradient: g))
    for m in problem.limits:
        curves = [m.curves[l.name] for l in problem.levers]
        if m.maximum is not None:
            cons.append((f"maximum {m.metric}", lambda x, m=m: m.maximum - m.total(problem.levers, x),
                         lambda x, c=curves: -_marginals(c, x)))
        if m.minimum is not None:
            cons.append((f"minimum {m.metric}", lambda x, m=m: m.total(problem.levers, x) - m.minimum,
                         lambda x, c=curves: _marginals(c, x)))
    return cons


MAX_STEP_COMBINATIONS = 2000


def _solve_concave(problem: Problem, budget: float | None = None, capacity: float | None = None) -> np.ndarray:
    budget = problem.budget if budget is None else budget
    capacity = problem.capacity if capacity is None else capacity
    if budget is None and any(l.maximum is None for l in problem.levers):
        raise ValueError("the allocation is unbounded: add a budget or lever maxima")
    if not _stepped(problem):
        return _slsqp(problem, budget, capacity, [(l.minimum, l.maximum) for l in problem.levers])
    # whole steps with concave curves: enumerate the stepped levers' counts, SLSQP for the rest
    ranges = []
    for lever in problem.levers:
        if lever.step is None:
            ranges.append([None])
            continue
        top = min(v for v in (lever.maximum, budget) if v is not None)
        ranges.append(range(int(np.ceil(lever.minimum / lever.step - 1e-9)), int(np.floor(top / lever.step + 1e-9)) + 1))
    combinations = int(np.prod([len(r) for r in ranges]))
    if combinations > MAX_STEP_COMBINATIONS:
        raise ValueError(f"{combinations:,} combinations of whole steps with concave curves (at most "
                         f"{MAX_STEP_COMBINATIONS:,}): use larger steps or fewer stepped levers")
    best, best_x, nearest = -np.inf, None, None
    for counts in itertools.product(*ranges):
        bounds = [(l.minimum, l.maximum) if k is None else (k * l.step, k * l.step) for l, k in zip(problem.levers, counts)]
        try:
            x = _slsqp(problem, budget, capacity, bounds)
        except InfeasibleAllocation as err:
            # the combination that breaks the fewest constraints is the one worth naming
            if nearest is None or len(err.conflicting) < len(nearest):
                nearest = err.conflicting
            continue
        if _feasible(problem, x, budget, capacity) and _objective(problem, x) > best:
            best, best_x = _objective(problem, x), x
    if best_x is None:
        raise InfeasibleAllocation(nearest or ["no combination of whole steps satisfies every constraint"])
    return best_x


def _feasible(problem: Problem, x: np.ndarray, budget: float | None, capacity: float | None, tol: float = 1e-6) -> bool:
    return all(slack(x) >= -tol * max(1.0, abs(budget or 1.0))
               for _, slack, _ in _named_constraints(problem, budget, capacity))


def _slsqp(problem: Problem, budget: float | None, capacity: float | None, bounds: list) -> np.ndarray:
    total = budget if budget is not None else sum(b[1] for b in bounds)
    named = _named_constraints(problem, budget, capacity)
    free, full = _free_variables(bounds)
    pinned = full(np.zeros(len(free)))
    if not free:
        return _pinned_allocation(pinned, named, total)
    share = (total - pinned.sum()) / len(free)
    start = pinned.copy()
    for i in free:
        start[i] = max(bounds[i][0], share) if bounds[i][1] is None else min(max(bounds[i][0], share), bounds[i][1])
    norm = max(1.0, abs(_objective(problem, start)))  # SLSQP's line search wants an objective of order one
    sign = 1.0 if problem.sense == "maximise" else -1.0
    curves = [l.curve for l in problem.levers]
    objective = (lambda full_x: -_objective(problem, full_x) / norm,
                 lambda full_x: -sign * _marginals(curves, full_x) / norm)
    res = _scaled_slsqp(objective, start, bounds, free, full, max(1.0, float(np.abs(start[free]).max())),
                        [(f, g) for _, f, g in named], 1e-10)
    if not res.success:
        # name what the closest allocation SLSQP reached still breaks, rather than only its status message
        closest = full(res.x)
        tol = 1e-6 * max(1.0, abs(total))
        broken = [f"{name} (missed by {-slack(closest):.4g} at the closest allocation found)"
                  for name, slack, _ in named if slack(closest) < -tol]
        raise InfeasibleAllocation(broken or [f"SLSQP found no optimum ({res.message})"])
    return full(res.x)


def _pinned_allocation(x: np.ndarray, named: list[tuple[str, Callable, Callable]], total: float) -> np.ndarray:
    """Every lever pinned: the allocation is given, and only whether it keeps the constraints is left."""
    tol = 1e-6 * max(1.0, abs(total))
    broken = [f"{name} (missed by {-slack(x):.4g})" for name, slack, _ in named if slack(x) < -tol]
    if broken:
        raise InfeasibleAllocation(broken)
    return x


def _concave_constraints(problem: Problem, x: np.ndarray) -> list[Constraint]:
    """Budget, capacity and metric limits with shadow prices measured by re-solving with the limit relaxed by 1%."""
    best = _objective(problem, x)
    out = []
    for name, limit, used in (("budget", problem.budget, float(x.sum())),
                              ("capacity", problem.capacity, _outcome(problem, x))):
        if limit is None:
            continue
        step = 0.01 * max(abs(limit), 1.0)
        relaxed = _solve_concave(problem, **{name: limit + step})
        out.append(Constraint(name, limit, used, max(0.0, (_objective(problem, relaxed) - best) / step)))
    for i, m in enumerate(problem.limits):
        used = m.total(problem.levers, x)
        for side, limit, sign in (("maximum", m.maximum, 1.0), ("minimum", m.minimum, -1.0)):
            if limit is None:
                continue
            step = 0.01 * max(abs(limit), 1.0)
            moved = dataclasses.replace(m, **{side: limit + sign * step})
            relaxed = dataclasses.replace(problem, limits=problem.limits[:i] + (moved,) + problem.limits[i + 1:])
            try:
                gain = _objective(problem, _solve_concave(relaxed)) - best
            except InfeasibleAllocation:
                gain = 0.0
            out.append(Constraint(f"{side} {m.metric}", limit, used, max(0.0, gain / step)))
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
