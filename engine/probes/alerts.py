"""Alert state per (probe, subject), with hysteresis, in the ``alerts`` table.

    breached ──► pending ──(breached for ``for_seconds``)──► firing   → notify "trigger"
    normal   ──► pending is dropped (resolved, never fired: nobody is told)
    firing  ──(normal for ``keep_firing_for_seconds``)──► resolved    → notify "resolve"

A firing alert that breaches again before it resolves simply keeps firing (its clear timer is
reset), so a flapping value notifies once, not on every flap. A probe that cannot run fires its
own alert (subject ``probe <name>``) at once, notified as "failure", resolved when it runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

BREACHED = ("warning", "severe", "probe failed")


@dataclass(frozen=True)
class AlertEvent:
    alert_id: int
    event: str  # trigger | failure | resolve
    probe: str
    subject: str
    severity: str
    value: float | None
    message: str
    at: datetime


def failure_subject(probe: str) -> str:
    return f"probe {probe}"


def active_subjects(con: duckdb.DuckDBPyConnection, probe: str) -> set[str]:
    rows = con.execute("SELECT subject FROM alerts WHERE probe = ? AND state IN ('pending', 'firing')", [probe])
    return {r[0] for r in rows.fetchall()}


def step(con: duckdb.DuckDBPyConnection, *, probe: str, subject: str, outcome: str, value: float | None,
         message: str, now: datetime, for_seconds: float, keep_firing_for_seconds: float) -> AlertEvent | None:
    """Move the (probe, subject) alert one evaluation on; returns the event to notify, if any."""
    row = con.execute(
        "SELECT alert_id, state, started_at, cleared_at FROM alerts "
        "WHERE probe = ? AND subject = ? AND state IN ('pending', 'firing') ORDER BY alert_id DESC LIMIT 1",
        [probe, subject]).fetchone()
    failure = outcome == "probe failed"
    if outcome in BREACHED:
        if row is None:
            (alert_id,) = con.execute(
                "INSERT INTO alerts (alert_id, probe, subject, state, severity, value, message, started_at, updated_at) "
                "VALUES (nextval('seq_alert'), ?, ?, 'pending', ?, ?, ?, ?, ?) RETURNING alert_id",
                [probe, subject, outcome, value, message, now, now]).fetchone()
            state, started_at = "pending", now
        else:
            alert_id, state, started_at, _ = row
            con.execute("UPDATE alerts SET severity = ?, value = ?, message = ?, cleared_at = NULL, updated_at = ? "
                        "WHERE alert_id = ?", [outcome, value, message, now, alert_id])
        if state == "pending" and (failure or (now - started_at).total_seconds() >= for_seconds):
            con.execute("UPDATE alerts SET state = 'firing', fired_at = ? WHERE alert_id = ?", [now, alert_id])
            return AlertEvent(alert_id, "failure" if failure else "trigger", probe, subject, outcome, value, message, now)
        return None
    if row is None:
        return None
    alert_id, state, _, cleared_at = row
    if state == "pending":
        con.execute("UPDATE alerts SET state = 'resolved', resolved_at = ?, updated_at = ? WHERE alert_id = ?",
                    [now, now, alert_id])
        return None
    if cleared_at is None:
        con.execute("UPDATE alerts SET cleared_at = ?, updated_at = ? WHERE alert_id = ?", [now, now, alert_id])
        cleared_at = now
    keep = 0.0 if subject == failure_subject(probe) else keep_firing_for_seconds
    if (now - cleared_at).total_seconds() < keep:
        return None
    (severity,) = con.execute(
        "UPDATE alerts SET state = 'resolved', resolved_at = ?, updated_at = ? WHERE alert_id = ? RETURNING severity",
        [now, now, alert_id]).fetchone()
    return AlertEvent(alert_id, "resolve", probe, subject, severity, value, message, now)


__all__ = ["AlertEvent", "BREACHED", "active_subjects", "failure_subject", "step"]
