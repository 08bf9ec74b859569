"""Bill Cycle Change Response files: batch the OCS's new instances into encrypted generic files.

Openet answers a bill cycle change asynchronously: the HTTP call is accepted (202) and the new
allowance and spend-cap instances arrive later as a generic file in the engine's inbound
folder. This writer collects the pending records and, every ``--drop-interval`` seconds (and on
POST /_sim/flush or shutdown), writes them as ONE file:

- JSON Lines: the FORMATS.md header, then one record per changed subscription;
- encrypted with **pyrage**, an age implementation other than the engine's codec, on purpose:
  every run then checks that the engine reads files made by another age implementation;
- written atomically: ``.<name>.part`` in the drop dir, fsync, rename to ``<name>.jsonl.age``
  (the Load daemon ignores dot-names), then fsync the directory so the rename survives a crash.

Reconciliation fault mode: ``bcc_omit`` / ``bcc_duplicate`` / ``bcc_alter`` make the FILE differ
from what the OCS really holds (the state is untouched), and every injected difference is
recorded for GET /_sim/bcc_faults, so tests can check the engine's reconciliation found each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyrage

from netsim.faults import FaultInjector
from netsim.state import NetworkState

log = logging.getLogger("netsim.bcc")


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shift_day(stamp: str) -> str:
    """The altered effective date: one day later, in UTC with a Z."""
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (parsed + timedelta(days=1)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _alter_amount(amount: Any) -> Any:
    if amount == "UNLIMITED":
        return 1000  # an unlimited allowance reported as a finite one
    doubled = amount * 2
    return round(doubled, 2) if isinstance(doubled, float) else doubled


class BccWriter:
    def __init__(self, state: NetworkState, faults: FaultInjector, drop_dir: Path | None,
                 recipients: list[str], interval: float = 1.0) -> None:
        self.state = state
        self.faults = faults
        self.drop_dir = drop_dir
        # Parsed once: a bad recipient is a usage error at start, not a failure at first flush.
        self.recipients = [pyrage.x25519.Recipient.from_str(r) for r in recipients]
        self.interval = interval
        self.lock = asyncio.Lock()  # one flush at a time: file names and fault draws stay ordered
        self._faults_lock = threading.Lock()  # the writer thread appends, handlers read
        self.injected: list[dict[str, Any]] = []
        self.files: list[str] = []
        self.write_errors = 0
        self._seq = 0
        state.bcc_sink = drop_dir is not None

    @property
    def enabled(self) -> bool:
        return self.drop_dir is not None

    def clear(self) -> None:
        with self._faults_lock:
            self.injected = []
        self.files = []
        self.write_errors = 0

    def injected_faults(self) -> list[dict[str, Any]]:
        with self._faults_lock:
            return list(self.injected)

    async def flush(self) -> list[str]:
        """Write everything pending as one file; return the file names written (0 or 1)."""
        if not self.enabled:
            return []
        async with self.lock:
            records = self.state.take_pending()
            if not records:
                return []
            self._seq += 1
            identifier = f"netsim-bcc-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{self.state._run}-{self._seq:06d}"
            try:
                name = await asyncio.to_thread(self._write, identifier, records)
            except Exception:
                # Never lose the OCS's answer: put the records back for the next attempt.
                self.write_errors += 1
                with self.state.lock:
                    self.state.pending_bcc[:0] = records
                log.exception("writing bill cycle change response %s failed", identifier)
                raise
            self.files.append(name)
            log.info("wrote %s (%d records)", name, len(records))
            return [name]

    async def run_periodic(self) -> None:
        """Flush every ``interval`` seconds when something is pending, until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            if self.state.pending_bcc:
                try:
                    await self.flush()
                except Exception:
                    pass  # already logged; retried next tick

    # -- runs in a worker thread: the JSON, the encryption and the disk I/O ---------------
    def _write(self, identifier: str, records: list[dict[str, Any]]) -> str:
        name = f"{identifier}.jsonl.age"
        lines = [b""]  # placeholder for the header
        for record in records:
            lines.append(json.dumps(self._with_faults(name, record), separators=(",", ":")).encode())
        header = {"interfaceCategory": "Provisioning", "interfaceType": "Bill Cycle Change Response",
                  "version": "1.0", "identifier": identifier, "extractDateTime": _utc_now(),
                  "recordCount": len(records)}
        lines[0] = json.dumps(header, separators=(",", ":")).encode()
        plain = b"\n".join(lines) + b"\n"
        sealed = pyrage.encrypt(plain, self.recipients)
        assert self.drop_dir is not None
        final = self.drop_dir / name
        part = self.drop_dir / f".{name}.part"
        with open(part, "wb") as fh:
            fh.write(sealed)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, final)
        dir_fd = os.open(self.drop_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return name

    def _with_faults(self, file_name: str, record: dict[str, Any]) -> dict[str, Any]:
        """The record as written to the file, with any seeded reconciliation faults applied."""
        written: list[dict[str, Any]] = []
        for inst in record["ocsInstances"]:
            fault = self.faults.draw_bcc()
            if fault is None:
                written.append(inst)
                continue
            note: dict[str, Any] = {"file": file_name, "actionItemNumber": record["actionItemNumber"],
                                    "subscriptionId": record["subscriptionId"], "ocsId": inst["ocsId"],
                                    "ocsInstanceId": inst["ocsInstanceId"], "instanceKind": inst["kind"]}
            if fault == "omit":
                note.update(fault="omit")
            elif fault == "duplicate":
                written.extend((inst, inst))
                note.update(fault="duplicate")
            else:
                altered = dict(inst)
                if self.faults.bcc_rng.random() < 0.5:
                    altered["amount"] = _alter_amount(inst["amount"])
                    note.update(fault="alter_amount", expected=inst["amount"], written=altered["amount"])
                else:
                    altered["effectiveDateTime"] = _shift_day(inst["effectiveDateTime"])
                    note.update(fault="alter_date", expected=inst["effectiveDateTime"],
                                written=altered["effectiveDateTime"])
                written.append(altered)
            with self._faults_lock:
                self.injected.append(note)
        return {**record, "ocsInstances": written}
