"""Reading the network's answers: HTTP status + body → the request's next status.

The mapping follows netsim/API.md §1 ("An adaptor should map …"):

| answer | status | why |
|---|---|---|
| 2xx (202) | NC (NA) | done (accepted, completed later by a response file; NC for a command registered with ``accepted_completes``: executed, only reported later); the reference comes from the answer |
| 409 | NR | a business duplicate: the same thing was already done under *another* key. Our keys are the request ids and a retry reuses its key, so this means our bookkeeping lost a key (a second request for the same thing, or a resubmit under a new key of a command that had executed). Treating it as NC would hide that; a person decides (close it if the OCS state is right) |
| 422 `IDEMPOTENCY_KEY_REUSED` | PE | we sent other bytes under a used key: our bug, not the network's refusal |
| other 422 | NR | refused for a business reason (`UNKNOWN_SERVICE`, `ACCOUNT_MISMATCH`, `NETWORK_REJECT`, …) |
| 400, 401, 403, 404, 405, 413, 415 | PE | the platform built or addressed the command wrongly (bad body, token, URL) |
| 408, 425, 429, 5xx | NE | transient: retry with the same key and bytes |
| timeouts, resets, refused connections | NE | transient (raised by the sender) |
| anything else | PE | not an answer this API gives |

Refusals carry ``{"code", "reason"}``: they become the request's error code and text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.errors import NetworkTransientError
from engine.transmission.commands import CommandRegistry
from engine.transmission.model import NA, NC, NE, NR, PE

_TRANSIENT_HTTP = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str  # NC | NA | NR | PE | NE
    external_ref: str | None = None
    error_code: str | None = None
    error_text: str | None = None
    response: str | None = None  # the answer as JSON text (stored with the request)

    @property
    def transient(self) -> bool:
        return self.status == NE

    def note(self) -> str | None:
        if self.error_code is None and self.error_text is None:
            return self.external_ref and f"ref {self.external_ref}"
        return " ".join(x for x in (self.error_code, self.error_text and f"{self.error_text}") if x)


def _decode(body: bytes) -> tuple[Any, str | None]:
    """The parsed answer and its JSON text (a non-JSON body is kept as a JSON string)."""
    if not body:
        return None, None
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text), text
    except ValueError:
        return None, json.dumps({"nonJsonBody": text[:2000]})


def interpret(registry: CommandRegistry, target: str, command: str, status: int, body: bytes) -> Verdict:
    answer, text = _decode(body)
    if 200 <= status < 300:
        ref = registry.external_ref(target, command, answer)
        accepted = status == 202 and not registry.accepted_completes(target, command)
        return Verdict(NA if accepted else NC, external_ref=ref, response=text)
    code = reason = None
    if isinstance(answer, dict):
        code = answer.get("code") if isinstance(answer.get("code"), str) else None
        reason = answer.get("reason") if isinstance(answer.get("reason"), str) else None
    code = code or f"HTTP_{status}"
    reason = reason or (text[:500] if text else f"HTTP {status} without a body")
    if status >= 500 or status in _TRANSIENT_HTTP:
        return Verdict(NE, error_code=code, error_text=f"HTTP {status}: {reason}")
    if status == 409:
        return Verdict(NR, error_code=code, error_text=reason, response=text)
    if status == 422:
        return Verdict(PE if code == "IDEMPOTENCY_KEY_REUSED" else NR, error_code=code, error_text=reason,
                       response=text)
    return Verdict(PE, error_code=code, error_text=f"HTTP {status}: {reason}", response=text)


def transport_failure(exc: NetworkTransientError) -> Verdict:
    """A timeout, reset or refused connection: no answer, retry with the same key."""
    return Verdict(NE, error_code=getattr(exc, "code", "NETWORK_ERROR"), error_text=str(exc))


__all__ = ["Verdict", "interpret", "transport_failure"]
