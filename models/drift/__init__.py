"""Why metrics changed: the five-factor drift decomposition (see engine.py)."""

from models.drift.engine import FACTORS, BudgetFrames, DriftEngine, Pair, decompose_budget, default_pairs

__all__ = ["FACTORS", "BudgetFrames", "DriftEngine", "Pair", "decompose_budget", "default_pairs"]
