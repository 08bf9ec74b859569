"""The Store's methods for the Extract daemons (engine/extract/ledger.py: commit first, then
write, then seal), in the order an Extract daemon's poll calls them."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from engine.extract import ledger
from engine.extract.ledger import ReservedFile
from engine.store.services.base import StoreBase


class ExtractService(StoreBase):
    def extract_unsealed(self, daemon: str) -> list[ReservedFile]:
        """Files of ``daemon`` reserved but not sealed (a dead predecessor's, or this poll's)."""
        with self.cursor() as cur:
            return ledger.unsealed(cur, daemon)

    def extract_reserve(self, daemon: str, *, max_records: int, now: datetime, actor: str) -> list[ReservedFile]:
        """Commit the next outbound file of every partner of ``daemon`` (requests NS, ledger row)."""
        with self.cursor() as cur:
            return ledger.reserve(cur, daemon=daemon, max_records=max_records, now=now, actor=actor)

    def extract_records(self, file_id: int) -> pa.Table:
        """The records of a reserved file, as the daemon writes them."""
        with self.cursor() as cur:
            return ledger.records(cur, file_id)

    def extract_seal(self, file_id: int, *, sha256: str, size_bytes: int, now: datetime) -> bool:
        """Record that the file's bytes are in place; False if it was sealed already."""
        with self.cursor() as cur:
            return ledger.seal(cur, file_id, sha256=sha256, size_bytes=size_bytes, now=now)


__all__ = ["ExtractService"]
