"""Transmission: the network request queue and the adaptors that execute it over HTTP.

Plain Python (no Ray): :mod:`~engine.transmission.queue` runs in the Store process;
:class:`~engine.transmission.adaptor.Adaptor` runs wherever its daemon runs and reaches the
queue through :class:`~engine.transmission.model.TransmissionQueue`.
"""

from engine.transmission.model import Chain, HttpCall, Outcome, RequestRow, TransmissionQueue

__all__ = ["Chain", "HttpCall", "Outcome", "RequestRow", "TransmissionQueue"]
