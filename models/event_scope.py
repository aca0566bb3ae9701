"""Which segment scopes a known event (a launch, an outage, a regional holiday) is about."""

from __future__ import annotations

from collections.abc import Iterable


def event_concerns(node: str, level: str | None, segment: str | None, levels: list[str],
                   nodes: Iterable[str], below: bool = True) -> bool:
    """Whether an event about ``segment`` of ``level`` concerns the scope ``node``.

    Parameters
    ----------
    node : str
        A segment path (``"apac/au"``) or ``"_total"``.
    level, segment : str or None
        The event's level and that level's segment value (``"market"``, ``"au"``), or its path where one value
        names several segments (``"south/ward07"``: ward 7 of the south site, not of the north); None for the
        whole budget.
    levels : list of str
        The budget's segment levels, top first.
    nodes : iterable of str
        Every segment path of the budget (a path's depth is its level).
    below : bool, default True
        Whether an event about a segment under ``node`` concerns it too (a holiday of New South Wales moves
        Australia's total); False for the events about the scope itself or a segment it lies in only.

    Returns
    -------
    bool
        True for the whole budget's events, and for the segment itself, one under it or one above it (the total
        included): New South Wales' holidays move Australia, APAC and the total, not EMEA.
    """
    if level is None:
        return True
    if node == "_total":
        return below
    if level not in levels:
        return False
    depth = levels.index(level) + 1
    for other in nodes:
        parts = other.split("/")
        named = other == segment if "/" in segment else parts[-1] == segment
        if len(parts) == depth and named and (
                other == node or node.startswith(other + "/") or (below and other.startswith(node + "/"))):
            return True
    return False
