"""Every engine error pickles with its context (Ray ships them between processes)."""

import inspect
import pickle

import pytest

import engine.errors as errors

ALL = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.EngineError)
]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_pickles_with_context(cls):
    err = cls("it broke", file="f.jsonl.age", line=7, record="ORD-1", field="msisdn", hint="fix it")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert back.context() == err.context()
    assert str(back) == str(err) == "f.jsonl.age, line 7, record ORD-1, field msisdn: it broke (fix it)"
    assert back.transient == cls.transient


def test_every_error_is_transient_or_terminal():
    for cls in ALL:
        if cls in (errors.EngineError,):
            continue
        assert issubclass(cls, errors.TransientError) != issubclass(cls, errors.TerminalError), cls


def test_exit_codes_follow_the_cli_contract():
    assert errors.InputRejected.exit_code == 4
    assert errors.AgeChunkAuthError.exit_code == 4
    assert errors.EngineNotRunning.exit_code == 3
    assert errors.ConfigError.exit_code == 2
    assert errors.AgeTruncatedError("x").transient is False
    assert errors.NetworkTransientError("x").transient is True
