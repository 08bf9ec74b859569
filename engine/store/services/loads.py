"""The Store's load methods: one inbound file as one batch, in one transaction (the coordinator
and its shard tasks call them), and what a file's sender may ask about it afterwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.loading.shards import ShardResult
from engine.store.loads import FileMeta, LoadResult, LoadTransactions
from engine.store.services.base import StoreBase
from engine.store.staging import STAGE_TABLES


class LoadService(StoreBase):
    _loads: LoadTransactions

    def _init_loads(self) -> None:
        self._loads = LoadTransactions(self._con, STAGE_TABLES)

    def begin_load(self, meta: FileMeta) -> int:
        """Open a load's transaction; DuplicateFile at once for a file committed before."""
        return self._loads.begin(meta)

    def add_shard(self, batch_id: int, result: ShardResult) -> bool:
        """Insert one shard's records into the open load (a repeated shard is ignored: False)."""
        return self._loads.add_shard(batch_id, result.shard_no, result.lines, result.valid, result.invalid)

    def commit_load(self, batch_id: int, *, shard_count: int, max_error_ratio: float,
                    triggers: tuple[str, ...], trace_id: str | None = None,
                    sha256: str | None = None) -> LoadResult:
        """Check the whole file, then commit its batch, records, errors, triggers and ledger row."""
        return self._loads.commit(batch_id, shard_count=shard_count, max_error_ratio=max_error_ratio,
                                  triggers=triggers, trace_id=trace_id, sha256=sha256)

    def abort_load(self, batch_id: int) -> None:
        """Roll an open load back (nothing of it stays); a load not open is ignored."""
        self._loads.abort(batch_id)

    def record_rejection(self, *, daemon: str, name: str, reason: str, error_class: str,
                         sha256: str | None = None) -> None:
        """Keep why a daemon refused a file whole (it went to quarantine)."""
        with self.cursor() as cur:
            cur.execute(
                "INSERT INTO file_rejections (sha256, daemon, name, reason, error_class) VALUES (?, ?, ?, ?, ?)",
                [sha256, daemon, name, reason, error_class],
            )

    def load_progress(self) -> list[dict[str, Any]]:
        """Open loads and how far they got (for progress bars)."""
        return self._loads.progress()

    def load_outcome(self, sha256: str, since: datetime) -> dict[str, Any] | None:
        """How the file with this ciphertext hash ended: committed, or rejected after ``since``."""
        with self.cursor() as cur:
            row = cur.execute(
                "SELECT b.batch_id, b.records, b.valid_records, b.error_records FROM files f "
                "JOIN batches b USING (batch_id) WHERE f.sha256 = ?", [sha256]).fetchone()
            if row:
                return {"status": "loaded", "batch_id": row[0], "records": row[1], "valid": row[2], "errors": row[3]}
            row = cur.execute(
                "SELECT reason, error_class FROM file_rejections WHERE sha256 = ? AND rejected_at >= ? "
                "ORDER BY rejected_at DESC LIMIT 1", [sha256, since]).fetchone()
        if row:
            return {"status": "rejected", "reason": row[0], "error_class": row[1]}
        return None

    def committed_file(self, sha256: str) -> tuple[int, str] | None:
        """(batch id, file name) of the committed load of this ciphertext, if any."""
        with self.cursor() as cur:
            row = cur.execute("SELECT batch_id, name FROM files WHERE sha256 = ?", [sha256]).fetchone()
        return (row[0], row[1]) if row else None

    def _abort_open_loads(self) -> None:
        """At close: abort every open load (their daemons redo them)."""
        for batch_id in self._loads.open_batches():
            self._loads.abort(batch_id)


__all__ = ["LoadService"]
