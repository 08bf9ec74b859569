"""One small registry for every kind of named entry the engine looks up (jobs, network commands,
command effects).

A registry is filled from an explicit list of built-ins where the engine is wired together
(``jobs.registry.default_registry``, ``engine.transmission.builtins``), never by a module
registering itself when imported: what a registry holds is then the same in every process,
whatever that process happened to import. Registering a name twice raises; looking up an
unknown one raises an error that names the known entries.
"""

from __future__ import annotations

from typing import Callable, Generic, Hashable, Iterable, Iterator, TypeVar

from engine.errors import DuplicateRegistration, EngineError, UsageError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: builds the error of a lookup that found nothing: (the key asked for, the known keys)
Missing = Callable[[K, list[K]], EngineError]


def _label(key: object) -> str:
    return "/".join(key) if isinstance(key, tuple) else str(key)


class Registry(Generic[K, V]):
    """Entries of one ``kind`` (``"job"``, ``"command"``…), each under the key ``key(entry)``."""

    def __init__(self, kind: str, key: Callable[[V], K], entries: Iterable[V] = (), *,
                 missing: Missing[K] | None = None) -> None:
        self.kind = kind
        self._key = key
        self._missing = missing
        self._entries: dict[K, V] = {}
        for entry in entries:
            self.register(entry)

    def register(self, entry: V) -> V:
        """Add ``entry``; DuplicateRegistration if its key is taken (the first one stays)."""
        key = self._key(entry)
        if key in self._entries:
            raise DuplicateRegistration(f"{self.kind} {_label(key)!r} is already registered",
                                        hint=f"each {self.kind} is registered once; rename one of the two")
        self._entries[key] = entry
        return entry

    def get(self, key: K) -> V:
        """The entry under ``key``, or the registry's error naming what is known."""
        try:
            return self._entries[key]
        except KeyError:
            pass
        known = self.names()
        if self._missing is not None:
            raise self._missing(key, known)
        raise UsageError(f"unknown {self.kind} {_label(key)!r}",
                         hint=f"known: {', '.join(_label(k) for k in known) or 'none'}")

    def names(self) -> list[K]:
        """The keys, in sorted order."""
        return sorted(self._entries, key=_label)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[V]:
        """The entries in the order of their keys."""
        return iter([self._entries[k] for k in self.names()])

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(_label(k) for k in self.names())})"


__all__ = ["Missing", "Registry"]
