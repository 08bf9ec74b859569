"""Cron slots as UTC instants, read in a time zone, correct across DST changes.

croniter walks *naive local wall-clock* times (pure calendar arithmetic, no DST surprises);
each wall time is then placed on the time line with :mod:`zoneinfo`:

* a wall time that does not exist (the spring-forward gap, e.g. 01:30 in London on the last
  Sunday of March) runs at the same distance after the jump, once (PEP 495 ``fold=0``), so a
  daily 01:30 job still runs that day, at 02:30 BST;
* a wall time that happens twice (the autumn fall-back hour) is one slot, the first
  occurrence, for a schedule with fixed hours; a schedule that fires every hour (hour field
  ``*``) fires in both occurrences, so "every minute" is every real minute (120 in that hour).

Slots are deduplicated by instant and returned in time order.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

UTC = timezone.utc
_MARGIN = timedelta(hours=3)  # covers any UTC offset change while walking wall times


def check_cron(expr: str) -> None:
    """Raise ValueError unless ``expr`` is a five-field cron expression."""
    if not isinstance(expr, str) or len(expr.split()) != 5 or not croniter.is_valid(expr):
        raise ValueError(f"cron must be five fields like \"*/5 * * * *\", got {expr!r}")


def check_timezone(name: str) -> None:
    zone(name)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as \"Europe/London\" or \"UTC\")") from None


def _every_hour(expr: str) -> bool:
    hours = croniter(expr).expanded[1]
    return hours == ["*"] or len(hours) == 24


def _instants(wall: datetime, tz: ZoneInfo, both_folds: bool) -> list[datetime]:
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    exists = first.astimezone(tz).replace(tzinfo=None) == wall
    if not exists:
        return [first]  # in the gap: fold=0 lands after the jump
    return [first, second] if both_folds else [first]


def slots_between(expr: str, tz_name: str, after: datetime, until: datetime) -> list[datetime]:
    """Every slot of ``expr`` in ``tz_name`` with ``after < slot <= until`` (UTC, in order)."""
    if until <= after:
        return []
    tz = zone(tz_name)
    both = _every_hour(expr)
    start = after.astimezone(tz).replace(tzinfo=None) - _MARGIN
    stop = until.astimezone(tz).replace(tzinfo=None) + _MARGIN
    it = croniter(expr, start)
    found: set[datetime] = set()
    while True:
        wall = it.get_next(datetime)
        if wall > stop:
            break
        for instant in _instants(wall, tz, both):
            if after < instant <= until:
                found.add(instant)
    return sorted(found)


def next_slot(expr: str, tz_name: str, after: datetime) -> datetime:
    """The first slot strictly after ``after`` (UTC)."""
    horizon = timedelta(days=2)
    while True:
        found = slots_between(expr, tz_name, after, after + horizon)
        if found:
            return found[0]
        if horizon > timedelta(days=400 * 5):
            raise ValueError(f"cron {expr!r} has no slot in five years")  # e.g. "0 0 30 2 *"
        horizon *= 4


__all__ = ["UTC", "check_cron", "check_timezone", "next_slot", "slots_between", "zone"]
