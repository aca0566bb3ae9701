"""Public holidays as known events: a budget's holiday calendars, expanded over a span of days.

The dates come from the ``holidays`` package (national and regional calendars of
about 250 countries, kept current by its maintainers): movable feasts (Easter,
Thanksgiving) and observed days are its job, not ours.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools

import holidays as holiday_data


@functools.lru_cache(maxsize=1)
def _supported() -> dict[str, list[str]]:
    return holiday_data.list_supported_countries()


def calendar_problem(country: str, subdivision: str | None) -> tuple[str, str] | None:
    """Why a calendar cannot be used, as (key, message); None when it can."""
    supported = _supported()
    if country not in supported:
        near = difflib.get_close_matches(country.upper(), list(supported), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return "country", f"unknown country {country!r}{hint}: use an ISO 3166-1 code such as US, DE or GB"
    if subdivision is not None and subdivision not in supported[country]:
        listed = ", ".join(supported[country][:12]) + (", ..." if len(supported[country]) > 12 else "")
        return "subdivision", (f"{country} has no subdivision {subdivision!r}"
                               + (f" (it has: {listed})" if listed else " (it has none)"))
    return None


@functools.lru_cache(maxsize=64)
def holidays_between(country: str, subdivision: str | None, first: dt.date,
                     last: dt.date) -> tuple[tuple[dt.date, str], ...]:
    """The calendar's holidays from ``first`` to ``last`` (inclusive), by date then name, named in English
    where the calendar has English names (else in its own language)."""
    if last < first:
        return ()
    probe = holiday_data.country_holidays(country, subdiv=subdivision)
    language = "en_US" if "en_US" in getattr(probe, "supported_languages", ()) else None
    found = holiday_data.country_holidays(country, subdiv=subdivision, years=range(first.year, last.year + 1),
                                          language=language)
    # one date may hold two holidays, joined by the package as "A; B": each is its own name
    return tuple(sorted((day, name) for day, names in found.items() if first <= day <= last
                        for name in names.split("; ")))
