"""netsim: a network simulator standing in for the OCS (TMF Open API style) and Openet
(bill cycle) charging systems.

It is a separate program: the engine talks HTTP to it and never imports it, and it never
imports the engine. Run it with ``python -m netsim --port 0 --token T`` (see ``netsim/API.md``)
or from tests with :func:`netsim.testing.start_netsim`.
"""

__all__ = ["__version__"]

__version__ = "1.0"
