"""The values the transmission machinery passes around, and the queue protocol.

Everything here is plain, picklable data: a :class:`Chain` travels from the Store process to an
adaptor, an :class:`Outcome` back. The adaptor reaches the queue only through
:class:`TransmissionQueue` (the Store's request methods), so the Ray actor can hand it the Store
actor's client and tests an in-process :class:`engine.transmission.local.LocalQueue`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

# Network request status codes (DOMAIN.md §2).
UN, PR, NS, NA, NC, NR, NE, NF, PE = "UN", "PR", "NS", "NA", "NC", "NR", "NE", "NF", "PE"
STATUSES = (UN, PR, NS, NA, NC, NR, NE, NF, PE)
#: statuses an adaptor may leave a claimed request in (UN: released, never sent or retried later)
OUTCOME_STATUSES = (NC, NA, NR, NF, PE, UN)
#: terminal until an operator acts
FAILED_STATUSES = (NR, NF, PE)
#: statuses in which a request is in a worker's hands (its lease counts)
CLAIMED_STATUSES = (PR, NS)
#: every status but NC: the request still blocks the ones after it in its subscription
OPEN_STATUSES = (UN, PR, NS, NA, NE, NR, NF, PE)

#: one history row of an outcome: (status, time, note)
Step = tuple[str, datetime, "str | None"]


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One claimed network request, as the adaptor needs it to build and send the command."""

    request_id: int
    command: str
    sequence: int
    attributes: dict[str, Any]
    attempts: int = 0
    account_id: str | None = None
    action_item_number: int | None = None
    #: the Idempotency-Key: the request id, with a generation suffix after an operator
    #: resubmitted a request the network had answered for good (see operator.resubmit)
    idempotency_key: str = ""
    #: the history seq of the claim (PR) row; the worker's outcome continues from it
    history_seq: int = 0
    #: W3C traceparent of the job span that created the request (the send's parent span)
    traceparent: str | None = None

    @property
    def key(self) -> str:
        return self.idempotency_key or str(self.request_id)


@dataclass(frozen=True, slots=True)
class Chain:
    """The due, unprocessed requests of one subscription from its head on, in sequence order."""

    subscription_id: str
    requests: tuple[RequestRow, ...]

    @property
    def request_ids(self) -> list[int]:
        return [r.request_id for r in self.requests]


@dataclass(slots=True)
class Outcome:
    """What happened to one claimed request; the queue applies a batch of them in one go."""

    request_id: int
    worker: str
    status: str  # NC | NA | NR | NF | PE | UN (released)
    steps: list[Step] = field(default_factory=list)
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    response: str | None = None  # JSON text of the network's final answer
    error_code: str | None = None
    error_text: str | None = None
    external_ref: str | None = None  # the OCS instance id (bucket, spend cap) or service id
    attempts: int = 0
    #: the request's last history seq as the worker knows it (RequestRow.history_seq); while
    #: the worker holds the lease nobody else writes history, so its steps follow on directly.
    #: None: the queue looks it up.
    history_seq: int | None = None


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One network call, built once: a retry resends exactly these bytes under the same key."""

    method: str
    path: str
    body: bytes


@runtime_checkable
class TransmissionQueue(Protocol):
    """The Store-side queue as an adaptor sees it (each call is one Store transaction): the
    Store's request methods (engine/store/services/requests.py), in-process or through the
    Store actor's client."""

    def claim_requests(self, *, target: str, worker: str, max_chains: int, lease_seconds: float,
                       now: datetime) -> list[Chain]: ...

    def record_outcomes(self, outcomes: list[Outcome], *, now: datetime) -> int: ...

    def renew_leases(self, worker: str, request_ids: list[int], lease_seconds: float, now: datetime) -> int: ...

    def release_requests(self, worker: str, request_ids: list[int], now: datetime) -> int: ...


__all__ = [
    "CLAIMED_STATUSES", "FAILED_STATUSES", "OPEN_STATUSES", "OUTCOME_STATUSES", "STATUSES",
    "Chain", "HttpCall", "Outcome", "RequestRow", "Step", "TransmissionQueue",
    "UN", "PR", "NS", "NA", "NC", "NR", "NE", "NF", "PE",
]  # fmt: skip
