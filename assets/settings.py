"""Configuration from the environment, with documented defaults (see README, "Configuration")."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_SPECS = PROJECT_ROOT / "models" / "demo" / "specs"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


class SettingsError(ValueError):
    """An environment variable with a value budgetlens cannot use."""


def _date(name: str, default: str) -> dt.date:
    raw = os.environ.get(name, default)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from None


def _number(name: str, default: str | None, kind=float, minimum: float | None = None):
    raw = os.environ.get(name, default)
    if raw is None or raw == "":
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _grains(name: str, default: str) -> tuple[str, ...]:
    raw = os.environ.get(name, default)
    grains = tuple(g.strip() for g in raw.split(",") if g.strip())
    unknown = [g for g in grains if g not in ("day", "week", "month")]
    if unknown:
        raise SettingsError(f"{name}={raw!r}: unknown grain(s) {', '.join(unknown)} (use day, week, month)")
    return grains


def _memory(name: str, default: str) -> str:
    raw = (os.environ.get(name) or default).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", raw, flags=re.IGNORECASE):
        raise SettingsError(f"{name}={raw!r} is not a memory size such as 2GB or 512MiB")
    return raw


def _path(name: str, default: Path) -> Path:
    return Path(os.environ.get(name) or default).expanduser().resolve()


@dataclass(frozen=True)
class Settings:
    """Where budgetlens reads and writes, and the demo and retention knobs."""

    home: Path
    duckdb_path: Path
    specs_dir: Path
    landing_dir: Path
    output_dir: Path
    history_start: dt.date
    history_end: dt.date
    demo_seed: int
    demo_scale: float
    raw_retention_days: int | None
    hourly_retention_days: int | None
    llm_model: str
    llm_run_cost_cap_usd: float
    llm_run_token_cap: int
    llm_min_grounded_ratio: float
    forecast_levels: int
    drift_grains: tuple[str, ...]
    lock_timeout_seconds: float
    duckdb_memory_limit: str

    @classmethod
    def from_env(cls) -> "Settings":
        home = _path("BUDGETLENS_HOME", PROJECT_ROOT / "var")
        start = _date("BUDGETLENS_START_DATE", "2025-01-01")
        end = _date("BUDGETLENS_END_DATE", "2026-10-31")
        if end < start and os.environ.get("BUDGETLENS_END_DATE"):
            raise SettingsError(f"BUDGETLENS_END_DATE {end} is before BUDGETLENS_START_DATE {start}")
        if end < start:  # the demo's default end, before a budget that began later: its data runs to yesterday
            end = max(start, dt.date.today() - dt.timedelta(days=1))
        return cls(
            home=home,
            duckdb_path=_path("BUDGETLENS_DUCKDB", home / "budgetlens.duckdb"),
            specs_dir=_path("BUDGETLENS_SPECS", DEMO_SPECS),
            landing_dir=_path("BUDGETLENS_LANDING", home / "landing"),
            output_dir=_path("BUDGETLENS_OUTPUT", home / "output"),
            history_start=start,
            history_end=end,
            demo_seed=_number("BUDGETLENS_DEMO_SEED", "20250101", int),
            demo_scale=_number("BUDGETLENS_DEMO_SCALE", "1.0", float, minimum=1e-6),
            raw_retention_days=_number("BUDGETLENS_RAW_RETENTION_DAYS", None, int, minimum=1),
            hourly_retention_days=_number("BUDGETLENS_HOURLY_RETENTION_DAYS", None, int, minimum=1),
            llm_model=os.environ.get("BUDGETLENS_LLM_MODEL") or "claude-sonnet-5-5",
            llm_run_cost_cap_usd=_number("BUDGETLENS_LLM_RUN_COST_CAP_USD", "5.0", float, minimum=0),
            llm_run_token_cap=_number("BUDGETLENS_LLM_RUN_TOKEN_CAP", "400000", int, minimum=0),
            llm_min_grounded_ratio=_number("BUDGETLENS_LLM_MIN_GROUNDED", "1.0", float, minimum=0),
            # segment levels below the total that get forecasts (0 = budget totals only)
            forecast_levels=_number("BUDGETLENS_FORECAST_LEVELS", "1", int, minimum=0),
            # grains decomposed by the drift stage besides each budget's reporting grain
            drift_grains=_grains("BUDGETLENS_DRIFT_GRAINS", "week"),
            # a run waits this long for another run to release the warehouse
            lock_timeout_seconds=_number("BUDGETLENS_LOCK_TIMEOUT", "21600", float, minimum=0),
            # DuckDB spills to disk beyond this (Python and dbt connections alike)
            duckdb_memory_limit=_memory("BUDGETLENS_DUCKDB_MEMORY_LIMIT", "2GB"),
        )

    def export(self) -> None:
        """Publish the resolved DuckDB path and memory limit so dbt (a subprocess) opens the very same file
    the same way."""
        os.environ["BUDGETLENS_DUCKDB"] = str(self.duckdb_path)
        os.environ["BUDGETLENS_DUCKDB_MEMORY_LIMIT"] = self.duckdb_memory_limit
        self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
