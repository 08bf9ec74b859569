"""Typed clients of the engine's actors: nobody else writes ``.remote()`` or ``ray.get()``.

:class:`ActorClient` is one generic proxy over an actor handle: ``client.method(*args)`` calls
the actor's method and waits for its answer, at most the client's timeout. Errors are
translated here, once: an :class:`~engine.errors.EngineError` raised in the actor arrives as
itself; a dead or restarting actor, or one that does not answer in time, as a transient
:class:`~engine.errors.StoreBusy` naming the actor and the method.

:class:`StoreClient` is that proxy over the Store actor, typed for the checker as the Store
(plus the actor's ``pid``/``metrics``): mypy checks every call's name and arguments
against the Store's own signatures, and the client structurally is the engine's protocols
(``LoadSink``, ``TransmissionQueue``, ``ExtractStore``, …). :func:`typed` gives the same for any
other actor (daemons, the coordinator, the Supervisor).

Per call: ``with_timeout(client, seconds)`` is the same client with another timeout (``None``:
wait as long as it takes); ``nowait(client.method)(*args)`` starts the call and returns a
:class:`Pending` at once (``done()``, ``result()``), with the same error translation.

**Adding a Store method** is one edit plus its test: write it, typed and with a docstring, in
the service of its subsystem under ``engine/store/services/`` (its test calls the Store
in-process). The Store actor inherits it, this client reaches it, and the type checker knows
its signature. Only a method that must record a Ray metric is also overridden in
``actors/store.py``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable, Generic, Mapping, ParamSpec, Protocol, TypeVar, cast

import ray
from ray.actor import ActorHandle
from ray.exceptions import (
    ActorDiedError, ActorUnavailableError, GetTimeoutError, RayActorError, RayError, RayTaskError,
)  # fmt: skip

from actors import names
from engine.errors import EngineError, EngineNotRunning, StoreBusy

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: Longest wait for a Store call unless a client or call says otherwise: far above any single
#: call's work (a load's commit of 1 GB takes seconds), so it only ends a wait on a Store that
#: is wedged. Calls that run as long as their input (a job run, a load) say so themselves.
STORE_CALL_SECONDS = 300.0


def _wait(ref: Any, timeout: float | None, actor: str, method: str) -> Any:
    """``ray.get`` with the engine's errors: the one place Ray's errors are translated."""
    try:
        return ray.get(ref, timeout=timeout)
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, EngineError):
            raise cause from None
        raise
    except GetTimeoutError:
        raise StoreBusy(f"the {actor} actor did not answer {method} within {timeout:g} s",
                        hint="it may still be working on it; retry, and see `cmpctl status` if it persists") from None
    except RayActorError as exc:  # died (restarting, or gone for good) or unreachable
        raise StoreBusy(f"the {actor} actor is restarting or gone ({type(exc).__name__} in {method})",
                        hint="retry shortly") from None


class Pending(Generic[R]):
    """A call started without waiting (``nowait``): ask whether it is done, then for its result."""

    def __init__(self, ref: Any, actor: str, method: str) -> None:
        self._ref, self._actor, self._method = ref, actor, method

    def done(self, timeout: float = 0.0) -> bool:
        """Has the call finished (waiting at most ``timeout`` seconds for it)?"""
        ready, _ = ray.wait([self._ref], timeout=timeout)
        return bool(ready)

    def result(self, timeout: float | None = None) -> R:
        """The call's answer (or its error, translated), waiting at most ``timeout`` seconds
        (default: as long as it takes; a call is started without waiting because it may be long)."""
        return cast(R, _wait(self._ref, timeout, self._actor, self._method))


class _Method:
    """One actor method of a client: call it to wait for the answer, ``start`` it not to."""

    def __init__(self, client: ActorClient, name: str, remote: Any) -> None:
        self._client, self.__name__, self._remote = client, name, remote

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _wait(self._remote.remote(*args, **kwargs), self._client.timeout, self._client.actor, self.__name__)

    def start(self, *args: Any, **kwargs: Any) -> Pending[Any]:
        return Pending(self._remote.remote(*args, **kwargs), self._client.actor, self.__name__)


class ActorClient:
    """The generic proxy: ``client.method(*args, **kwargs)`` runs ``method`` in the actor (untyped;
    :func:`typed`, :func:`daemon_client` and :class:`StoreClient` give it its actor's type)."""

    def __init__(self, handle: ActorHandle, *, timeout: float | None = STORE_CALL_SECONDS,
                 actor: str = "engine") -> None:
        self.handle = handle
        self.timeout = timeout
        self.actor = actor  # how errors name it

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # never a remote method (and pickling probes these)
            raise AttributeError(name)
        return _Method(self, name, getattr(self.handle, name))  # AttributeError here: no such method

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.actor}, timeout={self.timeout})"


def typed(handle: ActorHandle, api: type[T], *, timeout: float | None = STORE_CALL_SECONDS,
          actor: str | None = None) -> T:
    """A client of the actor behind ``handle``, typed as its class ``api`` for the checker."""
    # (a class decorated with ray.remote is an ActorClass: its name is in its repr, "ActorClass(X)")
    name = actor or getattr(api, "__name__", None) or repr(api).removeprefix("ActorClass(").removesuffix(")")
    return cast(T, ActorClient(handle, timeout=timeout, actor=name))


class DaemonControl(Protocol):
    """What every background actor answers (the Load, Transmission and Extract daemons, the
    Scheduler and the Probes actor): its state, and a stop that finishes the work in hand."""

    def state(self) -> dict[str, Any]: ...

    def stop(self) -> str: ...


def daemon_client(handle: ActorHandle, *, timeout: float | None, actor: str) -> DaemonControl:
    """A client of a background actor, typed as what they all answer."""
    return cast(DaemonControl, ActorClient(handle, timeout=timeout, actor=actor))


def with_timeout(client: T, timeout: float | None) -> T:
    """The same client, waiting at most ``timeout`` seconds per call (``None``: no limit)."""
    if not isinstance(client, ActorClient):
        raise TypeError(f"{client!r} is not an actor client")
    twin = copy.copy(client)
    twin.timeout = timeout
    return cast(T, twin)


def nowait(method: Callable[P, R]) -> Callable[P, Pending[R]]:
    """``nowait(client.method)(*args)``: start the call and return its :class:`Pending` at once."""
    if not isinstance(method, _Method):
        raise TypeError(f"{method!r} is not a method of an actor client")
    return cast(Callable[P, Pending[R]], method.start)


def actor(name: str, namespace: str = "cmp") -> ActorHandle:
    """The handle of the named engine actor; EngineNotRunning when there is none."""
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        raise EngineNotRunning(f"no {name} actor is running", hint="start the engine with `cmpctl up`") from None


def ping(handles: Mapping[str, ActorHandle], timeout: float) -> dict[str, tuple[str, str | None]]:
    """Ping every actor at once (Ray's ``__ray_ready__``), waiting at most ``timeout`` seconds in
    all: ``{role: (RUNNING | UNRESPONSIVE | RESTARTING | FAILED, what went wrong)}``."""
    refs: dict[str, Any] = {role: h.__ray_ready__.remote() for role, h in handles.items()}
    ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
    return {role: _ping_result(ref) for role, ref in refs.items()}


def _ping_result(ref: Any) -> tuple[str, str | None]:
    try:
        ray.get(ref, timeout=0)
        return "RUNNING", None
    except GetTimeoutError:
        return "UNRESPONSIVE", "did not answer a ping"
    except ActorUnavailableError as exc:
        return "RESTARTING", f"unavailable: {_first_line(exc)}"
    except ActorDiedError as exc:
        return "FAILED", f"died: {_first_line(exc)}"
    except RayError as exc:
        return "FAILED", _first_line(exc)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


class _StoreClient(ActorClient):
    """The Store actor's client (every call waits at most ``timeout``, default STORE_CALL_SECONDS)."""

    def __init__(self, handle: ActorHandle, *, timeout: float | None = STORE_CALL_SECONDS) -> None:
        super().__init__(handle, timeout=timeout, actor=names.STORE)

    @classmethod
    def lookup(cls, namespace: str = "cmp", *, timeout: float | None = STORE_CALL_SECONDS) -> StoreClient:
        """The running engine's Store (EngineNotRunning when there is none)."""
        # Ray rebuilds the handle's class by unpickling it, which imports the Store's module tree;
        # if that import fails there, Ray quietly puts in a stand-in whose methods refuse every
        # positional argument ("too many positional arguments"). Imported here first, an import
        # error is raised as itself (see actors/submit.py RUNTIME_ENV_CONFIG for the one seen).
        import actors.store  # noqa: F401

        return cast(StoreClient, cls(actor(names.STORE, namespace), timeout=timeout))


if TYPE_CHECKING:
    from actors.store import ProcessInfo
    from engine.store.store import Store

    class StoreClient(Store, ProcessInfo):
        """For the type checker: the Store's own methods and signatures (the actor's overrides
        only count metrics), and the actor's pid and metrics."""

        handle: ActorHandle

        def __init__(self, handle: ActorHandle, *, timeout: float | None = STORE_CALL_SECONDS) -> None: ...

        @classmethod
        def lookup(cls, namespace: str = "cmp", *, timeout: float | None = STORE_CALL_SECONDS) -> StoreClient: ...
else:
    StoreClient = _StoreClient


__all__ = ["STORE_CALL_SECONDS", "ActorClient", "DaemonControl", "Pending", "StoreClient", "actor", "daemon_client",
           "nowait", "ping", "typed", "with_timeout"]
