"""`cmpctl demo`: the whole mission on the embedded default, every step checked.

A fresh home in a temporary folder, a local Ray head with its dashboard, netsim as a subprocess
(OCS and Openet APIs; bill cycle response files encrypted by pyrage, with a few instances
omitted, duplicated or altered so reconciliation has real work), then:

    generated encrypted order file (some bad records) → Load daemon → batch →
    provisioning job → OCS adaptor → netsim → subscriptions CONNECTED →
    bill-cycle-change job → Openet adaptor → netsim's response file → Load daemon →
    reconciliation job → discrepancies → probes

Each step is a :class:`Check` that passed or failed with the numbers that decided it; the demo
succeeds only if all did. Nothing here is demo-only engine code: it drives the same actors,
daemons and jobs an operator runs, and reads the same Store views ``cmpctl`` shows.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from engine import age, synth
from engine.config import Config, load_config
from engine.errors import EngineError
from engine.home import home_recipient, init_home

if TYPE_CHECKING:
    from actors.clients import StoreClient

#: the share of bad records in the generated order file
BAD_SHARE = 0.01
#: netsim's reconciliation faults: per OCS instance written to a response file
BCC_FAULTS = "bcc_omit=0.02,bcc_duplicate=0.02,bcc_alter=0.02"
#: the new bill cycle day of the demo's bill cycle change
NEW_DAY = 1


@dataclass
class Check:
    step: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class DemoReport:
    home: Path
    dashboard_url: str | None = None
    checks: list[Check] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


class DemoFailed(EngineError):
    """A demo step did not do what it should (the report says which)."""


def _wait(predicate: Callable[[], Any], *, timeout: float, what: str, poll: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def _settings(sim_url: str, token: str) -> dict[str, Any]:
    """Point the engine at netsim and poll briskly (as CMP_* variables or cmp.toml would)."""
    return {
        "network.ocs.url": sim_url, "network.ocs.token": token, "network.ocs.lease_seconds": 30,
        "network.openet.url": sim_url, "network.openet.token": token,
        "daemons.ocs_adaptor.poll_seconds": 0.2, "daemons.openet_adaptor.poll_seconds": 0.2,
        "daemons.load_provisioning.poll_seconds": 0.5, "daemons.load_bill_cycle.poll_seconds": 0.5,
    }


class Demo:
    def __init__(self, orders: int, *, workdir: Path | None = None, seed: int = 1,
                 progress: Callable[[str], None] = lambda line: None) -> None:
        self.orders = orders
        self.seed = seed
        self.progress = progress
        self.root = Path(tempfile.mkdtemp(prefix="cmp-demo-", dir=workdir))
        self.report = DemoReport(home=self.root / "home")
        self._t0 = time.monotonic()

    # -- bookkeeping -----------------------------------------------------------------------

    def check(self, step: str, ok: bool, detail: str) -> None:
        elapsed = time.monotonic() - self._t0
        self.report.checks.append(Check(step, bool(ok), detail, elapsed))
        self.progress(f"[{elapsed:6.1f}s] {'ok  ' if ok else 'FAIL'} {step}: {detail}")
        if not ok:
            raise DemoFailed(f"demo step failed: {step}: {detail}")

    # -- the run ---------------------------------------------------------------------------

    def run(self, *, keep: bool = False) -> DemoReport:
        from netsim.testing import start_netsim

        home = self.report.home
        init_home(home)
        token = secrets.token_urlsafe(18)
        recipient = home_recipient(load_config(home))
        drop_dir = load_config(home).inbound_dir("load_bill_cycle")
        try:
            with start_netsim(token=token, drop_dir=drop_dir, recipients=[str(recipient)],
                              faults=f"{BCC_FAULTS},seed={self.seed}") as sim:
                config = load_config(home, overrides=_settings(sim.url, token))
                self._with_engine(config, sim)
        except DemoFailed as exc:
            if not self.report.checks or self.report.checks[-1].ok:
                self.report.checks.append(Check("demo", False, str(exc), time.monotonic() - self._t0))
        finally:
            if not keep:
                shutil.rmtree(self.root, ignore_errors=True)
        return self.report

    def _with_engine(self, config: Config, sim) -> None:
        from actors.engine import start_engine, stop_engine
        from engine import runtime

        run = runtime.start_local_head(config)
        runtime.write_run(config, run)
        self.report.dashboard_url = run.dashboard_url
        try:
            handles = start_engine(config)
            store: StoreClient = handles.store_client
            states = {d["name"]: d["state"] for d in store.list_daemons()}
            self.check("engine up", states and all(s == "RUNNING" for s in states.values()),
                       f"{len(states)} daemons RUNNING on Ray {run.address}")
            batch = self._load_orders(config, store)
            self._provision(store, batch)
            self._network(store, sim)
            self._bill_cycle(store, sim)
            self._probes(config, store)
            self.report.summary["requests"] = store.queue_depths()
        finally:
            try:
                stop_engine(config)
            finally:
                runtime.stop_local_head(run)
                runtime.clear_run(config)

    def _load_orders(self, config: Config, store: StoreClient) -> dict[str, Any]:
        from engine.loading.submit import submit_file, wait_for_outcome

        path = self.root / "orders.jsonl.age"
        with path.open("wb") as raw, age.open_encrypt(raw, [home_recipient(config)]) as sink:
            synth.write_orders(sink, self.orders, seed=self.seed, bad_share=BAD_SHARE,
                               identifier=f"demo-orders-{self.seed}")
        submitted = submit_file(config, path, store.committed_file)
        outcome = wait_for_outcome(store, submitted, timeout=300)
        self.report.summary["load"] = outcome
        self.check("load", outcome["status"] == "loaded" and outcome["records"] == self.orders
                   and outcome["errors"] > 0 and outcome["valid"] + outcome["errors"] == self.orders,
                   f"batch {outcome.get('batch_id')}: {outcome.get('records', 0):,} records, "
                   f"{outcome.get('valid', 0):,} loaded, {outcome.get('errors', 0):,} quarantined with reasons")
        return outcome

    def _provision(self, store: StoreClient, batch: dict[str, Any]) -> None:
        def done():
            triggers = store.show_batch(batch["batch_id"])["triggers"]
            return all(t["status"] == "DONE" for t in triggers) and triggers

        triggers = _wait(done, timeout=300, what="the provisioning job of the order batch")
        execution = store.job_execution(triggers[0]["execution_id"])
        self.report.summary["provisioning"] = {k: execution[k] for k in ("execution_id", "records_read",
                                                                          "records_ok", "records_error")}
        self.check("provisioning", execution["status"] == "SUCCEEDED"
                   and execution["records_read"] == batch["valid"]
                   and execution["records_ok"] + execution["records_error"] == batch["valid"],
                   f"execution {execution['execution_id']}: {execution['records_ok']:,} orders provisioned, "
                   f"{execution['records_error']:,} refused by business rules")

    def _network(self, store: StoreClient, sim) -> None:
        def settled():
            depths = store.queue_depths().get("OCS", {})
            open_ = sum(n for s, n in depths.items() if s in ("PR", "NS", "NA", "NE"))
            waiting = depths.get("UN", 0)
            if open_ == 0 and waiting <= store.overview()["delayed_activations"]:
                return depths
            return None

        depths = _wait(settled, timeout=600, what="every OCS request to finish", poll=1.0)
        stats = sim.stats()
        overview = store.overview()
        self.report.summary["subscriptions"] = overview["subscriptions"]
        self.check("network", depths.get("NC", 0) > 0 and not any(depths.get(s) for s in ("NR", "NF", "PE"))
                   and stats["duplicate_executions"] == 0 and stats["executions"] == depths.get("NC", 0),
                   f"{depths.get('NC', 0):,} OCS commands NC, {stats['duplicate_executions']} executed twice; "
                   f"{overview['subscriptions'].get('CONNECTED', 0):,} subscriptions CONNECTED, "
                   f"{overview['delayed_activations']:,} waiting for a future activation date")

    def _bill_cycle(self, store: StoreClient, sim) -> None:
        from actors.clients import with_timeout

        before = {b["batch_id"] for b in store.list_batches(limit=1000)}
        agreements = store.bill_cycle_candidates(day=NEW_DAY, limit=200)
        self.check("bill cycle candidates", len(agreements) > 0,
                   f"{len(agreements)} POSTPAID agreements with connected subscriptions")
        execution = with_timeout(store, None).run_job(
            "bill-cycle-change", {"agreement": ",".join(agreements), "day": str(NEW_DAY)}, key=f"demo:bcc:{self.seed}")
        changed = execution["records_ok"]
        self.check("bill cycle change", execution["status"] == "SUCCEEDED" and changed > 0,
                   f"execution {execution['execution_id']}: {changed} agreements move to day {NEW_DAY}")

        def openet_done():
            depths = store.queue_depths().get("OPENET", {})
            return depths if depths and set(depths) <= {"NC", "NR", "NF", "PE"} else None

        depths = _wait(openet_done, timeout=300, what="the Openet bill cycle commands")
        self.check("openet", set(depths) == {"NC"}, f"{depths.get('NC', 0)} BILL_CYCLE_CHANGE commands NC")

        sim.flush()  # netsim writes what is still pending now, instead of at its next drop interval
        answers = depths["NC"]

        def response_batches():
            new = [b for b in store.list_batches(limit=1000)
                   if b["batch_id"] not in before and b["batch_type"] == "Bill Cycle Change Response"]
            return new if sum(b["records"] for b in new) >= answers else None

        batches = _wait(response_batches, timeout=120, what="netsim's Bill Cycle Change Response files to load")
        self.check("response files", all(b["error_records"] == 0 for b in batches),
                   f"{len(batches)} file(s) encrypted by netsim with pyrage → batches "
                   f"{', '.join(str(b['batch_id']) for b in batches)}, {sum(b['records'] for b in batches)} records")

        def reconciled():
            runs = [store.execution_by_key(f"batch:{b['batch_id']}:reconciliation") for b in batches]
            return runs if all(r and r["status"] != "RUNNING" for r in runs) else None

        executions = _wait(reconciled, timeout=120, what="the reconciliation jobs of the response batches")
        found: dict[str, int] = {}
        for execution in executions:
            for cls, n in ((execution.get("result") or {}).get("classes") or {}).items():
                if n:
                    found[cls] = found.get(cls, 0) + n
        expected = _expected_classes(sim.bcc_faults())
        self.report.summary["reconciliation"] = found
        agrees = all(found.get(cls, 0) == n for cls, n in expected.items()) and \
            all(cls in expected for cls in found if cls != "MATCHED")
        self.check("reconciliation", all(e["status"] == "SUCCEEDED" for e in executions) and agrees
                   and found.get("MATCHED", 0) > 0,
                   f"execution(s) {', '.join(str(e['execution_id']) for e in executions)}: "
                   + ", ".join(f"{cls} {n}" for cls, n in sorted(found.items()))
                   + f"; netsim injected {sum(expected.values())} faults: "
                   + ", ".join(f"{cls} {n}" for cls, n in sorted(expected.items())))

    def _probes(self, config: Config, store: StoreClient) -> None:
        names = sorted(name for name, probe in config.probes.items() if probe.enabled)
        runs = store.run_probes(config, names)  # every probe now, due or not
        alerts = store.probe_alerts(active_only=True)
        failed = [r["probe"] for r in runs if r["outcome"] == "probe failed"]
        self.report.summary["probes"] = {r["probe"]: r["outcome"] for r in runs}
        self.report.summary["alerts"] = [f"{a['probe']} on {a['subject']} ({a['state']})" for a in alerts]
        self.check("probes", len(runs) == len(names) and not failed,
                   ", ".join(f"{r['probe']} {r['outcome']}" for r in runs)
                   + (f"; failed to run: {', '.join(failed)}" if failed else ""))


def _expected_classes(faults: list[dict[str, Any]]) -> dict[str, int]:
    """The discrepancy class each injected netsim fault must be reported as."""
    classes = {"omit": "MISSING_IN_OCS", "duplicate": "DUPLICATE_IN_OCS",
               "alter_amount": "AMOUNT_DIFFERS", "alter_date": "DATE_DIFFERS"}
    out: dict[str, int] = {}
    for fault in faults:
        cls = classes[fault["fault"]]
        out[cls] = out.get(cls, 0) + 1
    return out


def run_demo(orders: int, *, keep: bool = False, workdir: Path | None = None,
             progress: Callable[[str], None] = lambda line: None) -> DemoReport:
    return Demo(orders, workdir=workdir, progress=progress).run(keep=keep)


__all__ = ["Check", "Demo", "DemoFailed", "DemoReport", "run_demo"]
