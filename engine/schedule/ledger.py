"""The slot ledger (``schedule_slots``): SQL run inside the Store, on the cursor it is given.

One row per expected cron slot, keyed by (schedule, slot_at). Statuses (the Punctual probe
relies on exactly these words):

``due``        the slot's time has come; not started yet, still within its grace;
``late``       not started within ``grace_seconds`` of the slot (it may still start: a run
               waiting behind another job, or a slot the catch-up policy chose to run);
``started``    its job execution is running (``started_at``; ``execution_id`` once it ends);
``succeeded``  the execution ended SUCCEEDED within ``max_duration_seconds``;
``failed``     the execution ended FAILED, or could not start (e.g. the job is not registered);
               ``reason`` says why;
``overran``    the run took (or is taking) longer than ``max_duration_seconds``;
``missed``     never run: its grace passed while nothing ran it (engine down) and the catch-up
               policy skipped it.

A run that started after its grace is visible as ``started_at > deadline_at``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

import duckdb
import pyarrow as pa

from engine.schedule.cron import UTC, slots_between
from engine.schedule.definitions import STATUSES, Schedule, SlotRun, slot_id

WAITING = ("due", "late")  # not started yet
ENDED = ("succeeded", "failed", "overran", "missed")
#: After a longer downtime only this much backlog is recorded (a week of a per-minute schedule
#: is 10,080 slots, planned in about a second).
MAX_BACKLOG = timedelta(days=7)

_SLOT_SCHEMA = pa.schema([
    ("schedule", pa.string()), ("slot_at", pa.timestamp("us", tz="UTC")), ("slot_id", pa.string()),
    ("job", pa.string()), ("deadline_at", pa.timestamp("us", tz="UTC")), ("max_duration_seconds", pa.float64()),
])


def _utc(ts: datetime | None) -> datetime | None:
    return ts.astimezone(UTC) if ts is not None else None


def plan(con: duckdb.DuckDBPyConnection, schedules: Sequence[Schedule], now: datetime) -> list[SlotRun]:
    """One scheduler tick's bookkeeping, in one transaction; returns the slots to run now.

    1. new slots up to ``now`` become ``due`` rows (a schedule seen for the first time starts
       ``grace`` before now, so an engine started just after a slot still runs it);
    2. slots whose grace passed while nothing ran them: the catch-up policy keeps the latest
       (``once``) or the latest ``catch_up_cap`` (``all``) as ``late`` runs, the rest ``missed``;
    3. slots chosen earlier and still waiting past their grace become ``late``;
    4. runs past their maximum duration become ``overran``;
    5. every waiting slot of an enabled schedule is chosen (``submitted_at``) and returned.
    """
    now = now.astimezone(UTC)
    con.execute("BEGIN TRANSACTION")
    try:
        for s in schedules:
            _add_new_slots(con, s, now)
            if s.enabled:
                _catch_up(con, s, now)
        con.execute(
            "UPDATE schedule_slots SET status = 'late', updated_at = $now, "
            "reason = 'not started within its grace (waiting for the job runner)' "
            "WHERE status = 'due' AND submitted_at IS NOT NULL AND deadline_at < $now", {"now": now})
        con.execute(
            "UPDATE schedule_slots SET status = 'overran', updated_at = $now, "
            "reason = printf('still running after its maximum of %d s', CAST(max_duration_seconds AS BIGINT)) "
            "WHERE status = 'started' AND max_duration_seconds > 0 "
            "AND started_at + to_microseconds(CAST(max_duration_seconds * 1e6 AS BIGINT)) < $now", {"now": now})
        runs = _choose(con, [s for s in schedules if s.enabled], now)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return runs


def _add_new_slots(con: duckdb.DuckDBPyConnection, s: Schedule, now: datetime) -> None:
    row = con.execute("SELECT planned_until FROM schedule_horizons WHERE schedule = ?", [s.name]).fetchone()
    after = _utc(row[0]) if row else now - timedelta(seconds=s.grace_seconds)
    after = max(after, now - MAX_BACKLOG)
    # A disabled schedule's horizon still moves: switching it back on does not catch up the
    # time it was off.
    con.execute(
        "INSERT INTO schedule_horizons VALUES (?, ?) ON CONFLICT (schedule) DO UPDATE SET planned_until = excluded.planned_until",
        [s.name, now])
    if not s.enabled:
        con.execute("UPDATE schedule_slots SET status = 'missed', updated_at = ?, reason = 'the schedule was disabled' "
                    "WHERE schedule = ? AND status IN ('due', 'late')", [now, s.name])
        return
    slots = slots_between(s.cron, s.timezone, after, now)
    if not slots:
        return
    grace = timedelta(seconds=s.grace_seconds)
    new = pa.table({
        "schedule": [s.name] * len(slots), "slot_at": slots, "slot_id": [slot_id(s.name, t) for t in slots],
        "job": [s.job] * len(slots), "deadline_at": [t + grace for t in slots],
        "max_duration_seconds": [s.max_duration_seconds] * len(slots),
    }, schema=_SLOT_SCHEMA)
    con.register("_new_slots", new)
    try:
        con.execute(
            "INSERT INTO schedule_slots (schedule, slot_at, status, updated_at, slot_id, job, deadline_at, max_duration_seconds) "
            "SELECT schedule, slot_at, 'due', ?, slot_id, job, deadline_at, max_duration_seconds FROM _new_slots "
            "ON CONFLICT (schedule, slot_at) DO NOTHING", [now])
    finally:
        con.unregister("_new_slots")


def _catch_up(con: duckdb.DuckDBPyConnection, s: Schedule, now: datetime) -> None:
    """Slots nobody chose before their grace passed: the engine (or its scheduler) was down."""
    where = "schedule = $s AND status = 'due' AND submitted_at IS NULL AND deadline_at < $now"
    keep = {"skip": 0, "once": 1, "all": s.catch_up_cap}[s.catch_up]
    cutoff = None
    if keep:
        rows = con.execute(f"SELECT slot_at FROM schedule_slots WHERE {where} ORDER BY slot_at DESC LIMIT $k",
                           {"s": s.name, "now": now, "k": keep}).fetchall()
        cutoff = rows[-1][0] if rows else None
    policy = s.catch_up if s.catch_up != "all" else f"all, cap {s.catch_up_cap}"
    if cutoff is not None:
        con.execute(
            f"UPDATE schedule_slots SET status = 'late', updated_at = $now, "
            f"reason = 'not started within its grace; run late by the catch-up policy ({policy})' "
            f"WHERE {where} AND slot_at >= $cutoff", {"s": s.name, "now": now, "cutoff": cutoff})
    con.execute(
        f"UPDATE schedule_slots SET status = 'missed', updated_at = $now, "
        f"reason = 'not run: its grace passed while the scheduler was not running (catch-up {policy})' "
        f"WHERE {where}" + (" AND slot_at < $cutoff" if cutoff is not None else ""),
        {"s": s.name, "now": now} | ({"cutoff": cutoff} if cutoff is not None else {}))


def _choose(con: duckdb.DuckDBPyConnection, enabled: Sequence[Schedule], now: datetime) -> list[SlotRun]:
    if not enabled:
        return []
    by_name = {s.name: s for s in enabled}
    names = list(by_name)
    con.execute("UPDATE schedule_slots SET submitted_at = ?, updated_at = ? WHERE status IN ('due', 'late') "
                "AND submitted_at IS NULL AND list_contains(?, schedule)", [now, now, names])
    rows = con.execute("SELECT schedule, slot_at FROM schedule_slots WHERE status IN ('due', 'late') "
                       "AND list_contains(?, schedule) ORDER BY slot_at, schedule", [names]).fetchall()
    return [SlotRun(name, _utc(at), by_name[name].job, by_name[name].param_dict) for name, at in rows]


# -- one run (called by the Store around the job, under its job lock) -----------------------


def begin(con: duckdb.DuckDBPyConnection, run: SlotRun, now: datetime) -> bool:
    """Mark the slot started; False when it is not waiting any more (already run or missed)."""
    row = con.execute("UPDATE schedule_slots SET status = 'started', started_at = ?, updated_at = ?, "
                      "submitted_at = coalesce(submitted_at, ?) WHERE schedule = ? AND slot_at = ? "
                      "AND status IN ('due', 'late') RETURNING 1",
                      [now, now, now, run.schedule, run.slot_at]).fetchone()
    return row is not None


def end(con: duckdb.DuckDBPyConnection, run: SlotRun, *, ended: datetime, execution_id: int | None,
        succeeded: bool, reason: str | None = None) -> None:
    """Record how the slot's run ended: succeeded, failed, or overran (took longer than its max)."""
    con.execute(
        """
        UPDATE schedule_slots SET
            ended_at = $ended, updated_at = $ended, execution_id = $exec,
            status = CASE
                WHEN NOT $ok THEN 'failed'
                WHEN status = 'overran' OR (max_duration_seconds > 0
                     AND $ended > started_at + to_microseconds(CAST(max_duration_seconds * 1e6 AS BIGINT))) THEN 'overran'
                ELSE 'succeeded' END,
            reason = CASE
                WHEN NOT $ok THEN $reason
                WHEN status = 'overran' OR (max_duration_seconds > 0
                     AND $ended > started_at + to_microseconds(CAST(max_duration_seconds * 1e6 AS BIGINT)))
                THEN printf('ran %.1f s, longer than its maximum of %d s',
                            epoch($ended) - epoch(started_at), CAST(max_duration_seconds AS BIGINT))
                ELSE NULL END
        WHERE schedule = $s AND slot_at = $at
        """,
        {"ended": ended, "exec": execution_id, "ok": succeeded, "reason": reason, "s": run.schedule, "at": run.slot_at})


def recover(con: duckdb.DuckDBPyConnection, now: datetime) -> int:
    """At Store start: runs marked started died with the previous Store process (jobs run in it)."""
    rows = con.execute(
        "UPDATE schedule_slots SET status = 'failed', ended_at = ?, updated_at = ?, "
        "reason = 'the Store stopped during the run (its work was rolled back)' "
        "WHERE status = 'started' RETURNING 1", [now, now]).fetchall()
    return len(rows)


# -- reading -------------------------------------------------------------------------------


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def slot(con: duckdb.DuckDBPyConnection, schedule: str, slot_at: datetime) -> dict[str, Any] | None:
    cur = con.execute("SELECT * FROM schedule_slots WHERE schedule = ? AND slot_at = ?", [schedule, slot_at])
    rows = _dicts(cur)
    return rows[0] if rows else None


def slots(con: duckdb.DuckDBPyConnection, schedule: str | None = None, *, status: str | None = None,
          limit: int = 100) -> list[dict[str, Any]]:
    """Newest first."""
    cur = con.execute(
        "SELECT schedule, slot_at, status, job, slot_id, execution_id, deadline_at, submitted_at, started_at, ended_at, "
        "reason "
        "FROM schedule_slots WHERE ($s IS NULL OR schedule = $s) AND ($st IS NULL OR status = $st) "
        "ORDER BY slot_at DESC, schedule LIMIT $n", {"s": schedule, "st": status, "n": limit})
    return _dicts(cur)


def last_slots(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The newest slot of each schedule (for `cmpctl schedules list`)."""
    cur = con.execute(
        "SELECT schedule, slot_at, status, execution_id, reason FROM schedule_slots "
        "WHERE list_contains($names, schedule) QUALIFY row_number() OVER (PARTITION BY schedule ORDER BY slot_at DESC) = 1",
        {"names": list(names)})
    return {r["schedule"]: r for r in _dicts(cur)}


def counts(con: duckdb.DuckDBPyConnection, schedule: str) -> dict[str, int]:
    rows = con.execute("SELECT status, count(*) FROM schedule_slots WHERE schedule = ? GROUP BY status", [schedule]).fetchall()
    return {status: n for status, n in rows}


__all__ = ["ENDED", "MAX_BACKLOG", "STATUSES", "WAITING", "begin", "counts", "end", "last_slots", "plan", "recover",
           "slot", "slots"]
