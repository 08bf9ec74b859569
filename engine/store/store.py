"""The Store: the one owner of the engine's DuckDB file, as a plain object.

Its API is the composition of one small service per subsystem (:mod:`engine.store.services`):
loads, jobs and schedules, the network request log, extract files, daemons, probes, and the
read-only views. Each method is declared once, there. The Store actor (actors/store.py) is
this class made remote, and its client (actors/clients.py) is typed as it; tests use the
Store directly. Methods are thread-safe: the actor runs them on several threads, each on its
own cursor.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import StoreBusy
from engine.jobs import JobRegistry
from engine.schedule.clock import Clock, system_clock
from engine.store.database import connect
from engine.store.services.daemons import HEARTBEAT_WRITE_SECONDS, DaemonService
from engine.store.services.extract import ExtractService
from engine.store.services.loads import LoadService
from engine.store.services.probes import ProbeService
from engine.store.services.requests import RequestService
from engine.store.services.schedules import ScheduleService
from engine.store.services.views import AuditViews
from engine.transmission.effects import EffectRegistry


class Store(LoadService, ScheduleService, RequestService, ExtractService, DaemonService, ProbeService, AuditViews):
    """Opens (and migrates) the database at ``path``.

    ``jobs``: the jobs this engine runs (``jobs.registry.default_registry``, built where the
    engine is wired together); ``effects``: what finished network commands change (default the
    built-ins); ``clock``: where the Store's times come from (tests pass a manual one).
    """

    def __init__(self, path: Path | str, *, jobs: JobRegistry, effects: EffectRegistry | None = None,
                 clock: Clock | None = None) -> None:
        self.path = Path(path)
        self._init_base(connect(self.path), clock or system_clock)
        self._init_loads()
        self._init_jobs(jobs)
        self._init_schedules()
        self._init_requests(effects)
        self._init_daemons()

    def close(self, timeout: float = 600.0) -> None:
        """Finish the running job (it commits or rolls back as a whole), abort open loads (their
        daemons redo them), checkpoint and close the database."""
        if not self._job_lock.acquire(timeout=timeout):
            raise StoreBusy(f"a job is still running after {timeout:.0f} s", hint="retry `cmpctl down`")
        try:
            self._abort_open_loads()
            self._close_requests()
            self._con.execute("CHECKPOINT")
            self._con.close()
        finally:
            self._job_lock.release()


__all__ = ["HEARTBEAT_WRITE_SECONDS", "Store"]
