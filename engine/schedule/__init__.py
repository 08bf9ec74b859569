"""Cron schedules, the slot ledger and catch-up after downtime (DOMAIN.md §5, issue 6).

* :mod:`engine.schedule.cron`: slots of a cron expression in a time zone, DST-correct;
* :mod:`engine.schedule.definitions`: schedules from ``[schedules.<name>]`` config, slot keys;
* :mod:`engine.schedule.ledger`: the ``schedule_slots`` rows, run by the Store;
* :mod:`engine.schedule.sweep`: a batch job scheduled without a batch runs every pending one;
* :mod:`engine.schedule.scheduler`: one tick, with an injectable clock.

Contract for probes and operators (``schedule_slots``; ``ledger.STATUSES``):

``due`` → ``started`` → ``succeeded`` | ``failed`` | ``overran``, or ``late`` (not started
within ``grace_seconds``; it may still start), or ``missed`` (never run: the catch-up policy
skipped it after downtime). Columns: ``schedule, slot_at, status, job, slot_id,
deadline_at (slot + grace), max_duration_seconds, submitted_at, started_at, ended_at,
execution_id, reason``. A slot's run has the idempotency key ``schedule:<name>:<slot UTC iso>``
and ``job_executions.slot_id = schedule_slots.slot_id = <name>@<slot UTC iso>``.

Catch-up (per schedule), applied to slots whose grace passed before any scheduler tick chose
them: ``skip`` marks them all missed; ``once`` runs the latest and marks the rest missed;
``all`` runs the latest ``catch_up_cap`` (oldest of those first) and marks the rest missed.
Slots still within their grace always run. A schedule seen for the first time starts its
ledger ``grace_seconds`` before now; a disabled one records nothing and does not catch up
the time it was off; at most :data:`ledger.MAX_BACKLOG` of downtime is recorded.
"""

from engine.schedule.clock import ManualClock, system_clock
from engine.schedule.definitions import STATUSES, Schedule, SlotRun, schedules_from_config, slot_id, slot_key
from engine.schedule.scheduler import Scheduler, TickReport

__all__ = ["ManualClock", "STATUSES", "Schedule", "Scheduler", "SlotRun", "TickReport", "schedules_from_config",
           "slot_id", "slot_key", "system_clock"]
