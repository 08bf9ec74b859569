"""Exit codes (CLI.md) and the one boundary where an error becomes one line on stderr.

Every command runs inside ``ErrorBoundary.invoke``: an ``EngineError`` exits with its own
``exit_code`` (the engine's errors are the source of the codes), anything else with
FOUND_ERRORS and its type named, so that an operator's script sees the contract and never a
traceback, unless ``--debug`` (or ``CMP_DEBUG=1``) asks for one.
"""

from __future__ import annotations

import errno
import traceback
from enum import IntEnum
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from cli.render import err
from engine.errors import EngineError


class ExitCode(IntEnum):
    """cmpctl's exit codes (CLI.md)."""

    OK = 0
    FOUND_ERRORS = 1  # the work ran and found errors (bad records, a failed job, a probe not a success)
    USAGE = 2
    NOT_RUNNING = 3  # engine not running / cannot connect
    REJECTED = 4  # input rejected (bad file, bad key, duplicate)
    INTERRUPTED = 130  # Ctrl-C, as a shell reports a process ended by SIGINT (128 + 2)


def exit_with(code: ExitCode) -> NoReturn:
    raise typer.Exit(int(code))


class _Invocation:
    """What the root options say about this run of cmpctl (set by the root callback, which runs
    before any command; one invocation per process, or per CliRunner call in tests)."""

    debug = False


def set_debug(on: bool) -> None:
    _Invocation.debug = on


def debugging() -> bool:
    """Did this invocation ask for ``--debug`` (or ``CMP_DEBUG=1``)?"""
    return _Invocation.debug


# typer's own exits and usage errors pass through to typer, which prints them (exit 0 or 2).
# Their base class is click's ClickException. Typer carries its own copy of click since 0.26 (in
# a private module), so the class is found through typer's public BadParameter.
_CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_FRAMEWORK: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, _CLICK_EXCEPTION)


class ErrorBoundary(TyperGroup):
    """The root command group: runs the command and turns whatever escapes it into CLI.md's
    answer: one line on stderr and the exit code (with ``--debug``, the traceback first)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _FRAMEWORK:
            raise
        except KeyboardInterrupt:
            err.print("cmpctl: interrupted")
            exit_with(ExitCode.INTERRUPTED)
        except EngineError as exc:
            _fail(exc, str(exc), exc.exit_code)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # stdout closed by the reader (`| head`): typer exits quietly
            _fail(exc, _unexpected(exc), ExitCode.FOUND_ERRORS)
        except Exception as exc:
            _fail(exc, _unexpected(exc), ExitCode.FOUND_ERRORS)


def _fail(exc: BaseException, message: str, code: int) -> NoReturn:
    if debugging():
        traceback.print_exception(exc)
    err.print(f"cmpctl: {_one_line(message)}", markup=False)
    raise typer.Exit(int(code))


def _unexpected(exc: BaseException) -> str:
    """Not an error the engine raises on purpose (a bug, or a library's error): name its type.
    An error in a Ray actor arrives wrapped, with the original as ``cause``."""
    cause = exc
    while isinstance(getattr(cause, "cause", None), BaseException):
        cause = cause.cause  # type: ignore[attr-defined]
    where = " in the engine" if cause is not exc else ""
    first = next((line.strip() for line in str(cause).splitlines() if line.strip()), "")
    text = first if len(first) <= 300 else first[:300] + "…"
    return f"{type(cause).__name__}{where}: {text} (run with --debug for the traceback)"


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "(no message)"
