"""``[scheduler]`` and ``[schedules.<name>]``: when the jobs run by the clock (engine/schedule)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

CATCH_UP_POLICIES = ("skip", "once", "all")


@dataclass(frozen=True)
class ScheduleConfig:
    """One ``[schedules.<name>]`` table: run ``job`` at every slot of ``cron`` (engine/schedule)."""

    job: str = ""  # the registered job to run (`cmpctl jobs list`)
    cron: str = ""  # five fields, read in ``timezone`` (DST-correct)
    params: dict[str, str] = dataclasses.field(default_factory=dict)  # a table, or "k=v,k=v" from env
    timezone: str = ""  # empty: [scheduler] timezone
    catch_up: str = "once"  # slots missed while the engine was down: skip | once | all
    catch_up_cap: int = 10  # catch_up = "all": at most this many missed slots run
    grace_seconds: float = 60.0  # not started this long after its slot: late
    max_duration_seconds: float = 0.0  # running longer than this: overran (0: no limit)
    enabled: bool = True  # false: no slots are planned (waiting ones become missed)

    def __post_init__(self) -> None:
        if not self.job:
            raise ValueError("job is required (a name from `cmpctl jobs list`)")
        from engine.schedule.cron import check_cron, check_timezone  # lazy: croniter

        check_cron(self.cron)
        if self.timezone:
            check_timezone(self.timezone)
        if self.catch_up not in CATCH_UP_POLICIES:
            raise ValueError(f"catch_up must be skip, once or all, got {self.catch_up!r}")
        if self.catch_up_cap < 0 or self.grace_seconds < 0 or self.max_duration_seconds < 0:
            raise ValueError("catch_up_cap, grace_seconds and max_duration_seconds cannot be negative")


def builtin_schedules() -> dict[str, ScheduleConfig]:
    # The provisioning job every minute is the safety net behind the load daemons' triggers:
    # scheduled without a batch, it provisions every committed batch still waiting for it.
    return {
        "provisioning": ScheduleConfig(job="provisioning", cron="* * * * *", catch_up="once",
                                       grace_seconds=30.0, max_duration_seconds=900.0),
        "reconciliation": ScheduleConfig(job="reconciliation", cron="0 3 * * *", catch_up="once",
                                         grace_seconds=900.0, max_duration_seconds=7200.0),
    }


@dataclass(frozen=True)
class SchedulerConfig:
    timezone: str = "Europe/London"  # cron schedules are read in this zone unless they name one
    tick_seconds: float = 5.0  # how often the Scheduler actor looks at the clock
    enabled: bool = True  # false: no Scheduler actor

    def __post_init__(self) -> None:
        from engine.schedule.cron import check_timezone

        check_timezone(self.timezone)
        if self.tick_seconds <= 0:
            raise ValueError("tick_seconds must be positive")


__all__ = ["CATCH_UP_POLICIES", "ScheduleConfig", "SchedulerConfig", "builtin_schedules"]
