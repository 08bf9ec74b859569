"""Running probes: measure, classify, store the results, move the alerts, notify.

Runs where the database is (the Store's process, on a cursor it is given). One run of a probe:
1. measure — its kind's query (or the operator's SQL) gives a reading per subject, on a cursor
   of its own and within the probe's ``timeout_seconds`` (engine/probes/limits.py); an error or
   the time limit here is the outcome "probe failed" with the reason, never an exception;
2. in one transaction — a probe_results row per subject and one alert step per subject
   (subjects whose alert is open but that no longer appear count as back to normal);
3. after the commit — each alert event goes to every recipient, each delivery a notifications
   row (a failed delivery is recorded, not raised).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

import duckdb

from engine import telemetry
from engine.config import NotifyConfig, ProbeConfig, to_dict
from engine.errors import NotFound
from engine.notify import deliver
from engine.probes import alerts
from engine.probes.clock import Clock, utc_now
from engine.probes.kinds import KINDS, Reading
from engine.probes.limits import ProbeLocks, TimeLimit, own_cursor
from engine.probes.sql_probe import sql_reading

OUTCOMES = ("success", "warning", "severe", "probe failed")  # in rising order of badness

#: Runs of one probe in turn, definition syncs in turn, everything else side by side (see
#: engine/probes/limits.py). Per process: the Store's is the only one that runs probes.
LOCKS = ProbeLocks()


def classify(p: ProbeConfig, reading: Reading) -> str:
    if p.type == "Normal" and reading.volume is not None and reading.volume < p.min_volume:
        return "success"  # the minimum-volume guard: 1 error out of 1 is not an error ratio

    def breached(threshold: float | None) -> bool:
        if threshold is None:
            return False
        return reading.value > threshold if p.compare == "above" else reading.value < threshold

    return "severe" if breached(p.severe) else "warning" if breached(p.warning) else "success"


def worst(outcomes) -> str:
    return max(outcomes, key=OUTCOMES.index, default="success")


@dataclass
class ProbeRun:
    probe: str
    run_at: datetime
    outcome: str
    results: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProbeRunner:
    def __init__(self, con: duckdb.DuckDBPyConnection, probes: Mapping[str, ProbeConfig], notify: NotifyConfig,
                 home: Path, clock: Clock = utc_now) -> None:
        self.con = con
        self.probes = dict(probes)
        self.notify = notify
        self.home = Path(home)
        self.clock = clock
        self._trace_id: str | None = None  # of the run in progress (its span), kept with its results

    # -- definitions ---------------------------------------------------------------------------

    def sync(self) -> None:
        """Write the configured definitions into the probes table (what `probes list` shows)."""
        now = self.clock()
        rows = [(name, p.stage, p.category, p.type, json.dumps(to_dict(p)), p.enabled, now)
                for name, p in sorted(self.probes.items())]
        with LOCKS.sync:
            self._sync(rows, now)

    def _sync(self, rows: list[tuple], now: datetime) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("UPDATE probes SET enabled = false, updated_at = ? WHERE enabled", [now])
            self.con.executemany(
                "INSERT INTO probes (name, stage, category, probe_type, definition, enabled, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET stage = excluded.stage, "
                "category = excluded.category, probe_type = excluded.probe_type, definition = excluded.definition, "
                "enabled = excluded.enabled, updated_at = excluded.updated_at", rows)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def get(self, name: str) -> ProbeConfig:
        if name not in self.probes:
            raise NotFound(f"no probe {name!r}", hint=f"known: {', '.join(sorted(self.probes)) or 'none'}")
        return self.probes[name]

    # -- scheduling ------------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[str]:
        now = now or self.clock()
        last = dict(self.con.execute("SELECT probe, max(run_at) FROM probe_results GROUP BY probe").fetchall())
        return [name for name, p in sorted(self.probes.items()) if p.enabled and _is_due(p, last.get(name), now)]

    def run_due(self) -> list[ProbeRun]:
        now = self.clock()
        return [self.run(name, now=now) for name in self.due(now)]

    # -- one run --------------------------------------------------------------------------------

    def run(self, name: str, *, now: datetime | None = None) -> ProbeRun:
        p = self.get(name)
        with LOCKS.of(name), telemetry.span(f"probe {name}", attributes={"probe.type": p.type,
                                                                          "probe.kind": p.kind}) as sp:
            now = now or self.clock()
            self._trace_id = telemetry.trace_id_of(sp)
            try:
                readings = self._measure(name, p, now)
                error = None
            except Exception as exc:  # any failure to measure is the outcome "probe failed"
                readings, error = [], f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
            run = ProbeRun(name, now, "probe failed" if error else "success", error=error)
            events = self._record(name, p, readings, error, now, run)
            for event in events:
                run.events.append(self._notify(p, event))
            run.outcome = "probe failed" if error else worst(r["outcome"] for r in run.results)
            telemetry.set_attributes(sp, {"probe.outcome": run.outcome, "probe.subjects": len(run.results),
                                          "probe.events": len(run.events)})
            return run

    def _measure(self, name: str, p: ProbeConfig, now: datetime) -> list[Reading]:
        """The readings, measured on a cursor of their own that is interrupted at the time limit."""
        with own_cursor(self.con) as cur, TimeLimit(cur, p.timeout_seconds) as limit:
            try:
                return sql_reading(cur, p, now) if p.type == "SQL" else KINDS[p.kind].measure(cur, p, now)
            except duckdb.Error:
                _rollback_quietly(cur)
                if limit.expired:
                    raise TimeoutError(f"interrupted at its time limit of {p.timeout_seconds:g} s "
                                       f"(probes.{name}.timeout_seconds)") from None
                raise

    def _record(self, name: str, p: ProbeConfig, readings: list[Reading], error: str | None, now: datetime,
                run: ProbeRun) -> list[alerts.AlertEvent]:
        con = self.con
        events: list[alerts.AlertEvent] = []
        con.execute("BEGIN TRANSACTION")
        try:
            def result(subject: str | None, value: float | None, outcome: str, detail: str) -> None:
                con.execute("INSERT INTO probe_results (result_id, probe, subject, run_at, value, outcome, detail, "
                            "trace_id) VALUES (nextval('seq_probe_result'), ?, ?, ?, ?, ?, ?, ?)",
                            [name, subject, now, value, outcome, detail, self._trace_id])
                run.results.append({"subject": subject, "value": value, "outcome": outcome, "detail": detail})

            def step(subject: str, outcome: str, value: float | None, message: str) -> None:
                event = alerts.step(con, probe=name, subject=subject, outcome=outcome, value=value, message=message,
                                    now=now, for_seconds=p.for_seconds,
                                    keep_firing_for_seconds=p.keep_firing_for_seconds)
                if event:
                    events.append(event)

            failure = alerts.failure_subject(name)
            if error is not None:
                result(None, None, "probe failed", error)
                step(failure, "probe failed", None, f"{name} could not run: {error}")
            else:
                step(failure, "success", None, f"{name} runs again")
                for r in readings:
                    outcome = classify(p, r)
                    detail = r.detail + (f"; below the minimum volume {p.min_volume}"
                                         if p.type == "Normal" and r.volume is not None and r.volume < p.min_volume
                                         else "")
                    result(r.subject, r.value, outcome, detail)
                    step(r.subject, outcome, r.value, _message(name, p, r, outcome))
                if not readings:
                    result(None, None, "success", "nothing to measure")
                seen = {r.subject for r in readings}
                for subject in alerts.active_subjects(con, name) - seen - {failure}:
                    step(subject, "success", None, f"{name}: {subject} no longer reported")
            con.execute("COMMIT")
        except BaseException:
            _rollback_quietly(con)
            raise
        return events

    def _notify(self, p: ProbeConfig, event: alerts.AlertEvent) -> dict[str, Any]:
        doc = {"event": event.event, "alert_id": event.alert_id, "probe": event.probe, "subject": event.subject,
               "severity": event.severity, "value": event.value, "message": event.message,
               "at": event.at.isoformat(), "stage": p.stage, "category": p.category, "type": p.type}
        deliveries = [deliver(recipient, doc, self.notify, self.home) for recipient in p.recipients]
        if deliveries:  # recipients = [] is allowed (history only); DuckDB refuses an empty executemany
            self.con.executemany(
                "INSERT INTO notifications (alert_id, event, recipient, sent_at, ok, error) VALUES (?, ?, ?, ?, ?, ?)",
                [(event.alert_id, event.event, d.recipient, event.at, d.ok, d.error) for d in deliveries])
        return {**doc, "deliveries": [asdict(d) for d in deliveries]}


def _is_due(p: ProbeConfig, last: datetime | None, now: datetime) -> bool:
    if last is None:
        return True
    if p.cron:
        from croniter import croniter

        return croniter(p.cron, last).get_next(datetime) <= now
    return now >= last + timedelta(seconds=p.interval_seconds)


def _message(name: str, p: ProbeConfig, r: Reading, outcome: str) -> str:
    if outcome in ("warning", "severe"):
        threshold = p.severe if outcome == "severe" else p.warning
        sign = ">" if p.compare == "above" else "<"
        return f"{name} {outcome}: {r.subject}: value {r.value:.4g} {sign} {threshold:g}; {r.detail}"
    return f"{name} normal: {r.subject}: value {r.value:.4g}; {r.detail}"


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction was open


__all__ = ["LOCKS", "OUTCOMES", "ProbeRun", "ProbeRunner", "classify", "worst"]
