"""Typed facades over the engine's actors, so callers never write ``.remote()``/``ray.get()``.

``call`` turns Ray's wrapping back into the engine's own errors: an EngineError raised in an
actor arrives as itself, and a dead or restarting actor as a transient StoreBusy.
"""

from __future__ import annotations

from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

from actors import names
from engine.errors import EngineError, EngineNotRunning, StoreBusy


def call(ref, timeout: float | None = None) -> Any:
    try:
        return ray.get(ref, timeout=timeout)
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, EngineError):
            raise cause from None
        raise
    except (ActorDiedError, ActorUnavailableError) as exc:
        raise StoreBusy(f"an engine actor is restarting: {type(exc).__name__}", hint="retry shortly") from None


def is_ready(ref, timeout: float) -> bool:
    """Has the call behind ``ref`` finished (waiting at most ``timeout`` seconds)?"""
    ready, _ = ray.wait([ref], timeout=timeout)
    return bool(ready)


def actor(name: str, namespace: str = "cmp"):
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        raise EngineNotRunning(f"no {name} actor is running", hint="start the engine with `cmpctl up`") from None


class StoreClient:
    """The Store actor's facade (every method blocks until the Store answers)."""

    def __init__(self, handle):
        self.handle = handle

    @classmethod
    def lookup(cls, namespace: str = "cmp") -> "StoreClient":
        # Ray rebuilds the handle's class by unpickling it, which imports the Store's module tree;
        # if that import fails there, Ray quietly puts in a stand-in whose methods refuse every
        # positional argument ("too many positional arguments"). Imported here first, an import
        # error is raised as itself (see actors/submit.py RUNTIME_ENV_CONFIG for the one seen).
        import actors.store  # noqa: F401

        return cls(actor(names.STORE, namespace))

    def start(self, method: str, *args, **kwargs):
        """Start a Store call without waiting; returns the reference for ``call``/``is_ready``."""
        return getattr(self.handle, method).remote(*args, **kwargs)

    def __getattr__(self, method: str):
        remote = getattr(self.handle, method)

        def invoke(*args, **kwargs):
            return call(remote.remote(*args, **kwargs))

        invoke.__name__ = method
        return invoke
