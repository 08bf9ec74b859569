"""One poll of a Load daemon: take ready files, load each, archive or quarantine it.

Plain Python; the Load daemon actor calls :meth:`LoadDaemon.poll_once` on a timer.
A file is moved only after the Store has answered for it: committed → archive/, rejected →
quarantine/ with its reason. A transient failure (Store restarting, a worker lost) leaves the
file where it is, and the next poll loads it again from scratch — nothing was committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from engine.errors import DuplicateFile, EngineError, InputRejected
from engine.loading.inbox import Inbox, sha256_file
from engine.store.loads import LoadResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # loaded | rejected | retry
    batch_id: int | None = None
    reason: str | None = None
    records: int = 0
    errors: int = 0


class LoadDaemon:
    def __init__(
        self,
        name: str,
        inbox: Inbox,
        *,
        load: Callable[[Path], LoadResult],
        reject: Callable[..., None],
        committed_file: Callable[[str], tuple[int, str] | None],
    ):
        self.name = name
        self.inbox = inbox
        self._load = load
        self._reject = reject
        self._committed_file = committed_file
        self.last_error: str | None = None

    def poll_once(self) -> list[Outcome]:
        ready, refused = self.inbox.poll()
        outcomes = [self._refuse(r.path, r.reason, "InputRejected", sha=None) for r in refused]
        for cand in ready:
            outcomes.append(self._load_one(cand.path))
        return outcomes

    def _load_one(self, path: Path) -> Outcome:
        try:
            result = self._load(path)
        except DuplicateFile as exc:
            sha = sha256_file(path)
            committed = self._committed_file(sha)
            if committed is not None and self._is_own_leftover(path, *committed):
                # We committed it but died before moving it: finish the move, load nothing.
                self.inbox.archive_file(path, committed[0])
                return Outcome(path.name, "loaded", committed[0], "already committed before a restart")
            return self._refuse(path, str(exc), type(exc).__name__, sha=sha)
        except InputRejected as exc:
            return self._refuse(path, str(exc), type(exc).__name__, sha=sha256_file(path))
        except EngineError as exc:
            self.last_error = f"{path.name}: {exc}"
            log.warning("%s: will retry %s: %s", self.name, path.name, exc)
            return Outcome(path.name, "retry", reason=str(exc))
        except Exception as exc:  # a lost worker or Store: retry the whole file next poll
            self.last_error = f"{path.name}: {type(exc).__name__}: {exc}"
            log.warning("%s: will retry %s: %s", self.name, path.name, exc, exc_info=True)
            return Outcome(path.name, "retry", reason=self.last_error)
        self.inbox.archive_file(path, result.batch_id)
        self.last_error = None
        return Outcome(path.name, "loaded", result.batch_id, records=result.records, errors=result.errors)

    def _is_own_leftover(self, path: Path, batch_id: int, committed_name: str) -> bool:
        """The very file this daemon committed (same bytes, same name) that was never archived."""
        archived = self.inbox.archive / f"b{batch_id}-{path.name}"
        return committed_name == path.name and not archived.exists()

    def _refuse(self, path: Path, reason: str, error_class: str, *, sha: str | None) -> Outcome:
        self._reject(daemon=self.name, name=path.name, reason=reason, error_class=error_class, sha256=sha)
        self.inbox.quarantine_file(path, reason)  # a symlink moves as a link, never followed
        return Outcome(path.name, "rejected", reason=reason)
