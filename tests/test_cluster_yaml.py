"""cluster.yaml and cluster-aws.yaml pass Ray's own cluster-launcher config loader.

`ray up` runs the config through ``prepare_config`` (defaults of the provider merged in, node
types filled) and ``validate_config`` (Ray's JSON schema); for the local provider also its
``bootstrap_config``. We run the same functions, and check every ``ray start`` flag the start
commands use against the installed ``ray start`` command itself.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.commands import _bootstrap_config
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.scripts.scripts import start as ray_start

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ("cluster.yaml", "cluster-aws.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


@pytest.mark.parametrize("name", CONFIGS)
def test_ray_loader_accepts_it(name):
    prepared = prepare_config(load(name))
    validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_local_config_bootstraps_with_every_worker():
    config = _bootstrap_config(load("cluster.yaml"), no_config_cache=True)
    assert config["provider"]["type"] == "local"
    [node_type] = config["available_node_types"].values()
    workers = load("cluster.yaml")["provider"]["worker_ips"]
    assert node_type["min_workers"] == node_type["max_workers"] == len(workers) >= 1
    assert config["auth"]["ssh_user"]


def test_a_typo_is_refused_by_the_same_loader():
    bad = load("cluster.yaml")
    bad["head_start_ray_comands"] = bad.pop("head_start_ray_commands")  # misspelt key
    with pytest.raises(jsonschema.ValidationError, match="head_start_ray_comands"):
        validate_config(prepare_config(bad))


def _ray_start_flags(commands: list[str]) -> dict[str, str]:
    flags = {}
    for command in commands:
        if "ray start" not in command:
            continue
        for word in shlex.split(command.split("ray start", 1)[1]):
            if word.startswith("--"):
                flag, _, value = word.partition("=")
                flags[flag] = value
    return flags


@pytest.mark.parametrize("name", CONFIGS)
def test_start_commands_use_real_flags_and_set_up_the_engine(name):
    config = load(name)
    known = {opt for param in ray_start.params for opt in param.opts}
    head = _ray_start_flags(config["head_start_ray_commands"])
    worker = _ray_start_flags(config["worker_start_ray_commands"])
    assert set(head) <= known and set(worker) <= known, (set(head) | set(worker)) - known
    assert "--head" in head and {"--dashboard-host", "--dashboard-port", "--metrics-export-port"} <= set(head)
    for flags in (head, worker):  # temp dir and spilled objects on the large disk, on every node
        assert flags["--temp-dir"].startswith("/data/") and flags["--object-spilling-directory"].startswith("/data/")
    every_start = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in c for c in every_start)
    # Ray job entrypoints (cmpctl submit) run `python` from the PATH Ray was started with.
    assert all("PATH=~/cmp-venv/bin:$PATH" in c for c in every_start if "ray start" in c)
    assert "~/.ray/auth_token" in config["file_mounts"]
    setup = " ".join(config["setup_commands"])
    assert re.search(r"pip install .*-e ~/cmp-provisioning", setup) and config["file_mounts"]["~/cmp-provisioning"] == "."
    assert {".venv", ".git", "data"} <= set(config["rsync_exclude"])

