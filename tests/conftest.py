"""Shared fixtures: the shared/ folder, a fresh engine home, and one local Ray per module."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Ray's auth mode must be set before the first `import ray`, whichever test module imports it
# first; engine.runtime does that (and is what cmpctl imports first too).
import engine.runtime  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("CMP_SHARED_DIR") or REPO.parent / "shared")


@pytest.fixture(scope="session")
def age_vectors_dir() -> Path:
    path = shared_dir() / "testdata" / "age-vectors"
    if not path.is_dir():
        pytest.fail(f"age conformance vectors not found at {path} (set CMP_SHARED_DIR)")
    return path


@pytest.fixture
def home(tmp_path) -> Path:
    """A fresh engine home made by `cmpctl init`'s own code."""
    from engine.home import init_home

    return init_home(tmp_path / "home").home


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray for the whole test module (starting Ray costs seconds)."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, namespace="cmp", log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def two_worker_cluster():
    """A three-node Ray cluster on this machine (``ray.cluster_utils``): a head offering no CPU,
    so that every task lands on one of two 1-CPU workers. Yields ``(cluster, workers)``."""
    import ray
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0}, connect=False)
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace="cmp", log_to_driver=False)
    yield cluster, workers
    ray.shutdown()
    cluster.shutdown()


def have_age_tool() -> bool:
    return shutil.which("age") is not None and shutil.which("age-keygen") is not None
