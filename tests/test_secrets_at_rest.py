"""Secrets at rest: the home 0700 and its secrets 0600 whatever the umask, modes that drifted
refused or warned about (engine/permissions.py), Ray's token file 0600, netsim's token off argv."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import load_config
from engine.errors import ConfigError
from engine.permissions import enforce, exposures
from tests.test_cli import REPO, cmpctl


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o277])
def test_init_makes_the_home_private_whatever_the_umask(tmp_path, umask):
    home = tmp_path / "home"
    proc = subprocess.run([sys.executable, "-m", "cli", "init", "--json", "--home", str(home)], cwd=REPO,
                          capture_output=True, timeout=120, umask=umask)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tightened"] == []  # nothing was there before
    assert mode(home) == 0o700 and mode(home / "keys") == 0o700 and mode(home / "data") == 0o700
    for secret in ("cmp.toml", "keys/identity.txt", "data/cmp.duckdb"):
        assert mode(home / secret) == 0o600, secret
    assert not (home / "data" / "cmp.duckdb.wal").exists()  # checkpointed at close: no log left beside it


def test_init_tightens_an_existing_home(tmp_path):
    home = tmp_path / "home"
    cmpctl("init", home=home)
    loose = {".": 0o755, "cmp.toml": 0o644, "keys/identity.txt": 0o644, "data/cmp.duckdb": 0o664}
    for path, m in loose.items():
        os.chmod(home / path, m)
    doc = json.loads(cmpctl("init", "--json", home=home).stdout)
    assert sorted(doc["tightened"]) == sorted(loose) and doc["created"] == []
    assert mode(home) == 0o700 and all(mode(home / p) == 0o600 for p in loose if p != ".")
    assert json.loads(cmpctl("init", "--json", home=home).stdout)["tightened"] == []


@pytest.mark.parametrize("path, loose, refused", [
    ("keys/identity.txt", 0o644, True),  # like ssh with a private key: any other reader refuses
    ("keys/identity.txt", 0o640, True),
    ("data/cmp.duckdb", 0o644, True),  # customers' personal data for every user of the machine
    ("data/cmp.duckdb", 0o640, False),  # a group may be a deliberate audit team: a warning
    ("data/cmp.duckdb.wal", 0o604, True),
    ("cmp.toml", 0o644, False),  # no token or password in it: a warning
    ("cmp.toml", 0o640, False),
    (".", 0o755, False),
])
def test_what_others_may_read_is_refused_or_warned_about(tmp_path, path, loose, refused):
    home = tmp_path / "home"
    cmpctl("init", home=home)
    (home / "data" / "cmp.duckdb.wal").touch(mode=0o600)
    config = load_config(home, env={})
    assert exposures(config) == []
    os.chmod(home / path, loose)
    warned: list[str] = []
    if refused:
        with pytest.raises(ConfigError) as caught:
            enforce(exposures(config), warn=warned.append)
        line = str(caught.value)
    else:
        enforce(exposures(config), warn=warned.append)
        (line,) = warned
    # one clear line: the file, its mode, what it holds and the fix
    assert str(home / path).rstrip("/.") in line and f"{loose:04o}" in line and "chmod" in line
    assert "cmpctl init" in line and "\n" not in line


def test_a_world_readable_config_with_a_secret_refuses(tmp_path):
    home = tmp_path / "home"
    cmpctl("init", home=home)
    toml = home / "cmp.toml"
    toml.write_text(toml.read_text().replace('[notify.smtp]', '[notify.smtp]\npassword = "s3cret"', 1))
    os.chmod(toml, 0o644)
    with pytest.raises(ConfigError, match="tokens or passwords") as caught:
        enforce(exposures(load_config(home, env={})), warn=lambda line: None)
    assert "s3cret" not in str(caught.value)
    # the same secret from the environment is not in the file: the file alone is only a warning
    toml.write_text(toml.read_text().replace('password = "s3cret"\n', ""))
    enforce(exposures(load_config(home, env={"CMP_NOTIFY__SMTP__PASSWORD": "s3cret"})), warn=lambda line: None)


def test_up_refuses_a_readable_identity_before_starting_anything(tmp_path):
    home = tmp_path / "home"
    cmpctl("init", home=home)
    os.chmod(home / "keys" / "identity.txt", 0o644)
    started = time.monotonic()
    up = cmpctl("up", home=home, check=False)
    assert up.returncode == 2 and time.monotonic() - started < 60
    (line,) = up.stderr.decode().strip().splitlines()
    assert "identity.txt is mode 0644, open to everyone" in line and "chmod 600" in line
    assert not (home / "run" / "ray.json").exists()  # no Ray head was started
    recipient = cmpctl("keys", "recipient", home=home, check=False)  # every reader of the identity refuses
    assert recipient.returncode == 2 and b"identity.txt is mode 0644" in recipient.stderr


def test_the_ray_token_file_the_engine_creates_is_the_users_alone(tmp_path):
    run = [sys.executable, "-c", "from engine.runtime import ensure_auth_token; ensure_auth_token()"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH_TOKEN")}
    env.update(HOME=str(tmp_path), RAY_AUTH_MODE="token")
    subprocess.run(run, cwd=REPO, env=env, check=True, timeout=120, umask=0o022)
    token = tmp_path / ".ray" / "auth_token"
    assert token.read_text().strip() and mode(token) == 0o600
    os.chmod(token, 0o644)  # left so by an earlier version: tightened, the token kept
    before = token.read_text()
    subprocess.run(run, cwd=REPO, env=env, check=True, timeout=120)
    assert mode(token) == 0o600 and token.read_text() == before


def test_netsim_serve_takes_its_token_from_the_environment_or_a_file(tmp_path):
    refused = cmpctl("netsim", "serve", "--token", "s3cret", check=False)
    assert refused.returncode == 2 and b"--token-file" in refused.stderr
    env = {k: v for k, v in os.environ.items() if k != "CMP_DEBUG"} | {"CMP_NETSIM_TOKEN": "s3cret"}
    proc = subprocess.Popen([sys.executable, "-m", "cli", "netsim", "serve", "--port", "0"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("netsim listening on http://127.0.0.1:")
        assert b"s3cret" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    finally:
        proc.terminate()
        proc.wait(10)
