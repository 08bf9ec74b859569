"""What a job is: a named function over a connection, its parameters, context and result.

A job is a plain function ``(con, params, ctx) -> JobResult`` that runs set-based SQL on the
connection it is given, inside the transaction the runner (:mod:`engine.jobs.runner`) opened:
either all of its writes commit together with the execution row, or none do. Jobs must be
safe to run twice on the same input (the second run creates nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

import duckdb

from engine.errors import UsageError

#: the parameter naming the batch a batch job works on
BATCH_PARAM = "batch"


@dataclass(frozen=True)
class JobContext:
    execution_id: int
    now: datetime
    trace_id: str | None = None
    traceparent: str | None = None  # the job's span, for work it hands on (network requests)


@dataclass
class JobResult:
    read: int = 0
    ok: int = 0
    error: int = 0
    batch_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


JobFn = Callable[[duckdb.DuckDBPyConnection, Mapping[str, str], JobContext], JobResult]


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: JobFn
    description: str
    params: tuple[str, ...] = ()  # accepted parameter names
    required: tuple[str, ...] = ()


def batch_param(params: Mapping[str, str]) -> int:
    """The ``batch`` parameter as a batch id, or a UsageError saying what it must be."""
    raw = str(params.get(BATCH_PARAM, "")).strip()
    if not raw.isdigit():
        raise UsageError(f"batch must be a batch id (a positive whole number), not {raw!r}",
                         hint="`cmpctl batches list` shows the batch ids")
    return int(raw)


def check_params(spec: JobSpec, params: Mapping[str, str]) -> None:
    """UsageError for a parameter the job does not take, or a required one missing."""
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise UsageError(f"job {spec.name} does not take {', '.join(unknown)}",
                         hint=f"it takes: {', '.join(spec.params) or 'no parameters'}")
    missing = [p for p in spec.required if p not in params]
    if missing:
        raise UsageError(f"job {spec.name} needs --param {missing[0]}=…")


__all__ = ["BATCH_PARAM", "JobContext", "JobFn", "JobResult", "JobSpec", "batch_param", "check_params"]
