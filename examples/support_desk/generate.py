"""Landing files of the support_desk example: ``python examples/support_desk/generate.py LANDING_DIR``.

140 days from 2026-06-01: a daily staff-cost row per team and queue, one row per ticket (handle minutes,
resolved or not), each row with its id, and customer messages per team (billing's customers are
unhappier), as CSV in Berlin time without an offset. Planted bad rows, which ingestion must quarantine with
their reason: a handle time above the 1,440-minute maximum, an hour 25, a ticket row and a message each
sent twice under one id. Seeded.
"""

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

START, DAYS = dt.date(2026, 6, 1), 140
TEAMS = {"tier1": ["email", "chat"], "tier2": ["phone"], "billing": ["email"]}
STAFF = {"tier1": 600, "tier2": 900, "billing": 400}
HAPPY = ["thanks, solved quickly", "great help, very happy", "all good now, thank you"]
ANGRY = ["still broken, this is terrible", "waited for days, awful service", "very disappointed and angry"]


def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    rows, messages = [], []
    for d in range(DAYS):
        day = START + dt.timedelta(days=d)
        for team, queues in TEAMS.items():
            staff = STAFF[team] * (1 + 0.3 * np.sin(d / 9 + len(team)))
            for queue in queues:
                rows.append((f"S-{day}-{team}-{queue}", f"{day} 08:00:00", team, queue, round(staff / len(queues), 2),
                             "", "", ""))
                for _ in range(rng.poisson(staff / 40)):
                    at = dt.datetime.combine(day, dt.time(8)) + dt.timedelta(minutes=int(rng.integers(0, 600)))
                    minutes = max(1.0, rng.normal(45 if team == "tier2" else 35, 10))
                    rows.append((f"T{len(rows):06d}", f"{at:%Y-%m-%d %H:%M:%S}", team, queue, "", 1, f"{minutes:.1f}",
                                 int(rng.random() < 0.85)))
            for i in range(rng.poisson(3)):
                happy = rng.random() < (0.3 if team == "billing" else 0.7)
                messages.append((f"{team}-{d}-{i}", f"{day} 12:{i:02d}:00", team, "ticket",
                                 (HAPPY if happy else ANGRY)[rng.integers(0, 3)]))
    first_ticket = next(row for row in rows if row[0].startswith("T"))
    rows += [("X1", "2026-07-04 10:00:00", "tier1", "email", "", 1, "2000", 1),  # above the maximum
             ("X2", "2026-07-05 25:00:00", "tier1", "email", "", 1, "20", 1),    # no such hour
             first_ticket]                                                       # a ticket row sent twice
    messages += [("dup", "2026-07-01 10:00:00", "tier1", "ticket", "fine")] * 2  # one id, sent twice
    return (pd.DataFrame(rows, columns=["row_id", "at", "team", "queue", "cost_eur", "is_ticket", "minutes", "done"]),
            pd.DataFrame(messages, columns=["id", "created", "team", "type", "body"]))


def write(landing: Path) -> tuple[int, int]:
    (landing / "desk" / "tickets").mkdir(parents=True, exist_ok=True)
    events, messages = tables()
    for month, rows in events.groupby(events["at"].str[:7]):
        rows.to_csv(landing / "desk" / f"{month}.csv", index=False)
    messages.to_csv(landing / "desk" / "tickets" / "all.csv", index=False)
    return len(events), len(messages)


if __name__ == "__main__":
    events, messages = write(Path(sys.argv[1]))
    print(f"{events:,} rows and {messages:,} messages written under {sys.argv[1]}/desk")
