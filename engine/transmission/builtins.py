"""The built-in network commands and command effects, listed in one place.

Every registry of commands (an adaptor's) or of effects (the Store's request log, the response
handling job) is made here from these explicit lists, where it is used: what a registry holds
never depends on which modules a process happened to import. A new target adds its module
(like :mod:`~engine.transmission.ocs` and :mod:`~engine.transmission.openet`) and one line to
each list below.
"""

from __future__ import annotations

from engine.extract.effects import INSURANCE_EFFECT
from engine.transmission.commands import CommandRegistry, CommandSpec
from engine.transmission.effects import CommandEffect, EffectRegistry
from engine.transmission.ocs import OCS_COMMANDS, OCS_EFFECTS
from engine.transmission.openet import OPENET_COMMANDS, OPENET_EFFECTS

BUILTIN_COMMANDS: tuple[CommandSpec, ...] = (*OCS_COMMANDS, *OPENET_COMMANDS)
BUILTIN_EFFECTS: tuple[CommandEffect, ...] = (*OCS_EFFECTS, *OPENET_EFFECTS, INSURANCE_EFFECT)


def builtin_commands() -> CommandRegistry:
    """Every built-in (target, command): what an adaptor can send."""
    return CommandRegistry(BUILTIN_COMMANDS)


def builtin_effects() -> EffectRegistry:
    """What every built-in command changes when it finishes."""
    return EffectRegistry(BUILTIN_EFFECTS)


__all__ = ["BUILTIN_COMMANDS", "BUILTIN_EFFECTS", "builtin_commands", "builtin_effects"]
