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
