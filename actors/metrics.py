"""The engine's Ray metrics (``ray.util.metrics``), exported by each node's metrics agent to
Prometheus and the Ray dashboard.

One function per fact, called where the number is known (the Load daemons, the Store actor,
the probe runner). Each process also keeps the running totals it recorded (:func:`snapshot`)
so an actor can report them without a Prometheus scrape. Outside a Ray worker or driver the
functions only update those totals: recording never breaks the caller.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Mapping

log = logging.getLogger(__name__)

#: job and probe durations in seconds
DURATION_BOUNDARIES = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]

_DEFS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # name: (kind, description, tag keys)
    "cmp_records_loaded": ("counter", "Records committed by loads (valid and erroring)", ("daemon",)),
    "cmp_records_errored": ("counter", "Records that failed validation in committed loads", ("daemon",)),
    "cmp_files_rejected": ("counter", "Files refused whole (quarantined)", ("daemon",)),
    "cmp_network_requests": ("counter", "Network request outcomes recorded, by target and status",
                             ("target", "status")),
    "cmp_job_runs": ("counter", "Job executions finished, by job and status", ("job", "status")),
    "cmp_job_duration_seconds": ("histogram", "Job execution wall time", ("job", "status")),
    "cmp_probe_value": ("gauge", "Last value measured by a probe", ("probe",)),
    "cmp_probe_runs": ("counter", "Probe runs by outcome", ("probe", "outcome")),
}

_lock = threading.Lock()
_metrics: dict[str, Any] = {}
_totals: dict[str, float] = {}


def _ray_metric(name: str):
    """The Ray metric object of ``name`` in this process (created on first use), or None
    when Ray is not running here or refuses (recording must never fail the caller)."""
    metric = _metrics.get(name)
    if metric is not None:
        return metric
    try:
        import ray
        from ray.util import metrics as ray_metrics

        if not ray.is_initialized():
            return None
        kind, description, tags = _DEFS[name]
        if kind == "counter":
            metric = ray_metrics.Counter(name, description=description, tag_keys=tags)
        elif kind == "gauge":
            metric = ray_metrics.Gauge(name, description=description, tag_keys=tags)
        else:
            metric = ray_metrics.Histogram(name, description=description, boundaries=DURATION_BOUNDARIES,
                                           tag_keys=tags)
    except Exception as exc:  # noqa: BLE001
        log.debug("metric %s unavailable: %s", name, exc)
        return None
    _metrics[name] = metric
    return metric


def _key(name: str, tags: Mapping[str, str]) -> str:
    return name + "{" + ",".join(f"{k}={tags[k]}" for k in sorted(tags)) + "}"


def _record(name: str, value: float, tags: Mapping[str, str]) -> None:
    tags = {k: str(v) for k, v in tags.items()}
    kind = _DEFS[name][0]
    with _lock:
        key = _key(name, tags)
        if kind == "counter":
            _totals[key] = _totals.get(key, 0.0) + value
        elif kind == "gauge":
            _totals[key] = value
        else:
            _totals[key + ":count"] = _totals.get(key + ":count", 0.0) + 1
            _totals[key + ":sum"] = _totals.get(key + ":sum", 0.0) + value
        metric = _ray_metric(name)
    if metric is None:
        return
    try:
        if kind == "counter":
            if value > 0:
                metric.inc(value, tags=tags)
        elif kind == "gauge":
            metric.set(value, tags=tags)
        else:
            metric.observe(value, tags=tags)
    except Exception as exc:  # noqa: BLE001
        log.debug("recording %s failed: %s", name, exc)


# -- what the engine records ---------------------------------------------------------------------


def record_load(daemon: str, records: int, errors: int) -> None:
    _record("cmp_records_loaded", records, {"daemon": daemon})
    _record("cmp_records_errored", errors, {"daemon": daemon})


def record_rejected_file(daemon: str) -> None:
    _record("cmp_files_rejected", 1, {"daemon": daemon})


def record_requests(target: str, counts: Mapping[str, int]) -> None:
    """Outcomes of network requests just recorded: ``{"NC": 120, "NR": 3}``."""
    for status, n in counts.items():
        _record("cmp_network_requests", n, {"target": target, "status": status})


def record_job(job: str, status: str, seconds: float | None) -> None:
    _record("cmp_job_runs", 1, {"job": job, "status": status})
    if seconds is not None:
        _record("cmp_job_duration_seconds", max(0.0, seconds), {"job": job, "status": status})


def record_job_execution(doc: Mapping[str, Any]) -> None:
    """A finished execution row (as ``engine.jobs.execution`` returns it); an earlier run returned
    for a known idempotency key is not counted again."""
    if doc.get("existing") or doc.get("status") not in ("SUCCEEDED", "FAILED"):
        return
    started, ended = doc.get("started_at"), doc.get("ended_at")
    seconds = (ended - started).total_seconds() if started is not None and ended is not None else None
    record_job(str(doc.get("job")), str(doc["status"]), seconds)


def record_probe_value(name: str, value: float | None, outcome: str | None = None) -> None:
    """A probe run: its value (a gauge; None when the probe failed to measure) and its outcome."""
    if value is not None:
        _record("cmp_probe_value", float(value), {"probe": name})
    if outcome is not None:
        _record("cmp_probe_runs", 1, {"probe": name, "outcome": outcome})


def snapshot() -> dict[str, float]:
    """What this process recorded: ``{"cmp_records_loaded{daemon=x}": 10.0, …}``."""
    with _lock:
        return dict(_totals)


__all__ = ["record_job", "record_job_execution", "record_load", "record_probe_value", "record_rejected_file",
           "record_requests", "snapshot"]
