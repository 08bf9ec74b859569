"""What each probe measures: one set-based query per kind, returning a reading per subject.

A kind is ``fn(con, probe, now) -> list[Reading]``; ``now`` comes from the caller's clock, so
tests drive time. Windows are ``(now - window, now]``. Every query reads a handful of columns
with a time or status filter; bench/probes.py times them at 10M network requests.

:data:`KINDS` at the bottom is the one list of kinds, each with the probe type it belongs to;
``[probes.<name>]`` tables are checked against it when the config is loaded (:func:`check_kind`).
So that the config can import this module, it imports the config's classes for type checking
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from engine.daemons import EXTRACT, of_kind, target_subject
from engine.errors import UsageError

if TYPE_CHECKING:  # the config imports this module for KINDS: it stays light and acyclic
    import duckdb

    from engine.config import ProbeConfig


@dataclass(frozen=True)
class Reading:
    subject: str  # the job, schedule, daemon or target concerned
    value: float
    volume: float | None = None  # Normal: records behind the ratio (the minimum-volume guard)
    detail: str = ""


Kind = Callable[["duckdb.DuckDBPyConnection", "ProbeConfig", datetime], list[Reading]]


def _since(p: ProbeConfig, now: datetime) -> datetime:
    return now - timedelta(seconds=p.window_seconds)


def _subject(p: ProbeConfig) -> str | None:
    return p.subject or None


# --- Normal: error ratios ------------------------------------------------------------------------


def job_error_ratio(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    """records_error / records_read of the job's executions that ended in the window."""
    rows = con.execute(
        """
        SELECT job, sum(records_error), sum(records_read), count(*) FROM job_executions
        WHERE coalesce(ended_at, started_at) > $since AND coalesce(ended_at, started_at) <= $now
          AND ($job IS NULL OR job = $job)
        GROUP BY job
        """, {"since": _since(p, now), "now": now, "job": _subject(p)}).fetchall()
    readings = [Reading(job, err / read if read else 0.0, read, f"{err} of {read} records in error over {n} runs")
                for job, err, read, n in rows]
    if p.subject and not readings:
        readings.append(Reading(p.subject, 0.0, 0, "no runs in the window"))
    return readings


def _by_daemon(rows: list[tuple]) -> dict[str, list]:
    """Rows of ``(target, command, *counts)`` summed per serving daemon and target (a FILE:
    target's requests are written by the Extract daemon of their command: engine/daemons.py)."""
    out: dict[str, list] = {}
    for target, command, *counts in rows:
        acc = out.setdefault(target_subject(target, command), [0] * len(counts))
        for i, value in enumerate(counts):
            acc[i] += value
    return out


def adaptor_error_ratio(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    """Share of the network outcomes recorded in the window that were NR/NE/NF/PE, by the
    daemon serving the target.

    Outcomes come from the request history (every attempt, so transient NEs count too); the
    window's rows are few and the history grows in time order, so the time filter prunes it."""
    rows = con.execute(
        """
        WITH h AS (
            SELECT request_id, status FROM network_request_history
            WHERE changed_at > $since AND changed_at <= $now AND status IN ('NC', 'NR', 'NE', 'NF', 'PE'))
        SELECT r.target, r.command, count(*) AS outcomes,
               count(*) FILTER (WHERE h.status = 'NR'), count(*) FILTER (WHERE h.status = 'NE'),
               count(*) FILTER (WHERE h.status = 'NF'), count(*) FILTER (WHERE h.status = 'PE')
        FROM h JOIN network_requests r ON r.request_id = h.request_id
        WHERE $target IS NULL OR r.target = $target
        GROUP BY r.target, r.command
        """, {"since": _since(p, now), "now": now, "target": _subject(p)}).fetchall()
    readings = []
    for subject, (n, nr, ne, nf, pe) in _by_daemon(rows).items():
        errors = nr + ne + nf + pe
        readings.append(Reading(subject, errors / n, n,
                                f"{errors} of {n} outcomes in error (NR {nr}, NE {ne}, NF {nf}, PE {pe})"))
    return readings


def load_error_ratio(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    """error_records / records of the batches each Load daemon committed in the window."""
    rows = con.execute(
        """
        SELECT f.daemon, sum(b.error_records), sum(b.records), count(*) FROM batches b
        JOIN files f ON f.file_id = b.file_id
        WHERE f.direction = 'Inbound' AND f.committed_at > $since AND f.committed_at <= $now
          AND ($daemon IS NULL OR f.daemon = $daemon)
        GROUP BY f.daemon
        """, {"since": _since(p, now), "now": now, "daemon": _subject(p)}).fetchall()
    return [Reading(d, err / n if n else 0.0, n, f"{err} of {n} records in error over {files} files")
            for d, err, n, files in rows]


# --- Punctual: work not done on time -----------------------------------------------------------


def schedule_slots(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    """Slots in trouble since the schedule's last succeeded slot: late, missed, overran, or due
    and not started within the grace (``max_wait_seconds``). A later success clears them."""
    rows = con.execute(
        """
        WITH s AS (
            SELECT schedule, slot_at, status FROM schedule_slots
            WHERE slot_at > $since AND slot_at <= $now AND ($schedule IS NULL OR schedule = $schedule)),
        ok AS (SELECT schedule, max(slot_at) AS ok_at FROM s WHERE status = 'succeeded' GROUP BY schedule)
        SELECT s.schedule, count(*) FILTER (WHERE bad),
               string_agg(CASE WHEN bad THEN s.status || ' ' || strftime(s.slot_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') END,
                          ', ' ORDER BY s.slot_at)
        FROM (SELECT s.*, (s.status IN ('late', 'missed', 'overran')
                           OR (s.status = 'due' AND s.slot_at < $grace_at))
                          AND s.slot_at > coalesce(ok.ok_at, '-infinity'::TIMESTAMPTZ) AS bad
              FROM s LEFT JOIN ok USING (schedule)) s
        GROUP BY s.schedule
        """, {"since": _since(p, now), "now": now, "schedule": _subject(p),
              "grace_at": now - timedelta(seconds=p.max_wait_seconds)}).fetchall()
    readings = [Reading(schedule, float(bad), None, f"slots not on time: {slots}" if bad else "every slot on time")
                for schedule, bad, slots in rows]
    if p.subject and not readings:
        readings.append(Reading(p.subject, 0.0, None, "no slots in the window"))
    return readings


def requests_waiting(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    """Requests in UN, due, and waiting longer than ``max_wait_seconds``, by the daemon serving
    the target."""
    rows = con.execute(
        """
        SELECT target, command, count(*), min(greatest(updated_at, coalesce(not_before, updated_at)))
        FROM network_requests
        WHERE status = 'UN' AND greatest(updated_at, coalesce(not_before, updated_at)) < $limit
          AND ($target IS NULL OR target = $target)
        GROUP BY target, command
        """, {"limit": now - timedelta(seconds=p.max_wait_seconds), "target": _subject(p)}).fetchall()
    waiting: dict[str, tuple[int, datetime]] = {}
    for target, command, n, since in rows:
        subject = target_subject(target, command)
        count, oldest = waiting.get(subject, (0, since))
        waiting[subject] = (count + n, min(oldest, since))
    return [Reading(subject, float(n), None, f"{n} requests waiting in UN longer than {p.max_wait_seconds:g} s "
                                             f"(oldest since {oldest:%Y-%m-%d %H:%M:%S})")
            for subject, (n, oldest) in waiting.items()]


def batches_waiting(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    """Batches still LOADED (not picked up by their job) longer than ``max_wait_seconds``."""
    rows = con.execute(
        """
        SELECT category || '/' || batch_type, count(*), min(batch_id) FROM batches
        WHERE stage = 'LOADED' AND stage_at < $limit AND ($type IS NULL OR batch_type = $type)
        GROUP BY 1
        """, {"limit": now - timedelta(seconds=p.max_wait_seconds), "type": _subject(p)}).fetchall()
    return [Reading(s, float(n), None, f"{n} batches LOADED longer than {p.max_wait_seconds:g} s (first: {first})")
            for s, n, first in rows]


def early_or_frequent_runs(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    """Runs of the job that started before their slot, plus runs beyond ``max_runs`` in the window."""
    rows = con.execute(
        """
        SELECT e.job, count(*) FILTER (WHERE s.slot_at IS NOT NULL AND e.started_at < s.slot_at), count(*)
        FROM job_executions e LEFT JOIN schedule_slots s ON s.execution_id = e.execution_id
        WHERE e.started_at > $since AND e.started_at <= $now AND ($job IS NULL OR e.job = $job)
        GROUP BY e.job
        """, {"since": _since(p, now), "now": now, "job": _subject(p)}).fetchall()
    readings = []
    for job, early, runs in rows:
        extra = max(0, runs - p.max_runs) if p.max_runs else 0
        readings.append(Reading(job, float(early + extra), None,
                                f"{early} runs started before their slot; {runs} runs in the window"
                                + (f" (at most {p.max_runs} allowed)" if p.max_runs else "")))
    return readings


# --- Completed: work that did not happen --------------------------------------------------------


def job_zero_runs(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    if not p.subject:
        raise UsageError("a job_zero_runs probe needs subject = \"<job name>\"")
    (n,) = con.execute(
        "SELECT count(*) FROM job_executions WHERE job = $job AND started_at > $since AND started_at <= $now",
        {"job": p.subject, "since": _since(p, now), "now": now}).fetchone()
    return [Reading(p.subject, float(n), None, f"{n} runs in the last {p.window_seconds:g} s")]


def extract_zero_files(con, p: ProbeConfig, now: datetime) -> list[Reading]:
    """Outbound files each Extract daemon wrote in the window: the daemons the engine has known
    for at least the window (a daemon started an hour ago has not failed a daily extract), or
    the one named by ``subject`` (its actor or its config name).

    The ``daemons`` table names a daemon by its actor name, the files ledger by its config name
    (engine/daemons.py has both)."""
    extract = of_kind(EXTRACT)
    rows = con.execute(
        """
        WITH names AS (SELECT unnest($actors) AS actor, unnest($config_names) AS config_name),
        d AS (SELECT name FROM daemons
              WHERE daemon_type = 'Extract' AND $daemon IS NULL AND coalesce(created_at, updated_at) <= $since
              UNION SELECT $daemon WHERE $daemon IS NOT NULL),
        dn AS (SELECT coalesce(n.actor, d.name) AS name, coalesce(n.config_name, d.name) AS config_name
               FROM d LEFT JOIN names n ON d.name IN (n.actor, n.config_name))
        SELECT dn.name, count(f.file_id) FROM dn
        LEFT JOIN files f ON f.daemon = dn.config_name AND f.direction = 'Outbound'
                         AND f.committed_at > $since AND f.committed_at <= $now
        GROUP BY dn.name
        """, {"daemon": _subject(p), "since": _since(p, now), "now": now,
              "actors": [d.actor_name for d in extract], "config_names": [d.config_name for d in extract]}).fetchall()
    return [Reading(name, float(n), None, f"{n} files written in the last {p.window_seconds:g} s") for name, n in rows]


# --- the kinds, by name -------------------------------------------------------------------------

#: Probe types (DOMAIN.md §5); an SQL probe runs its own query (engine/probes/sql_probe.py).
PROBE_TYPES = ("Normal", "Punctual", "Completed", "SQL")


@dataclass(frozen=True)
class ProbeKind:
    type: str  # the probe type it belongs to
    measure: Kind


KINDS: dict[str, ProbeKind] = {
    "job_error_ratio": ProbeKind("Normal", job_error_ratio),
    "adaptor_error_ratio": ProbeKind("Normal", adaptor_error_ratio),
    "load_error_ratio": ProbeKind("Normal", load_error_ratio),
    "schedule_slots": ProbeKind("Punctual", schedule_slots),
    "requests_waiting": ProbeKind("Punctual", requests_waiting),
    "batches_waiting": ProbeKind("Punctual", batches_waiting),
    "early_or_frequent_runs": ProbeKind("Punctual", early_or_frequent_runs),
    "job_zero_runs": ProbeKind("Completed", job_zero_runs),
    "extract_zero_files": ProbeKind("Completed", extract_zero_files),
}

#: The kinds of each probe type.
PROBE_KINDS: dict[str, tuple[str, ...]] = {t: tuple(n for n, k in KINDS.items() if k.type == t) for t in PROBE_TYPES}


def check_kind(probe_type: str, kind: str) -> None:
    """ValueError naming the choices unless ``probe_type`` is a type and ``kind`` one of its kinds
    (an SQL probe has none: it gives a query)."""
    if probe_type not in PROBE_TYPES:
        raise ValueError(f"type must be one of {', '.join(PROBE_TYPES)}, got {probe_type!r}")
    if probe_type != "SQL" and kind not in PROBE_KINDS[probe_type]:
        raise ValueError(f"kind of a {probe_type} probe must be one of {', '.join(PROBE_KINDS[probe_type])}, "
                         f"got {kind!r}")


__all__ = ["KINDS", "Kind", "PROBE_KINDS", "PROBE_TYPES", "ProbeKind", "Reading", "check_kind"]
