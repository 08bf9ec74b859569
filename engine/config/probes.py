"""``[probes.<name>]`` and ``[notify]``: checks run on a schedule, and how alerts reach people.

A probe table is checked here for its shape; its kind against the kinds table where the kinds
live (engine/probes/kinds.py) and its recipients against the schemes where the notifiers live
(engine/notify), so each is listed once. Neither imports the config at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config.values import Secret
from engine.notify import check_recipient
from engine.probes.kinds import check_kind


@dataclass(frozen=True)
class ProbeConfig:
    """One ``[probes.<name>]`` table: what to measure, when, against what, and whom to tell."""

    type: str = "SQL"  # Normal | Punctual | Completed | SQL
    kind: str = ""  # a built-in kind of the type (PROBE_KINDS); SQL probes give ``query``
    query: str = ""  # SQL: one read-only SELECT returning one number
    stage: str = "Provisioning"  # the probe's Stage / Category (DOMAIN.md §5), shown in lists and alerts
    category: str = "Provisioning"  # see stage
    subject: str = ""  # the job, schedule, daemon or target measured; empty: each one found
    warning: float | None = None  # thresholds (unset by default); at least one is required
    severe: float | None = None  # the worse threshold: outcome severe
    compare: str = "above"  # above: breached when value > threshold; below: when value < threshold
    window_seconds: float = 3600.0  # what is measured: the last this many seconds
    min_volume: int = 20  # Normal: fewer records than this in the window never alert
    max_wait_seconds: float = 600.0  # Punctual: grace of a slot / longest allowed wait
    max_runs: int = 0  # Punctual early_or_frequent_runs: most runs allowed in the window (0: no limit)
    interval_seconds: float = 60.0  # how often it runs, unless ``cron`` is given
    cron: str = ""  # e.g. "*/5 * * * *" (UTC)
    for_seconds: float = 0.0  # breached this long (pending) before the alert fires
    keep_firing_for_seconds: float = 0.0  # back to normal this long before the alert resolves
    recipients: tuple[str, ...] = ("log:",)  # log: | webhook:URL | email:ADDRESS | file:PATH
    enabled: bool = True  # false: not run (a built-in probe is switched off this way)
    timeout_seconds: float = 5.0  # a measurement still running then is interrupted: outcome "probe failed"

    def __post_init__(self) -> None:
        for name in ("warning", "severe"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, float):
                if isinstance(value, bool):
                    raise ValueError(f"{name} must be a number, got a boolean")
                object.__setattr__(self, name, float(value))
        check_kind(self.type, self.kind)
        if self.type == "SQL" and not self.query.strip():
            raise ValueError("an SQL probe needs query = \"SELECT …\"")
        if self.warning is None and self.severe is None:
            raise ValueError("give a threshold: warning and/or severe")
        if self.compare not in ("above", "below"):
            raise ValueError(f"compare must be above or below, got {self.compare!r}")
        if self.interval_seconds <= 0 and not self.cron:
            raise ValueError("interval_seconds must be positive (or give cron)")
        if min(self.window_seconds, self.for_seconds, self.keep_firing_for_seconds, self.max_wait_seconds) < 0:
            raise ValueError("window, for, keep_firing_for and max_wait seconds cannot be negative")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        for recipient in self.recipients:
            check_recipient(recipient)


def builtin_probes() -> dict[str, ProbeConfig]:
    """The Provisioning probes every engine has out of the box (DOMAIN.md §5, issue 6).

    A ``[probes.<name>]`` table with one of these names overrides only the keys it gives
    (``enabled = false`` switches one off); other names add probes.
    """
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


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"  # the SMTP server of email: recipients
    port: int = 25  # 587 with starttls = true, typically
    sender: str = "cmp-provisioning@localhost"  # the From address
    starttls: bool = False  # upgrade with STARTTLS, the certificate verified, before any login (a login needs it)
    user: str = ""  # empty: no login
    password: Secret = Secret("")  # the login's password; kept out of logs
    timeout_seconds: float = 10.0  # connect and each SMTP command
    ca_file: str = ""  # PEM file of a private CA to trust instead of the system's (relative: to the home)


@dataclass(frozen=True)
class NotifyConfig:
    webhook_timeout_seconds: float = 5.0  # a slower webhook is recorded as a failed delivery
    file_dir: str = "alerts"  # relative file: recipients are written here (relative to home)
    smtp: SmtpConfig = SmtpConfig()


__all__ = ["NotifyConfig", "ProbeConfig", "SmtpConfig", "builtin_probes"]
