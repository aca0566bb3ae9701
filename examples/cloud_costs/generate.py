"""Landing files of the cloud_costs example: ``python examples/cloud_costs/generate.py LANDING_DIR``.

150 days from 2026-06-01 of two-hourly cost, request, latency and error readings per provider, service and
region, in New York time with the offset stored (Parquet, one file a month). Azure stops on day 100,
BigQuery starts on day 40, and eu-west loses 90% of its requests from 2026-09-10 to 2026-09-12 (the
spec's known outage). Seeded: the same files every time.
"""

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

START, DAYS = dt.date(2026, 6, 1), 150
SERVICES = [("aws", "compute", "us-east"), ("aws", "compute", "eu-west"), ("aws", "storage", "us-east"),
            ("gcp", "compute", "eu-west"), ("gcp", "bigquery", "us-east"), ("azure", "functions", "eu-west")]
OUTAGE = (dt.date(2026, 9, 10), dt.date(2026, 9, 12))


def readings() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for d in range(DAYS):
        day = START + dt.timedelta(days=d)
        for provider, service, region in SERVICES:
            if (provider == "azure" and d > 100) or (service == "bigquery" and d < 40):
                continue
            for hour in range(0, 24, 2):
                ts = pd.Timestamp(day) + pd.Timedelta(hours=hour)
                requests = rng.poisson(800 if day.weekday() < 5 else 400)
                if region == "eu-west" and OUTAGE[0] <= day <= OUTAGE[1]:
                    requests //= 10
                rows += [(ts, provider, service, region, "cost", float(rng.gamma(4, 0.5) * (1 + d / 300))),
                         (ts, provider, service, region, "requests", float(requests)),
                         (ts, provider, service, region, "latency_ms", float(rng.normal(110, 20))),
                         (ts, provider, service, region, "errors", float(rng.poisson(requests * 0.01)))]
    frame = pd.DataFrame(rows, columns=["ts", "cloud", "svc", "region", "metric", "amount"])
    frame["ts"] = frame["ts"].dt.tz_localize("America/New_York", nonexistent="shift_forward", ambiguous=True)
    return frame


def write(landing: Path) -> int:
    folder = landing / "cloud"
    folder.mkdir(parents=True, exist_ok=True)
    frame = readings()
    for month, rows in frame.groupby(frame["ts"].dt.month):
        rows.to_parquet(folder / f"m{month:02d}.parquet", index=False)
    return len(frame)


if __name__ == "__main__":
    print(f"{write(Path(sys.argv[1])):,} readings written under {sys.argv[1]}/cloud")
