"""Chart images for briefings (matplotlib, headless)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def fan_chart(observed: pd.DataFrame, forecast: list[dict], title: str, path: Path) -> Path:
    """Observed history as a line, the forecast as a median with 80% and 95% bands.

    ``observed`` has ``period_start, value``; ``forecast`` is the payload's
    predicted points (period_start, value, low80, high80, low95, high95).
    """
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    ax.plot(pd.to_datetime(observed["period_start"]), observed["value"], color="#1f3b73", label="observed")
    if forecast:
        f = pd.DataFrame(forecast)
        x = pd.to_datetime(f["period_start"])
        ax.fill_between(x, f["low95"], f["high95"], color="#f28e2b", alpha=0.2, label="95% interval")
        ax.fill_between(x, f["low80"], f["high80"], color="#f28e2b", alpha=0.35, label="80% interval")
        ax.plot(x, f["value"], color="#f28e2b", linestyle="--", label="predicted")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata so the same figures give the same bytes.
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


def waterfall_chart(start: float, factors: dict[str, float], title: str, path: Path) -> Path:
    """Baseline value, one bar per factor (green up, red down) and the current value."""
    labels = ["baseline", *[f.replace("_", " ") for f in factors], "current"]
    steps = list(factors.values())
    bottoms, heights, level = [0.0], [start], start
    for step in steps:
        bottoms.append(level if step >= 0 else level + step)
        heights.append(abs(step))
        level += step
    bottoms.append(0.0)
    heights.append(level)
    colours = ["#1f3b73", *["#59a14f" if s >= 0 else "#e15759" for s in steps], "#1f3b73"]
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    ax.bar(range(len(labels)), heights, bottom=bottoms, color=colours)
    ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8, ha="right")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path
