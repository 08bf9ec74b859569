"""What a finished ADD_INSURANCE request changes: its insurance service, like a capability.

Insurance goes to the insurer by file (target ``FILE:insurance``), so its requests finish
through :mod:`jobs.response_handling` rather than an adaptor; both apply the same effects
through :mod:`engine.transmission.effects` (this module only registers the command there).
The Store imports it, so an operator's close/resubmit of an insurance request has the same
effects in the Store process.
"""

from __future__ import annotations

from engine.transmission.effects import CommandEffect, register_effect

COMMAND = "ADD_INSURANCE"


def _service(status: str, when: str) -> str:
    ref = ", external_ref = coalesce(d.external_ref, t.external_ref)" if status == "ACTIVE" else ""
    return f"""
    UPDATE services t SET status = '{status}', updated_at = $now{ref} FROM _tx_done d
    WHERE {{keyed}} AND d.command = '{COMMAND}' AND {when} AND t.service_id = d.effect_key
    """


register_effect(COMMAND, CommandEffect(
    "services", "service_id", "serviceId",
    on_complete=_service("ACTIVE", "d.status = 'NC'"),
    on_failure=_service("FAILED", "d.status IN ('NR', 'NF', 'PE')"),
    on_resubmit=_service("PENDING", "true"),
))  # fmt: skip

__all__ = ["COMMAND"]
