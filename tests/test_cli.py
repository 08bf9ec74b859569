"""cmpctl file commands as an operator runs them: init, keys, encrypt/decrypt with the real age
tool both ways, gen orders, validate (exit 0 / 1 / 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import have_age_tool

REPO = Path(__file__).resolve().parents[1]
needs_age = pytest.mark.skipif(not have_age_tool(), reason="the Debian age tool is not installed (make test installs it as root)")


def cmpctl(*args: str, home: Path | None = None, input: bytes | None = None, check=True, env: dict | None = None):
    cmd = [sys.executable, "-m", "cli", *args] + (["--home", str(home)] if home else [])
    environ = {k: v for k, v in os.environ.items() if k != "CMP_DEBUG"} | (env or {})
    proc = subprocess.run(cmd, capture_output=True, input=input, cwd=REPO, timeout=120, env=environ)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}: {proc.stderr.decode()}")
    return proc


def run(*cmd: str, input: bytes | None = None) -> bytes:
    return subprocess.run(cmd, capture_output=True, input=input, check=True, timeout=60).stdout


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli") / "home"
    doc = json.loads(cmpctl("init", "--json", home=home).stdout)
    assert doc["recipient"].startswith("age1") and "keys/identity.txt" in doc["created"]
    again = json.loads(cmpctl("init", "--json", home=home).stdout)
    assert again["created"] == [] and again["recipient"] == doc["recipient"]  # never overwrites
    return home


def test_identity_file_is_private_and_recipient_matches(home):
    ident = home / "keys" / "identity.txt"
    assert oct(ident.stat().st_mode & 0o777) == "0o600"
    recipient = cmpctl("keys", "recipient", home=home).stdout.decode().strip()
    assert f"# public key: {recipient}" in ident.read_text()


@needs_age
def test_age_tool_and_cmpctl_interoperate_both_ways(home, tmp_path):
    data = os.urandom(3 * 65536 + 123)
    # age-keygen key, cmpctl encrypts, age decrypts; and the reverse direction.
    run("age-keygen", "-o", str(tmp_path / "k.txt"))
    r = run("age-keygen", "-y", str(tmp_path / "k.txt")).decode().strip()
    enc = cmpctl("encrypt", "-r", r, "-", input=data).stdout
    assert run("age", "-d", "-i", str(tmp_path / "k.txt"), input=enc) == data
    enc = run("age", "-r", r, input=data)
    assert cmpctl("decrypt", "-i", str(tmp_path / "k.txt"), "-", input=enc).stdout == data
    enc = run("age", "-a", "-r", r, input=data)
    assert cmpctl("decrypt", "-i", str(tmp_path / "k.txt"), "-", input=enc).stdout == data
    # cmpctl key, age encrypts to it, cmpctl decrypts; age decrypts what cmpctl wrote.
    cmpctl("keys", "generate", "-o", str(tmp_path / "mine.txt"))
    mine = cmpctl("keys", "recipient", "-i", str(tmp_path / "mine.txt")).stdout.decode().strip()
    assert run("age-keygen", "-y", str(tmp_path / "mine.txt")).decode().strip() == mine
    enc = run("age", "-r", mine, input=data)
    assert cmpctl("decrypt", "-i", str(tmp_path / "mine.txt"), "-", input=enc).stdout == data
    out = tmp_path / "x.age"
    cmpctl("encrypt", "-r", mine, "-o", str(out), "-", input=data)
    assert run("age", "-d", "-i", str(tmp_path / "mine.txt"), str(out)) == data


def test_decrypt_of_a_damaged_file_exits_4_with_one_line(home, tmp_path):
    r = cmpctl("keys", "recipient", home=home).stdout.decode().strip()
    enc = bytearray(cmpctl("encrypt", "-r", r, "-", input=os.urandom(200000)).stdout)
    enc[-100] ^= 1
    out = tmp_path / "plain.bin"
    proc = cmpctl("decrypt", "-o", str(out), "-", home=home, input=bytes(enc), check=False)
    assert proc.returncode == 4
    assert len(proc.stderr.decode().strip().splitlines()) == 1 and "Traceback" not in proc.stderr.decode()
    assert not out.exists()  # nothing half-written under the final name


def test_validate_lists_bad_records_and_exits_1(home, tmp_path):
    f = tmp_path / "o.jsonl.age"
    cmpctl("gen", "orders", "--count", "400", "--bad-share", "0.05", "--seed", "9", "-o", str(f), home=home)
    good = tmp_path / "good.jsonl.age"
    cmpctl("gen", "orders", "--count", "50", "-o", str(good), home=home)
    assert cmpctl("validate", str(good), home=home).returncode == 0
    proc = cmpctl("validate", str(f), "--json", home=home, check=False)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["records"] == 400 and report["invalid"] == 20 and len(report["errors"]) == 20
    assert all(e["line"] >= 2 and e["reasons"] for e in report["errors"])
    human = cmpctl("validate", str(f), home=home, check=False).stdout.decode()
    first = report["errors"][0]
    assert f"line {first['line']}" in human and first["reasons"][0] in human


def test_validate_tampered_or_truncated_exits_4(home, tmp_path):
    f = tmp_path / "o.jsonl.age"
    cmpctl("gen", "orders", "--count", "300", "-o", str(f), home=home)
    data = f.read_bytes()
    for name, bad in (("cut", data[: len(data) // 2]), ("flip", data[:-50] + bytes([data[-50] ^ 4]) + data[-49:])):
        path = tmp_path / f"{name}.jsonl.age"
        path.write_bytes(bad)
        proc = cmpctl("validate", str(path), home=home, check=False)
        err = proc.stderr.decode().strip()
        assert proc.returncode == 4 and len(err.splitlines()) == 1 and str(path) in err


def test_usage_errors_exit_2(home):
    assert cmpctl("gen", "orders", "-o", "x", home=home, check=False).returncode == 2
    proc = cmpctl("encrypt", "-", home=None, input=b"x", check=False)
    assert proc.returncode == 2 and b"recipient" in proc.stderr


# -- errors, --debug and exit codes ---------------------------------------------------------------


def test_exit_codes_are_the_contracts_and_the_engine_errors_own():
    from cli.exits import ExitCode
    from engine.errors import (AgeHmacError, ConfigError, DuplicateFile, EngineNotRunning, InputRejected, NotFound,
                               UsageError)

    assert [int(c) for c in (ExitCode.OK, ExitCode.FOUND_ERRORS, ExitCode.USAGE, ExitCode.NOT_RUNNING,
                             ExitCode.REJECTED)] == [0, 1, 2, 3, 4]  # CLI.md
    assert UsageError.exit_code == ConfigError.exit_code == ExitCode.USAGE
    assert EngineNotRunning.exit_code == ExitCode.NOT_RUNNING
    assert InputRejected.exit_code == AgeHmacError.exit_code == DuplicateFile.exit_code == ExitCode.REJECTED
    assert NotFound.exit_code == ExitCode.FOUND_ERRORS


def test_debug_shows_the_traceback_and_keeps_the_exit_code(home, tmp_path):
    r = cmpctl("keys", "recipient", home=home).stdout.decode().strip()
    enc = bytearray(cmpctl("encrypt", "-r", r, "-", input=os.urandom(1000)).stdout)
    enc[-20] ^= 1
    quiet = cmpctl("decrypt", "-", home=home, input=bytes(enc), check=False)
    assert quiet.returncode == 4 and "Traceback" not in quiet.stderr.decode()
    for args, env in ((["--debug", "decrypt", "-"], {}), (["decrypt", "-"], {"CMP_DEBUG": "1"})):
        loud = cmpctl(*args, home=home, input=bytes(enc), check=False, env=env)
        err = loud.stderr.decode()
        assert loud.returncode == 4, err  # --debug changes what is shown, not the exit code
        assert "Traceback (most recent call last)" in err and "engine.age" in err
        assert err.strip().splitlines()[-1] == quiet.stderr.decode().strip()  # the same line, last
    assert cmpctl("decrypt", "-", home=home, input=bytes(enc), check=False,
                  env={"CMP_DEBUG": "0"}).stderr.decode() == quiet.stderr.decode()


def test_an_unexpected_error_is_one_line_naming_its_type(home):
    # a file that is not there is not (yet) an EngineError: the boundary still answers in one line
    proc = cmpctl("validate", "/nonexistent/orders.jsonl.age", home=home, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and proc.stdout == b""
    assert err.splitlines() == [err.strip()] and "Traceback" not in err
    assert err.startswith("cmpctl: FileNotFoundError: ") and "/nonexistent/orders.jsonl.age" in err
    assert err.strip().endswith("(run with --debug for the traceback)")
    loud = cmpctl("--debug", "validate", "/nonexistent/orders.jsonl.age", home=home, check=False)
    assert loud.returncode == 1 and "Traceback (most recent call last)" in loud.stderr.decode()


@pytest.mark.parametrize("raised, code, line", [
    (KeyError("batch_id"), 1, "cmpctl: KeyError: 'batch_id' (run with --debug for the traceback)"),
    (RuntimeError("first line\nsecond line"), 1, "cmpctl: RuntimeError: first line (run with --debug for the traceback)"),
    (KeyboardInterrupt(), 130, "cmpctl: interrupted"),
])
def test_any_exception_in_a_command_becomes_one_line_and_an_exit_code(monkeypatch, tmp_path, raised, code, line):
    """In-process, through the app's own boundary (what main() runs): a command whose engine
    call raises something that is not an EngineError."""
    from typer.testing import CliRunner

    import cli

    def broken(home):
        raise raised

    monkeypatch.setattr(cli.source, "store", broken)
    result = CliRunner().invoke(cli.app, ["batches", "list", "--home", str(tmp_path)])
    assert result.exit_code == code and result.stdout == ""
    assert result.stderr.strip() == line
    debug = CliRunner().invoke(cli.app, ["--debug", "batches", "list", "--home", str(tmp_path)])
    assert debug.exit_code == code and debug.stderr.strip().endswith(line)
    if not isinstance(raised, KeyboardInterrupt):
        assert "Traceback (most recent call last)" in debug.stderr and f"{type(raised).__name__}" in debug.stderr


def test_an_error_raised_in_an_engine_actor_is_named_by_its_cause(monkeypatch, tmp_path):
    from ray.exceptions import RayTaskError
    from typer.testing import CliRunner

    import cli

    def broken(home):  # what actors.clients.call lets through when an actor method has a bug
        raise RayTaskError("StoreActor.list_batches", "Traceback …\nKeyError: 'x'", KeyError("x")).as_instanceof_cause()

    monkeypatch.setattr(cli.source, "store", broken)
    result = CliRunner().invoke(cli.app, ["batches", "list", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == "cmpctl: KeyError in the engine: 'x' (run with --debug for the traceback)"
