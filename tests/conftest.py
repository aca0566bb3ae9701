"""Test-wide setup: a tiny demo window, temp paths, and dbt's manifest built once per session."""

import os
import shutil
import tempfile

SESSION_HOME = tempfile.mkdtemp(prefix="budgetlens-tests-")
BASE_ENV = {
    "BUDGETLENS_HOME": SESSION_HOME,
    "BUDGETLENS_START_DATE": "2026-01-01",
    "BUDGETLENS_END_DATE": "2026-02-15",
    "BUDGETLENS_DEMO_SCALE": "0.05",
    "DAGSTER_HOME": os.path.join(SESSION_HOME, "dagster_home"),
}


def pytest_configure(config):
    # Tests never use a real key or endpoint, whatever the developer's shell has.
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "BUDGETLENS_SPECS", "BUDGETLENS_LANDING",
                 "BUDGETLENS_DUCKDB", "BUDGETLENS_OUTPUT", "BUDGETLENS_RAW_RETENTION_DAYS",
                 "BUDGETLENS_HOURLY_RETENTION_DAYS"):
        os.environ.pop(name, None)
    os.environ.update(BASE_ENV)
    os.makedirs(BASE_ENV["DAGSTER_HOME"], exist_ok=True)
    from assets.settings import Settings
    from orchestration.cli import prepare_dbt

    prepare_dbt(Settings.from_env())  # dagster-dbt needs the manifest before definitions load


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_HOME, ignore_errors=True)  # each session's home is its own: leave no trace in /tmp
