"""Schedules as the scheduler uses them: config entries resolved (time zone filled in), and
the one run of one slot that the scheduler hands to the Store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.schedule.cron import UTC


#: Slot statuses of the ledger (engine/schedule/ledger.py); the Punctual probe relies on them.
STATUSES = ("due", "late", "started", "succeeded", "failed", "overran", "missed")


@dataclass(frozen=True)
class Schedule:
    name: str
    job: str
    cron: str
    timezone: str
    params: tuple[tuple[str, str], ...] = ()  # sorted pairs: hashable and picklable
    catch_up: str = "once"
    catch_up_cap: int = 10
    grace_seconds: float = 60.0
    max_duration_seconds: float = 0.0  # 0: no limit
    enabled: bool = True

    @property
    def param_dict(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True)
class SlotRun:
    """One slot of one schedule to run: what the Store's ``run_scheduled`` takes."""

    schedule: str
    slot_at: datetime  # UTC
    job: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def slot_id(self) -> str:
        return slot_id(self.schedule, self.slot_at)

    @property
    def key(self) -> str:
        return slot_key(self.schedule, self.slot_at)


def slot_iso(slot_at: datetime) -> str:
    return slot_at.astimezone(UTC).isoformat()


def slot_id(schedule: str, slot_at: datetime) -> str:
    """What ``job_executions.slot_id`` and ``schedule_slots.slot_id`` hold: ``<name>@<UTC iso>``."""
    return f"{schedule}@{slot_iso(slot_at)}"


def slot_key(schedule: str, slot_at: datetime) -> str:
    """The idempotency key of a slot's run: a repeated submission returns the first execution."""
    return f"schedule:{schedule}:{slot_iso(slot_at)}"


def schedules_from_config(config: Any) -> tuple[Schedule, ...]:
    """The config's ``[schedules.*]`` (built-ins overlaid), with the default time zone filled in."""
    default_tz = config.scheduler.timezone
    return tuple(
        Schedule(
            name=name, job=s.job, cron=s.cron, timezone=s.timezone or default_tz,
            params=tuple(sorted(s.params.items())), catch_up=s.catch_up, catch_up_cap=s.catch_up_cap,
            grace_seconds=s.grace_seconds, max_duration_seconds=s.max_duration_seconds, enabled=s.enabled,
        )
        for name, s in sorted(config.schedules.items())
    )


__all__ = ["STATUSES", "Schedule", "SlotRun", "schedules_from_config", "slot_id", "slot_iso", "slot_key"]
