"""The Provisioning probes every engine has out of the box (DOMAIN.md §5, issue 6).

A ``[probes.<name>]`` table with one of these names overrides only the keys it gives
(``enabled = false`` switches one off); other names add probes.
"""

from __future__ import annotations

from engine.config import ProbeConfig


def builtin_probes() -> dict[str, ProbeConfig]:
    return {
        "provisioning_errors": ProbeConfig(
            type="Normal", kind="job_error_ratio", subject="provisioning", warning=0.05, severe=0.20,
            window_seconds=3600, min_volume=20, interval_seconds=60, for_seconds=120,
            keep_firing_for_seconds=300),
        "adaptor_errors": ProbeConfig(
            type="Normal", kind="adaptor_error_ratio", warning=0.05, severe=0.20, window_seconds=900,
            min_volume=50, interval_seconds=30, for_seconds=60, keep_firing_for_seconds=300),
        # Records the reconciliation job reported as discrepancies (both sides counted as read):
        # a bill cycle run whose OCS answers disagree with the engine's records more than a little.
        "reconciliation_discrepancies": ProbeConfig(
            type="Normal", kind="job_error_ratio", subject="reconciliation", warning=0.01, severe=0.05,
            window_seconds=24 * 3600, min_volume=20, interval_seconds=300, keep_firing_for_seconds=3600),
        "provisioning_slots": ProbeConfig(
            type="Punctual", kind="schedule_slots", subject="provisioning", warning=0.0, severe=2.0,
            window_seconds=6 * 3600, max_wait_seconds=120, interval_seconds=60),
        "requests_waiting": ProbeConfig(
            type="Punctual", kind="requests_waiting", warning=0.0, severe=1000.0, max_wait_seconds=900,
            interval_seconds=60, for_seconds=60, keep_firing_for_seconds=120),
        "extract_files": ProbeConfig(
            type="Completed", kind="extract_zero_files", compare="below", warning=1.0,
            window_seconds=24 * 3600, interval_seconds=900),
    }


__all__ = ["builtin_probes"]
