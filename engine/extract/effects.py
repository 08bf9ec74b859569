"""What a finished ADD_INSURANCE request changes: its insurance service, like a capability.

Insurance goes to the insurer by file (target ``FILE:insurance``), so its requests finish
through :mod:`jobs.response_handling` rather than an adaptor; both apply the same effects
through :mod:`engine.transmission.effects`. :mod:`engine.transmission.builtins` lists this
effect with the other built-ins, so an operator's close/resubmit of an insurance request has
the same effects in the Store process as a partner's answer.
"""

from __future__ import annotations

from engine.transmission.effects import CommandEffect, service_effect

COMMAND = "ADD_INSURANCE"

INSURANCE_EFFECT: CommandEffect = service_effect(COMMAND)

__all__ = ["COMMAND", "INSURANCE_EFFECT"]
