"""Cron schedules and their slot ledger."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from cli import source
from cli.options import HomeOpt, JsonOpt, _config, _print_json, out
from engine.errors import UsageError


schedules_app = typer.Typer(help="Cron schedules of jobs and their slot ledger.", no_args_is_help=True)


def _fmt_time(value, tz_name: str | None = None) -> str:
    if value is None:
        return "-"
    from engine.schedule.cron import zone

    local = value.astimezone(zone(tz_name)) if tz_name else value
    return f"{local:%Y-%m-%d %H:%M %Z}"


@schedules_app.command("list")
def schedules_list(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Each schedule: job, cron, time zone, next slot, and the status of its last slot."""
    from engine.schedule import schedules_from_config, system_clock
    from engine.schedule.cron import next_slot

    config = _config(home)
    schedules = schedules_from_config(config)
    last = source.store(home).last_slots([s.name for s in schedules])
    now = system_clock()
    rows = []
    for s in schedules:
        slot = last.get(s.name) or {}
        rows.append({"name": s.name, "job": s.job, "cron": s.cron, "timezone": s.timezone, "enabled": s.enabled,
                     "catch_up": s.catch_up, "next_slot": next_slot(s.cron, s.timezone, now) if s.enabled else None,
                     "last_slot": slot.get("slot_at"), "last_status": slot.get("status"),
                     "last_reason": slot.get("reason")})
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("schedule", "job", "cron", "tz", "next slot", "last slot", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"] + ("" if r["enabled"] else " (off)"), r["job"], r["cron"], r["timezone"],
                      _fmt_time(r["next_slot"], r["timezone"]), _fmt_time(r["last_slot"], r["timezone"]),
                      r["last_status"] or "-")
    out.print(table)


@schedules_app.command("slots")
def schedules_slots(
    schedule: Annotated[Optional[str], typer.Argument(help="Only this schedule.")] = None,
    status: Annotated[Optional[str], typer.Option("--status", help="due, late, started, succeeded, failed, overran or missed.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The slot ledger, newest first: each expected slot, its status, execution and reason."""
    from engine.schedule import STATUSES

    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown slot status {status!r}", hint=f"use one of: {', '.join(STATUSES)}")
    rows = source.store(home).schedule_slots(schedule, status=status, limit=limit)
    if json_out:
        _print_json(rows)
        return
    table = Table()
    for col in ("schedule", "slot (UTC)", "status", "exec", "started", "ended", "reason"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["schedule"], _fmt_time(r["slot_at"], "UTC"), r["status"], str(r["execution_id"] or ""),
                      f"{r['started_at']:%H:%M:%S}" if r["started_at"] else "-",
                      f"{r['ended_at']:%H:%M:%S}" if r["ended_at"] else "-", r["reason"] or "")
    out.print(table)




def register(app: typer.Typer) -> None:
    app.add_typer(schedules_app, name="schedules")
