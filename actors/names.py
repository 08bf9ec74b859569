"""Actor names as the dashboard shows them: the daemon's Type/Category/Activity (DOMAIN.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DaemonSpec:
    config_name: str  # key under [daemons] in cmp.toml
    daemon_type: str  # Load | Transmission | Extract
    category: str
    activity: str

    @property
    def actor_name(self) -> str:
        return f"{self.daemon_type}/{self.category}/{self.activity.replace(' ', '')}"

    @property
    def identity(self) -> dict[str, str]:
        """How the daemon is named in its ``daemons`` row (the heartbeat's identifying columns)."""
        return {"name": self.actor_name, "daemon_type": self.daemon_type, "category": self.category,
                "activity": self.activity}


DAEMONS: tuple[DaemonSpec, ...] = (
    DaemonSpec("load_provisioning", "Load", "Provisioning", "From Generic Format"),
    DaemonSpec("load_bill_cycle", "Load", "Provisioning", "From Generic Format (Bill Cycle Change)"),
    DaemonSpec("ocs_adaptor", "Transmission", "Provisioning", "OCS adaptor"),
    DaemonSpec("openet_adaptor", "Transmission", "Provisioning", "Openet Bill Cycle adaptor"),
    DaemonSpec("extract_provisioning", "Extract", "Provisioning", "To Generic Format"),
    DaemonSpec("extract_bill_cycle", "Extract", "Provisioning", "To Generic Format (Bill Cycle Change)"),
)

_BY_CONFIG = {d.config_name: d for d in DAEMONS}
if len(_BY_CONFIG) != len(DAEMONS):
    raise RuntimeError("duplicate daemon name in actors.names.DAEMONS")

STORE = "Store"
COORDINATOR = "Load/Coordinator"
SCHEDULER = "Scheduler"
PROBES = "Probes"


def daemon(config_name: str) -> DaemonSpec:
    return _BY_CONFIG[config_name]
