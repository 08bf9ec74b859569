"""Cron schedules of jobs and their slot ledger."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from cli import source
from cli.options import HomeOpt, JsonOpt, LimitOpt, home_config
from cli.render import Column, render
from engine.errors import UsageError

schedules_app = typer.Typer(help="Cron schedules of jobs and their slot ledger (times in UTC).", no_args_is_help=True)

SCHEDULE_COLUMNS = (
    Column("schedule", lambda s: s["name"] + ("" if s["enabled"] else " (off)")), Column("job", "job"),
    Column("cron", "cron"), Column("tz", "timezone"), Column("next slot", "next_slot"),
    Column("last slot", "last_slot"), Column("status", "last_status"),
)
SLOT_COLUMNS = (
    Column("schedule", "schedule"), Column("slot", "slot_at"), Column("status", "status"),
    Column("exec", "execution_id"), Column("started", "started_at"), Column("ended", "ended_at"),
    Column("reason", "reason"),
)


@schedules_app.command("list")
def schedules_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Each schedule: job, cron, time zone, next slot, and the status of its last slot."""
    from engine.schedule import schedules_from_config, system_clock
    from engine.schedule.cron import next_slot

    schedules = schedules_from_config(home_config(home))
    last = source.reader(home).last_slots([s.name for s in schedules])
    now = system_clock()
    rows = []
    for s in schedules:
        slot = last.get(s.name) or {}
        rows.append({"name": s.name, "job": s.job, "cron": s.cron, "timezone": s.timezone, "enabled": s.enabled,
                     "catch_up": s.catch_up, "next_slot": next_slot(s.cron, s.timezone, now) if s.enabled else None,
                     "last_slot": slot.get("slot_at"), "last_status": slot.get("status"),
                     "last_reason": slot.get("reason")})
    render(rows, SCHEDULE_COLUMNS, json_out)


@schedules_app.command("slots")
def schedules_slots(
    schedule: Annotated[Optional[str], typer.Argument(help="Only this schedule.")] = None,
    status: Annotated[Optional[str], typer.Option("--status", help="due, late, started, succeeded, failed, overran or missed.")] = None,
    limit: LimitOpt = 50,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The slot ledger, newest first: each expected slot, its status, execution and reason."""
    from engine.schedule import STATUSES

    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown slot status {status!r}", hint=f"use one of: {', '.join(STATUSES)}")
    render(source.reader(home).schedule_slots(schedule, status=status, limit=limit), SLOT_COLUMNS, json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(schedules_app, name="schedules")
