"""Loading one inbound file as one batch, in one transaction (exactly once).

A load opens a transaction on its own cursor, receives the file's shards (Arrow tables of
valid and invalid records, each shard at most once), and commits the batch, its records,
its errors, its trigger and the files-ledger row together. Anything that dies before the
commit leaves nothing behind: DuckDB discards the open transaction, and the daemon redoes
the load from scratch. The ledger's UNIQUE keys make a second commit of the same file
impossible even if two loads of it race.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from engine.errors import DuplicateFile, FormatError, StoreError, TooManyErrors

DIRECTION_INBOUND = "Inbound"


@dataclass(frozen=True)
class FileMeta:
    """What the daemon knows of an inbound file before it is read."""

    sha256: str  # may be "" at begin (hashing runs beside the load); required at commit
    name: str
    size_bytes: int
    daemon: str
    interface_type: str
    identifier: str
    record_count: int  # the header's recordCount
    category: str = "Provisioning"


@dataclass(frozen=True)
class LoadResult:
    batch_id: int
    file_id: int
    records: int
    valid: int
    errors: int
    triggers: tuple[str, ...]


@dataclass
class _OpenLoad:
    cursor: duckdb.DuckDBPyConnection
    meta: FileMeta
    batch_id: int
    stage_table: str
    lines: dict[int, int] = field(default_factory=dict)  # shard_no -> lines it owned
    records: int = 0
    valid: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def find_committed(con: duckdb.DuckDBPyConnection, sha256: str, interface_type: str, identifier: str):
    """The committed load this file would duplicate, or None: (file_id, batch_id, name, why)."""
    row = con.execute(
        """
        SELECT file_id, batch_id, name, committed_at,
               CASE WHEN sha256 = ? THEN 'the same file' ELSE 'the same interfaceType and identifier' END
        FROM files
        WHERE direction = 'Inbound' AND (sha256 = ? OR (interface_type = ? AND identifier = ?))
        ORDER BY (sha256 = ?) DESC LIMIT 1
        """,
        [sha256, sha256, interface_type, identifier, sha256],
    ).fetchone()
    return row


def duplicate_error(meta: FileMeta, row) -> DuplicateFile:
    file_id, batch_id, name, committed_at, why = row
    return DuplicateFile(
        f"duplicate: {why} was loaded before as batch {batch_id} (file {name}, {committed_at:%Y-%m-%d %H:%M:%S %Z})",
        file=meta.name,
        hint="nothing was loaded; send a new identifier if this is new data",
    )


class LoadTransactions:
    """Open loads of the Store process, keyed by batch id. Thread-safe."""

    def __init__(self, con: duckdb.DuckDBPyConnection, stage_tables: dict[str, str]):
        self._con = con
        self._stage_tables = stage_tables  # interfaceType -> staging table
        self._open: dict[int, _OpenLoad] = {}
        self._lock = threading.Lock()

    def begin(self, meta: FileMeta) -> int:
        """Start a load; refuse at once a file already committed. Returns the batch id."""
        if meta.interface_type not in self._stage_tables:
            raise FormatError(f"no staging table for interfaceType {meta.interface_type!r}", file=meta.name)
        with self._lock:
            dup = find_committed(self._con, meta.sha256, meta.interface_type, meta.identifier)
            if dup:
                raise duplicate_error(meta, dup)
            batch_id = self._con.execute("SELECT nextval('seq_batch')").fetchone()[0]
            cur = self._con.cursor()
        cur.execute("BEGIN TRANSACTION")
        self._open[batch_id] = _OpenLoad(cur, meta, batch_id, self._stage_tables[meta.interface_type])
        return batch_id

    def _get(self, batch_id: int) -> _OpenLoad:
        load = self._open.get(batch_id)
        if load is None:
            # The Store restarted (or the load was aborted): the daemon must start again.
            raise StoreError(f"no open load for batch {batch_id}", hint="the load is redone from scratch")
        return load

    def add_shard(self, batch_id: int, shard_no: int, lines: int, valid: pa.Table, invalid: pa.Table) -> bool:
        """Insert one shard's records into the open transaction. A repeated shard is ignored."""
        load = self._get(batch_id)
        with load.lock:
            if shard_no in load.lines:
                return False
            cur = load.cursor
            cur.register("shard_valid", valid)
            cur.register("shard_invalid", invalid)
            try:
                cur.execute(
                    f"INSERT INTO {load.stage_table} BY NAME "
                    "SELECT ?::BIGINT AS batch_id, ?::INTEGER AS shard_no, * FROM shard_valid",
                    [batch_id, shard_no],
                )
                if invalid.num_rows:
                    cur.execute(
                        "INSERT INTO batch_errors (batch_id, line_no, shard_no, raw, reasons, source) "
                        "SELECT ?, line_no, ?, raw, reasons, 'load' FROM shard_invalid",
                        [batch_id, shard_no],
                    )
            finally:
                cur.unregister("shard_valid")
                cur.unregister("shard_invalid")
            load.lines[shard_no] = lines
            load.records += valid.num_rows + invalid.num_rows
            load.valid += valid.num_rows
            load.errors += invalid.num_rows
            return True

    def commit(
        self,
        batch_id: int,
        *,
        shard_count: int,
        max_error_ratio: float,
        triggers: tuple[str, ...],
        trace_id: str | None = None,
        sha256: str | None = None,
    ) -> LoadResult:
        """Check the whole file, then commit batch, records, errors, trigger and ledger row."""
        load = self._get(batch_id)
        if sha256:
            load.meta = dataclasses.replace(load.meta, sha256=sha256)
        meta = load.meta
        if not meta.sha256:
            self.abort(batch_id)
            raise StoreError("a load cannot commit without the file's SHA-256", file=meta.name)
        try:
            with load.lock:
                cur = load.cursor
                missing = sorted(set(range(shard_count)) - set(load.lines))
                if missing:
                    raise StoreError(f"shards {missing} never arrived", file=meta.name)
                if load.records != meta.record_count:
                    raise FormatError(
                        f"header recordCount is {meta.record_count:,} but the file has {load.records:,} records",
                        file=meta.name,
                        line=1,
                        field="recordCount",
                        hint="the file is incomplete or its header is wrong; ask the sender to re-send it",
                    )
                # Before the error count: a copy of this file committed while this load ran (a
                # restarted daemon reloading what its predecessor's coordinator call finished)
                # has every key "duplicate" and must be refused as the duplicate file it is.
                dup = find_committed(cur, meta.sha256, meta.interface_type, meta.identifier)
                if dup:
                    raise duplicate_error(meta, dup)
                self._renumber_lines(cur, load, shard_count)
                errors = load.errors + self._reject_duplicate_keys(cur, load)
                valid = load.records - errors
                if load.records and errors / load.records > max_error_ratio:
                    raise TooManyErrors(
                        f"{errors:,} of {load.records:,} records are invalid "
                        f"({errors / load.records:.1%} > the {max_error_ratio:.0%} limit); the whole file is rejected",
                        file=meta.name,
                        hint="fix the file at its source and send it again; `cmpctl validate` lists every bad record",
                    )
                file_id = cur.execute("SELECT nextval('seq_file')").fetchone()[0]
                try:
                    self._write_batch_rows(cur, load, file_id, valid, errors, triggers, trace_id)
                    cur.execute("COMMIT")
                except duckdb.ConstraintException:
                    # Another load of the same file committed first (two copies raced).
                    dup = find_committed(self._con.cursor(), meta.sha256, meta.interface_type, meta.identifier)
                    raise (duplicate_error(meta, dup) if dup else StoreError("ledger conflict", file=meta.name)) from None
                return LoadResult(batch_id, file_id, load.records, valid, errors, triggers)
        except BaseException:
            self.abort(batch_id)
            raise
        finally:
            self._forget(batch_id)

    @staticmethod
    def _write_batch_rows(cur, load: _OpenLoad, file_id: int, valid: int, errors: int,
                          triggers: tuple[str, ...], trace_id: str | None) -> None:
        meta = load.meta
        cur.execute(
            "INSERT INTO batches (batch_id, file_id, category, batch_type, direction, stage, "
            "records, valid_records, error_records, trace_id) VALUES (?, ?, ?, ?, 'Inbound', 'LOADED', ?, ?, ?, ?)",
            [load.batch_id, file_id, meta.category, meta.interface_type, load.records, valid, errors, trace_id],
        )
        cur.execute(
            "INSERT INTO files (file_id, sha256, interface_type, identifier, direction, daemon, name, "
            "size_bytes, record_count, batch_id) VALUES (?, ?, ?, ?, 'Inbound', ?, ?, ?, ?, ?)",
            [file_id, meta.sha256, meta.interface_type, meta.identifier, meta.daemon, meta.name,
             meta.size_bytes, meta.record_count, load.batch_id],
        )
        for job in triggers:
            cur.execute("INSERT INTO batch_triggers (batch_id, job) VALUES (?, ?)", [load.batch_id, job])

    def abort(self, batch_id: int) -> None:
        load = self._open.get(batch_id)
        if load is None:
            return
        try:
            load.cursor.execute("ROLLBACK")
        except duckdb.Error:
            pass  # already rolled back or the transaction failed
        self._forget(batch_id)

    def _forget(self, batch_id: int) -> None:
        load = self._open.pop(batch_id, None)
        if load is not None:
            load.cursor.close()

    def open_batches(self) -> list[int]:
        return sorted(self._open)

    def progress(self) -> list[dict]:
        """Open loads and how far they got (for progress bars)."""
        return [
            {"batch_id": b, "name": l.meta.name, "sha256": l.meta.sha256, "records": l.records,
             "record_count": l.meta.record_count, "shards_done": len(l.lines)}
            for b, l in list(self._open.items())
        ]

    # -- whole-file checks ---------------------------------------------------------------------

    def _renumber_lines(self, cur, load: _OpenLoad, shard_count: int) -> None:
        """Shards number their lines from 1 (shard 0 counts the header as line 1); shift them
        to file line numbers now that every shard's line count is known."""
        offsets, total = [], 0
        for shard_no in range(shard_count):
            offsets.append((shard_no, total))
            total += load.lines[shard_no]
        shifted = [(s, o) for s, o in offsets if o]
        if not shifted:
            return
        cur.execute("CREATE OR REPLACE TEMP TABLE shard_offsets (shard_no INTEGER, line_offset BIGINT)")
        cur.executemany("INSERT INTO shard_offsets VALUES (?, ?)", shifted)
        for table in (load.stage_table, "batch_errors"):
            cur.execute(
                f"UPDATE {table} SET line_no = line_no + o.line_offset FROM shard_offsets o "
                f"WHERE {table}.batch_id = ? AND {table}.shard_no = o.shard_no",
                [load.batch_id],
            )
        cur.execute("DROP TABLE shard_offsets")

    def _reject_duplicate_keys(self, cur, load: _OpenLoad) -> int:
        """A key (orderRef, requestId, …) seen twice in the file, or already loaded by an earlier
        batch, makes the later records invalid. Returns how many were moved to the errors."""
        key = KEY_COLUMNS.get(load.meta.interface_type)
        if key is None:
            return 0
        t = load.stage_table
        # Hash aggregates and a semi-join, not a window over the whole batch: cheap when
        # (as nearly always) nothing repeats.
        cur.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE dup_keys AS
            WITH repeated AS (
                SELECT {key} AS k, min(line_no) AS first_line FROM {t}
                WHERE batch_id = $1 GROUP BY 1 HAVING count(*) > 1
            ),
            prior AS (
                SELECT {key} AS k, min(batch_id) AS batch_id FROM {t}
                WHERE batch_id <> $1 AND {key} IN (SELECT {key} FROM {t} WHERE batch_id = $1)
                GROUP BY 1
            )
            SELECT s.line_no, s.{key} AS k,
                   CASE WHEN p.batch_id IS NOT NULL
                        THEN '{key}: ' || s.{key} || ' was already loaded in batch ' || p.batch_id
                        ELSE '{key}: ' || s.{key} || ' repeats line ' || r.first_line END AS reason
            FROM {t} s
            LEFT JOIN repeated r ON r.k = s.{key}
            LEFT JOIN prior p ON p.k = s.{key}
            WHERE s.batch_id = $1
              AND (p.batch_id IS NOT NULL OR (r.k IS NOT NULL AND s.line_no > r.first_line))
            """,
            [load.batch_id],
        )
        n = cur.execute("SELECT count(*) FROM dup_keys").fetchone()[0]
        if n:
            cur.execute(
                f"""
                INSERT INTO batch_errors (batch_id, line_no, shard_no, record_key, raw, reasons, source)
                SELECT $1, d.line_no, s.shard_no, d.k, to_json(rec)::VARCHAR, [d.reason], 'load'
                FROM dup_keys d JOIN {t} s ON s.batch_id = $1 AND s.line_no = d.line_no,
                     LATERAL (SELECT s.* EXCLUDE (batch_id, shard_no, line_no)) rec
                """,
                [load.batch_id],
            )
            cur.execute(
                f"DELETE FROM {t} WHERE batch_id = $1 AND line_no IN (SELECT line_no FROM dup_keys)",
                [load.batch_id],
            )
        cur.execute("DROP TABLE dup_keys")
        return n


#: The record key that must be unique per file and across files, by interfaceType.
KEY_COLUMNS: dict[str, str] = {"Order": "orderRef"}
