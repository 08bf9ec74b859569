"""netsim: a network simulator standing in for the OCS (TMF Open API style) and Openet
(bill cycle) charging systems.

It is a separate program: the engine talks HTTP to it and never imports it, and it never
imports the engine. Run it with ``NETSIM_TOKEN=T python -m netsim --port 0`` or
``--token-file FILE`` (see ``netsim/API.md``), or from tests with :func:`netsim.testing.start_netsim`.
"""

__all__ = ["TOKEN_ENV", "__version__"]

__version__ = "1.0"

#: where netsim reads its bearer token when no --token-file is given (never argv: `ps` shows it)
TOKEN_ENV = "NETSIM_TOKEN"
