"""The one typed client (actors/clients.py): what the type checker sees, and how errors arrive.

The Store's API is declared once (engine/store/services); the actor is the Store made remote
and the client is typed as it, so a wrong call is a type error before it is a remote one.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from engine.errors import NotFound, StoreBusy, UsageError

REPO = Path(__file__).resolve().parents[1]

GOOD = """
from actors.clients import StoreClient, nowait, with_timeout
from engine.extract.daemon import ExtractStore
from engine.loading.pipeline import LoadSink
from engine.schedule.scheduler import ScheduleStore
from engine.transmission.model import TransmissionQueue


def uses(store: StoreClient) -> None:
    sink: LoadSink = store  # the client is each protocol the engine defines
    queue: TransmissionQueue = store
    extract: ExtractStore = store
    schedules: ScheduleStore = store
    doc: dict = store.run_job("provisioning", {"batch": "1"}, key="k")
    later: dict = nowait(store.run_job)("provisioning", {"batch": "1"}).result()
    rows: list = with_timeout(store, None).list_requests(status="UN", limit=5)
    pid: int = store.pid()
"""

BAD = """
from actors.clients import StoreClient, nowait


def uses(store: StoreClient) -> None:
    store.run_jobs("provisioning", {})
    store.run_job("provisioning", params=1)
    store.list_requests("UN")
    nowait(store.show_batch)("1")
    store.requests_call("queue_depths")
"""


def _mypy(tmp_path: Path, source: str) -> tuple[str, int]:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed in this environment")
    path = tmp_path / "snippet.py"
    path.write_text(textwrap.dedent(source))
    out, err, status = api.run([str(path), "--ignore-missing-imports", "--follow-imports=silent",
                                "--cache-dir", str(REPO / ".mypy_cache"), "--no-error-summary"])
    return out + err, status


def test_the_checker_takes_right_calls_and_the_client_as_each_protocol(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out, status = _mypy(tmp_path, GOOD)
    assert status == 0, out


def test_the_checker_catches_a_wrong_call_through_the_client(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out, status = _mypy(tmp_path, BAD)
    assert status == 1
    wrong = {int(line.split(":")[1]) for line in out.splitlines() if "snippet.py:" in line and ": error:" in line}
    assert wrong == {6, 7, 8, 9, 10}, out  # every bad line, and no other


# -- the client at work, against real actors -----------------------------------------------------


@pytest.fixture(scope="module")
def store(ray_local, tmp_path_factory):
    from actors.clients import StoreClient
    from actors.store import StoreActor

    client = StoreClient(StoreActor.remote(str(tmp_path_factory.mktemp("db") / "cmp.duckdb")))
    client.pid()
    yield client
    client.close()
    ray_local.kill(client.handle, no_restart=True)


@pytest.mark.ray
def test_an_engine_error_in_the_store_arrives_as_itself(store):
    with pytest.raises(NotFound, match="no batch 999"):
        store.show_batch(999)
    with pytest.raises(UsageError, match="unknown job 'nope'") as err:
        store.run_job("nope", {})
    assert "known jobs: bill-cycle-change, provisioning, reconciliation, response_handling" in str(err.value)
    with pytest.raises(AttributeError):
        store.no_such_method  # noqa: B018  (refused here, before any remote call)


@pytest.mark.ray
def test_a_started_call_is_pending_then_done(store):
    from actors.clients import nowait

    running = nowait(store.run_job)("provisioning", {"batch": "x"})
    with pytest.raises(UsageError, match="batch must be a batch id"):
        running.result(timeout=60)
    assert running.done()
    assert nowait(store.list_jobs)().result(timeout=60)[0]["name"] == "bill-cycle-change"


@pytest.mark.ray
def test_the_client_travels_into_a_ray_task(ray_local, store):
    @ray_local.remote
    def depths_from_a_task(client):
        return client.queue_depths()

    assert ray_local.get(depths_from_a_task.remote(store)) == {}


@pytest.mark.ray
def test_a_slow_or_dead_actor_is_a_transient_store_busy(ray_local):
    from actors.clients import ActorClient, with_timeout

    @ray_local.remote(max_restarts=0)
    class Sleeper:
        def nap(self, seconds: float) -> str:
            time.sleep(seconds)
            return "rested"

    client = ActorClient(Sleeper.remote(), timeout=30, actor="Sleeper")
    assert client.nap(0) == "rested"
    started = time.monotonic()
    with pytest.raises(StoreBusy, match=r"the Sleeper actor did not answer nap within 0.2 s") as slow:
        with_timeout(client, 0.2).nap(5)
    assert time.monotonic() - started < 4 and slow.value.transient and "may still be working" in slow.value.hint
    ray_local.kill(client.handle, no_restart=True)
    with pytest.raises(StoreBusy, match="the Sleeper actor is restarting or gone"):
        client.nap(0)
