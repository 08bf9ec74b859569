"""The Store's probe methods (engine/probes: measured here, where the data is; notifications
are sent from here)."""

from __future__ import annotations

from typing import Any

from engine.config import Config
from engine.probes.runner import ProbeRunner
from engine.probes.views import alerts, history, list_probes
from engine.store.services.base import StoreBase


class ProbeService(StoreBase):
    def run_probes(self, config: Config, names: list[str] | None = None) -> list[dict[str, Any]]:
        """Run the named probes now (due or not), or every probe that is due; returns the runs."""
        with self.cursor() as cur:
            runner = ProbeRunner(cur, config.probes, config.notify, config.home)
            runner.sync()
            runs = [runner.run(name) for name in names] if names else runner.run_due()
            return [run.as_dict() for run in runs]

    def probe_list(self, config: Config) -> list[dict[str, Any]]:
        """Every configured probe with its last run and firing alerts."""
        with self.cursor() as cur:
            return list_probes(cur, config.probes)

    def probe_history(self, probe: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Probe results, newest first."""
        with self.cursor() as cur:
            return history(cur, probe, limit)

    def probe_alerts(self, *, active_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Alert history, newest first (only pending and firing ones with ``active_only``)."""
        with self.cursor() as cur:
            return alerts(cur, active_only=active_only, limit=limit)


__all__ = ["ProbeService"]
