"""The scheduler's core: one tick = plan the ledger, then hand the chosen slots to the runner.

Plain Python over a :class:`ScheduleStore` (the Store itself in tests, the Store actor's
client in the Scheduler actor). The clock is passed in, so tests drive time.
``submit`` decides how a run is started: by default it runs in the Store and waits (tests,
and the one-shot ``tick``); the actor starts it without waiting, one run per schedule at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Protocol, Sequence

from engine.schedule.clock import Clock, system_clock
from engine.schedule.definitions import Schedule, SlotRun


class ScheduleStore(Protocol):
    """The Store methods a scheduler calls."""

    def schedule_tick(self, schedules: Sequence[Schedule], now: datetime) -> list[SlotRun]: ...
    def run_scheduled(self, run: SlotRun) -> dict[str, Any]: ...


@dataclass
class TickReport:
    now: datetime
    chosen: list[SlotRun] = field(default_factory=list)  # waiting slots handed to ``submit``
    results: list[Any] = field(default_factory=list)  # what ``submit`` returned for each


class Scheduler:
    def __init__(self, store: ScheduleStore, schedules: Sequence[Schedule], *, clock: Clock = system_clock,
                 submit: Callable[[SlotRun], Any] | None = None):
        self.store = store
        self.schedules = tuple(schedules)
        self.clock = clock
        self._submit = submit or (lambda run: self.store.run_scheduled(run))

    def tick(self) -> TickReport:
        """Plan the ledger up to the clock's now and submit every slot waiting to run."""
        now = self.clock()
        report = TickReport(now)
        report.chosen = list(self.store.schedule_tick(self.schedules, now))
        for run in report.chosen:
            report.results.append(self._submit(run))
        return report


__all__ = ["ScheduleStore", "Scheduler", "TickReport"]
