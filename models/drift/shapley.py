"""Shapley attribution of a function's change to the players that moved its inputs.

Each player moves some inputs by a fixed amount; the Shapley value of a player is
its marginal effect on the function averaged over every order in which the
players could have arrived. The values add up to ``f(end) - f(start)`` exactly,
whatever the function (products, ratios, clamps), which is why component drift
uses it rather than a first-order (derivative) approximation.
"""

from __future__ import annotations

from math import factorial
from typing import Callable

import numpy as np

# 2**14 coalitions is a few milliseconds; beyond it, sampled orderings (each one additive on its own).
EXACT_MAX_PLAYERS = 14
SAMPLED_ORDERINGS = 2000


def shapley(func: Callable[[np.ndarray], np.ndarray], start: np.ndarray, moves: np.ndarray,
            seed: int = 0) -> np.ndarray:
    """Shapley values of players moving a function's inputs.

    Parameters
    ----------
    func : callable
        Maps an ``(n, k)`` array of input points to ``n`` values (vectorised).
    start : ndarray, shape (k,)
        The inputs before any player moves.
    moves : ndarray, shape (p, k)
        Row ``i`` is how player ``i`` shifts the inputs.
    seed : int
        Seed of the sampled orderings used when there are more than
        ``EXACT_MAX_PLAYERS`` players.

    Returns
    -------
    ndarray, shape (p,)
        Values summing to ``func(start + moves.sum(0)) - func(start)``; NaN
        everywhere if the function is undefined at any point visited.
    """
    start = np.asarray(start, dtype=float)
    moves = np.atleast_2d(np.asarray(moves, dtype=float))
    players = moves.shape[0]
    if players == 0:
        return np.zeros(0)
    if players <= EXACT_MAX_PLAYERS:
        return _exact(func, start, moves)
    return _sampled(func, start, moves, seed)


def _exact(func, start, moves):
    players = moves.shape[0]
    masks = np.arange(1 << players)
    member = ((masks[:, None] >> np.arange(players)) & 1).astype(float)
    values = np.asarray(func(start + member @ moves), dtype=float)
    if not np.all(np.isfinite(values)):
        return np.full(players, np.nan)
    size = member.sum(axis=1).astype(int)
    weight = np.array([factorial(s) * factorial(players - s - 1) / factorial(players) for s in range(players)])
    result = np.empty(players)
    for i in range(players):
        without = masks[(masks >> i) & 1 == 0]
        result[i] = np.sum(weight[size[without]] * (values[without | (1 << i)] - values[without]))
    return result


def _sampled(func, start, moves, seed):
    players = moves.shape[0]
    rng = np.random.default_rng(seed)
    orders = np.array([rng.permutation(players) for _ in range(SAMPLED_ORDERINGS)])
    # points[o, j] = inputs after the first j players of ordering o have moved
    steps = moves[orders]                                   # (orders, players, k)
    points = np.concatenate([np.zeros((len(orders), 1, start.size)), np.cumsum(steps, axis=1)], axis=1) + start
    values = np.asarray(func(points.reshape(-1, start.size)), dtype=float).reshape(len(orders), players + 1)
    if not np.all(np.isfinite(values)):
        return np.full(players, np.nan)
    marginal = np.diff(values, axis=1)
    result = np.zeros(players)
    np.add.at(result, orders.ravel(), marginal.ravel())
    return result / len(orders)
