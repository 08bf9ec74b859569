"""Read-only views of probes, their results and alerts (`cmpctl probes list|history|alerts`)."""

from __future__ import annotations

from typing import Any, Mapping

import duckdb

from engine.config import ProbeConfig


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def list_probes(con: duckdb.DuckDBPyConnection, probes: Mapping[str, ProbeConfig]) -> list[dict[str, Any]]:
    """Every configured probe with its last run: worst outcome, values by subject, firing alerts."""
    last = {r["probe"]: r for r in _rows(con.execute(
        """
        WITH l AS (SELECT probe, max(run_at) AS run_at FROM probe_results GROUP BY probe)
        SELECT r.probe, r.run_at,
               CASE max(CASE r.outcome WHEN 'probe failed' THEN 3 WHEN 'severe' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END)
                   WHEN 3 THEN 'probe failed' WHEN 2 THEN 'severe' WHEN 1 THEN 'warning' ELSE 'success' END AS outcome,
               list({'subject': r.subject, 'value': r.value, 'outcome': r.outcome, 'detail': r.detail}
                    ORDER BY r.subject) AS results
        FROM probe_results r JOIN l USING (probe, run_at) GROUP BY r.probe, r.run_at
        """))}
    firing = dict(con.execute(
        "SELECT probe, count(*) FROM alerts WHERE state = 'firing' GROUP BY probe").fetchall())
    out = []
    for name, p in sorted(probes.items()):
        run = last.get(name, {})
        out.append({"name": name, "stage": p.stage, "category": p.category, "type": p.type,
                    "kind": p.kind or "query", "enabled": p.enabled,
                    "schedule": p.cron or f"every {p.interval_seconds:g} s",
                    "thresholds": {"warning": p.warning, "severe": p.severe, "compare": p.compare},
                    "last_run_at": run.get("run_at"), "last_outcome": run.get("outcome"),
                    "last_results": run.get("results") or [], "firing": firing.get(name, 0)})
    return out


def history(con: duckdb.DuckDBPyConnection, probe: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    return _rows(con.execute(
        "SELECT result_id, probe, subject, run_at, value, outcome, detail FROM probe_results "
        "WHERE $probe IS NULL OR probe = $probe ORDER BY result_id DESC LIMIT $limit",
        {"probe": probe, "limit": limit}))


def alerts(con: duckdb.DuckDBPyConnection, *, active_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """Alerts newest first, each with the notifications sent for it."""
    return _rows(con.execute(
        """
        SELECT a.alert_id, a.probe, a.subject, a.state, a.severity, a.value, a.message, a.started_at, a.fired_at,
               a.resolved_at,
               coalesce((SELECT list({'event': n.event, 'recipient': n.recipient, 'sent_at': n.sent_at, 'ok': n.ok,
                                      'error': n.error} ORDER BY n.sent_at)
                         FROM notifications n WHERE n.alert_id = a.alert_id), []) AS notifications
        FROM alerts a
        WHERE NOT $active OR a.state IN ('pending', 'firing')
        ORDER BY a.alert_id DESC LIMIT $limit
        """, {"active": active_only, "limit": limit}))


__all__ = ["alerts", "history", "list_probes"]
