"""One error hierarchy for the whole engine.

Every error is either *transient* (retrying may succeed: a timeout, a 5xx, a busy store) or
*terminal* (retrying the same thing fails the same way: a bad file, a wrong key, a business
reject). Messages say what was wrong, where (file, line, record, field) and what to do.

Every exception pickles with its context intact, because Ray ships exceptions between
processes (the ``__reduce__`` below keeps keyword-only context that ``Exception`` would drop).
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""

    transient: bool = False
    #: cmpctl exit code (CLI.md): 1 work found errors, 2 usage, 3 not running, 4 input rejected.
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        record: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.record = record
        self.field = field
        self.hint = hint

    def context(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("file", self.file),
                ("line", self.line),
                ("record", self.record),
                ("field", self.field),
                ("hint", self.hint),
            )
            if v is not None
        }

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.record:
            where.append(f"record {self.record}")
        if self.field:
            where.append(f"field {self.field}")
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        return f"{text} ({self.hint})" if self.hint else text

    def __reduce__(self):  # keep keyword context across pickling (Ray, multiprocessing)
        return (_rebuild, (self.__class__, self.message, self.context()))


def _rebuild(cls: type[EngineError], message: str, context: dict[str, Any]) -> EngineError:
    err = cls.__new__(cls)
    EngineError.__init__(err, message, **context)
    return err


class TransientError(EngineError):
    """Retrying later may succeed."""

    transient = True


class TerminalError(EngineError):
    """Retrying the same thing will fail the same way; a person or a fix must act."""


# --- usage and configuration -------------------------------------------------------------


class UsageError(TerminalError):
    exit_code = 2


class ConfigError(UsageError):
    """cmp.toml, a CMP_* variable or a flag is wrong."""


# --- engine availability -------------------------------------------------------------------


class EngineNotRunning(TransientError):
    """No engine answers at the configured address."""

    exit_code = 3


# --- input rejected (files, keys) ----------------------------------------------------------


class InputRejected(TerminalError):
    """A file, key or record was refused; nothing of it was loaded."""

    exit_code = 4


class KeyFormatError(InputRejected):
    """An age identity or recipient string is malformed."""


class AgeError(InputRejected):
    """The age envelope could not be opened; no unauthenticated plaintext was released."""


class AgeHeaderError(AgeError):
    """The age header is malformed (version line, stanza, encoding)."""


class AgeArmorError(AgeError):
    """The ASCII armor around the age file is malformed."""


class AgeNoIdentityMatch(AgeError):
    """None of the identities opens the file (wrong key)."""


class AgeHmacError(AgeError):
    """The header MAC does not verify: the header was altered."""


class AgePayloadError(AgeError):
    """The encrypted payload is damaged."""


class AgeTruncatedError(AgePayloadError):
    """The payload ends before its final chunk: the file was cut short."""


class AgeChunkAuthError(AgePayloadError):
    """A payload chunk fails authentication: altered, reordered, or a wrong final flag."""


class AgeTrailingDataError(AgePayloadError):
    """Data follows the final chunk."""


class FormatError(InputRejected):
    """The decrypted file breaks the generic-file contract as a whole (header, counts)."""


class DuplicateFile(InputRejected):
    """The same file (by content or by interfaceType+identifier) was loaded before."""


class TooManyErrors(InputRejected):
    """The file's share of invalid records is above the configured limit."""


# --- store and jobs ------------------------------------------------------------------------


class StoreError(TerminalError):
    """A database operation failed for a reason that retrying will not fix."""


class StoreBusy(TransientError):
    """The store could not take the work now (transaction conflict, restarting)."""


class DuplicateRegistration(TerminalError):
    """Two entries of one registry (jobs, network commands, command effects) share a name: the
    engine is wired wrongly (engine/registry.py)."""


class NotFound(TerminalError):
    """A batch, request, job execution or probe with that id does not exist."""

    exit_code = 1


class JobError(TerminalError):
    """A job failed; its execution row says why."""


# --- network --------------------------------------------------------------------------------


class NetworkTransientError(TransientError):
    """Timeout, connection reset, 5xx: the command may be retried with the same key.

    (A business refusal by the network is not an exception: it is an answer, recorded as the
    request's status NR with the network's code and reason; engine/transmission/answers.py.)"""


class CommandBuildError(TerminalError):
    """The platform could not build the network command (status PE)."""


class CertificateNotTrusted(TerminalError):
    """A TLS server's certificate did not verify (unknown CA, self-signed, another host's name):
    nothing was sent to it. Trust a private CA explicitly, or find out who answered."""
