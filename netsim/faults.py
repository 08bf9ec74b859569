"""Fault injection: parse the ``--faults`` spec and draw seeded faults per request.

The spec is the CLI.md contract: comma-separated ``name=value`` pairs, e.g.
``error=0.1,timeout=0.02,reset=0.01,reject=0.01,latency_ms=5,seed=1``. Shares are
probabilities in [0, 1]. Every API request draws exactly ONE uniform number from a seeded
generator and maps it onto the cumulative shares, so with a fixed seed and a fixed request
order the same requests fail on every run, and over many requests each kind is observed at its
configured share.

Bill-cycle-response faults (``bcc_omit``, ``bcc_duplicate``, ``bcc_alter``) use a second,
independently seeded generator, drawn once per OCS instance written to a response file, so
turning them on does not shift which HTTP requests fail.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Literal

TransportFault = Literal["error", "timeout", "reset", "reject"]

# Order matters: it is the order of the cumulative bands a request's draw falls into.
REQUEST_KINDS: tuple[TransportFault, ...] = ("error", "timeout", "reset", "reject")
BCC_KINDS: tuple[str, ...] = ("bcc_omit", "bcc_duplicate", "bcc_alter")


@dataclass(frozen=True)
class FaultSpec:
    error: float = 0.0  # share answered 503 (nothing executed)
    timeout: float = 0.0  # share never answered: held --timeout-hold seconds, then closed
    reset: float = 0.0  # share whose connection is dropped (TCP RST) without an answer
    reject: float = 0.0  # share of fresh commands refused with 422 + reason (a business answer)
    latency_ms: float = 0.0  # delay added to every API request
    seed: int = 0
    # Of the timeouts and resets, the share where the command DID execute before the answer was
    # lost (the ack was lost, not the request). Both happen in real networks; the engine's retry
    # with the same Idempotency-Key must cope with either.
    ack_loss: float = 0.5
    bcc_omit: float = 0.0  # share of OCS instances left out of a response file
    bcc_duplicate: float = 0.0  # share listed twice
    bcc_alter: float = 0.0  # share whose amount or effective date is altered in the file

    @classmethod
    def parse(cls, spec: str | None) -> "FaultSpec":
        """Parse ``name=value,…``; raise ValueError with a clear message on anything wrong."""
        values: dict[str, float | int] = {}
        known = {f.name for f in fields(cls)}
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep:
                raise ValueError(f"fault {part!r}: expected name=value")
            if name not in known:
                raise ValueError(f"unknown fault {name!r} (known: {', '.join(sorted(known))})")
            try:
                value: float | int = int(raw) if name == "seed" else float(raw)
            except ValueError:
                raise ValueError(f"fault {name}: {raw!r} is not a number") from None
            if name != "seed" and value < 0:
                raise ValueError(f"fault {name}: must be >= 0")
            if name not in ("seed", "latency_ms") and value > 1:
                raise ValueError(f"fault {name}: a share must be between 0 and 1")
            values[name] = value
        out = cls(**values)  # type: ignore[arg-type]
        if sum(getattr(out, k) for k in REQUEST_KINDS) > 1.0 + 1e-9:
            raise ValueError("error + timeout + reset + reject must not exceed 1")
        if sum(getattr(out, k) for k in BCC_KINDS) > 1.0 + 1e-9:
            raise ValueError("bcc_omit + bcc_duplicate + bcc_alter must not exceed 1")
        return out

    def to_spec(self) -> str:
        """Canonical spec string (only non-default values), for GET /_sim/faults."""
        default = FaultSpec()
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                parts.append(f"{f.name}={value:g}" if isinstance(value, float) else f"{f.name}={value}")
        return ",".join(parts)

    def as_dict(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class FaultInjector:
    """Seeded fault decisions plus counts of what was injected (for /_sim/stats)."""

    def __init__(self, spec: FaultSpec | None = None) -> None:
        self.injected: dict[str, int] = {k: 0 for k in REQUEST_KINDS}
        # timeouts/resets where the command had executed before the answer was lost
        self.executed_before_failure: dict[str, int] = {"timeout": 0, "reset": 0}
        self.configure(spec or FaultSpec())

    def configure(self, spec: FaultSpec) -> None:
        """Install a new spec and reseed both generators, so a spec is reproducible."""
        self.spec = spec
        self._rng = random.Random(spec.seed)
        # A string seed is hashed with SHA-512 by `random`, so this is stable across runs.
        self.bcc_rng = random.Random(f"netsim-bcc-{spec.seed}")
        # Cumulative bands, precomputed: the draw happens on every request.
        bands: list[tuple[float, TransportFault]] = []
        total = 0.0
        for kind in REQUEST_KINDS:
            share = getattr(spec, kind)
            if share > 0:
                total += share
                bands.append((total, kind))
        self._bands = bands

    def reset_counts(self) -> None:
        self.injected = {k: 0 for k in REQUEST_KINDS}
        self.executed_before_failure = {"timeout": 0, "reset": 0}

    def draw(self) -> TransportFault | None:
        """One draw per API request: which fault (if any) this request gets."""
        if not self._bands:
            return None
        x = self._rng.random()
        for upper, kind in self._bands:
            if x < upper:
                return kind
        return None

    def executes_before_failure(self) -> bool:
        """For a timeout/reset: did the command reach the OCS before the answer was lost?"""
        return self._rng.random() < self.spec.ack_loss

    def draw_bcc(self) -> str | None:
        """One draw per OCS instance written to a response file."""
        s = self.spec
        if not (s.bcc_omit or s.bcc_duplicate or s.bcc_alter):
            return None
        x = self.bcc_rng.random()
        if x < s.bcc_omit:
            return "omit"
        if x < s.bcc_omit + s.bcc_duplicate:
            return "duplicate"
        if x < s.bcc_omit + s.bcc_duplicate + s.bcc_alter:
            return "alter"
        return None
