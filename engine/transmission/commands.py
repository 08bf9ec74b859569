"""Network commands: how each (target, command) becomes an HTTP call, and how answers read.

A :class:`CommandRegistry` maps (target, command) to a :class:`CommandSpec`: a *builder*
``(command, attributes, request row) -> HttpCall`` and where the answer carries the network's
reference (``bucket.id``, ``spendCap.id``, …). Bodies are built once, deterministically
(sorted keys, compact separators), so a retry resends identical bytes under the same
Idempotency-Key, as netsim/API.md requires, and a rebuild after a crash gives the same bytes.

A builder that cannot build (attribute missing or invalid, unknown command) raises
:class:`~engine.errors.CommandBuildError`: the request ends PE with that reason.

Each target's commands live in their own module (:mod:`~engine.transmission.ocs`,
:mod:`~engine.transmission.openet`); :mod:`~engine.transmission.builtins` makes the registry an
adaptor uses from their explicit lists. The attribute checks below are what builders share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from engine.errors import CommandBuildError
from engine.registry import Registry
from engine.transmission.model import HttpCall, RequestRow

Builder = Callable[[str, dict[str, Any], RequestRow], HttpCall]


@dataclass(frozen=True)
class CommandSpec:
    target: str
    command: str
    build: Builder
    #: path of the network's reference in a 2xx answer, e.g. ("bucket", "id")
    ref_path: tuple[str, ...] = ("id",)
    #: a 202 means the network executed the command and only reports on it later (by file):
    #: NC, not NA (Openet's bill cycle change, engine/transmission/openet.py)
    accepted_completes: bool = False


def _unknown_command(key: tuple[str, str], known: list[tuple[str, str]]) -> CommandBuildError:
    target, command = key
    names = ", ".join(c for t, c in known if t == target) or "none"
    return CommandBuildError(f"unknown command {command!r} for target {target!r} (known: {names})",
                             hint="fix the request or close it")


class CommandRegistry(Registry[tuple[str, str], CommandSpec]):
    """Command specs by (target, command); an unknown one is a CommandBuildError (→ PE)."""

    def __init__(self, specs: Iterable[CommandSpec] = ()) -> None:
        super().__init__("command", lambda spec: (spec.target, spec.command), specs, missing=_unknown_command)

    def commands(self, target: str) -> list[str]:
        return [c for t, c in self.names() if t == target]

    def spec(self, target: str, command: str) -> CommandSpec:
        return self.get((target, command))

    def build(self, target: str, row: RequestRow) -> HttpCall:
        """The HTTP call of ``row``; CommandBuildError (→ PE) when it cannot be built."""
        spec = self.spec(target, row.command)
        try:
            return spec.build(row.command, row.attributes, row)
        except CommandBuildError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a builder's own slip
            raise CommandBuildError(f"{row.command}: cannot build the command: {exc!r}",
                                    record=str(row.request_id)) from None

    def accepted_completes(self, target: str, command: str) -> bool:
        return (target, command) in self and self.spec(target, command).accepted_completes

    def external_ref(self, target: str, command: str, answer: Any) -> str | None:
        node = answer
        for part in self.spec(target, command).ref_path:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node if isinstance(node, str) else None


def encode(body: Any) -> bytes:
    """The one serialisation of request bodies: stable bytes for the same content."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


# -- attribute checks (what netsim would refuse with a 400 is caught here as PE, with the field) --


def attribute_error(row: RequestRow, field: str, problem: str) -> CommandBuildError:
    return CommandBuildError(f"{row.command} request {row.request_id}: attribute {field!r} {problem}",
                             record=str(row.request_id), field=field,
                             hint="fix the request's attributes, then resubmit it; or close it")


def require_text(attrs: dict[str, Any], row: RequestRow, name: str, *, max_len: int = 128) -> str:
    value = attrs.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith("Id"):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        problem = "is missing" if value is None else f"must be a non-empty string, got {value!r}"
        raise attribute_error(row, name, problem)
    if len(value) > max_len:
        raise attribute_error(row, name, f"is longer than {max_len} characters")
    return value


def require_amount(attrs: dict[str, Any], row: RequestRow, name: str, *, unlimited_ok: bool) -> int | float | str:
    value = attrs.get(name)
    if unlimited_ok and value == "UNLIMITED":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        allowed = 'a number > 0 or "UNLIMITED"' if unlimited_ok else "a number > 0"
        raise attribute_error(row, name, f"must be {allowed}, got {value!r}")
    return value


def require_choice(attrs: dict[str, Any], row: RequestRow, name: str, choices: tuple[str, ...]) -> str:
    value = attrs.get(name)
    if value not in choices:
        raise attribute_error(row, name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def path_id(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


__all__ = ["Builder", "CommandRegistry", "CommandSpec", "attribute_error", "encode", "path_id", "require_amount",
           "require_choice", "require_text"]
