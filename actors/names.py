"""Actor names as the dashboard shows them: the daemon's Type/Category/Activity (DOMAIN.md).

The daemons themselves are declared once, in engine/daemons.py; this module names the other
actors of the engine.
"""

from __future__ import annotations

from engine.daemons import DAEMONS, Daemon, daemon

#: The daemon actors' constructor parameter: the daemon's row of engine/daemons.py.
DaemonSpec = Daemon

STORE = "Store"
COORDINATOR = "Load/Coordinator"
SCHEDULER = "Scheduler"
PROBES = "Probes"
SUPERVISOR = "Supervisor"

__all__ = ["COORDINATOR", "DAEMONS", "DaemonSpec", "PROBES", "SCHEDULER", "STORE", "SUPERVISOR", "daemon"]
