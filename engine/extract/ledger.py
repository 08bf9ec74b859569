"""The Store side of the Extract daemons: reserve a file's requests, rebuild its records, seal it.

Runs in the Store process on the cursor it is given (ARCHITECTURE.md rule 2).

**Never the same request in two files — commit first, then write.** One transaction
(:func:`reserve`) picks the requests of a file, marks them NS (history row, ``file_id``,
``sent_at``) and writes the files-ledger row (direction Outbound) and an Outbound batch row,
with the file's name and identifier fixed but its ``sha256`` still ``pending:<file_id>``. Only
then does the daemon write the file (atomically), and :func:`seal` records its hash.
If the daemon dies in between, the requests are NS in exactly one reserved file and nothing
else can pick them; on restart the daemon finds the unsealed row (:func:`unsealed`) and writes
that same file again from the requests carrying its ``file_id`` (:func:`records`), or, if the
renamed file is already there, just seals it. The other order (write, then commit) would leave
an orphan file after a crash, which a partner's transfer might already have taken while its
requests, still UN, went out again in the next file.

**Order** (DOMAIN.md §2), as the transmission queue keeps it: per subscription and target,
only the head (lowest-sequence request not NC) may go, and only when it is UN and due. A file
carries at most one request of a subscription; the next one goes in a later file, once the
partner's response made the head NC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import duckdb
import pyarrow as pa

from engine.daemons import EXTRACT, FILE_TARGET_PREFIX, Daemon, of_kind
from engine.transmission.model import OPEN_STATUSES
from engine.transmission.sql import NEW_KEY_NOTE, history_base_sql, literal, script, statements


def _commands_filter(daemon: Daemon) -> str:
    """SQL over ``network_requests o``: which FILE: requests ``daemon`` writes, by command
    (engine/daemons.py; ``serving_daemon`` routes the same way in Python)."""
    if daemon.commands:
        return f"o.command IN ({', '.join(literal(c) for c in daemon.commands)})"
    others = [c for d in of_kind(EXTRACT) for c in d.commands]
    return f"o.command NOT IN ({', '.join(literal(c) for c in others)})" if others else "TRUE"


#: Extract daemon (config name) -> (interfaceType of its files, SQL: which FILE: requests it takes)
EXTRACT_DAEMONS: dict[str, tuple[str, str]] = {d.config_name: (d.writes, _commands_filter(d))
                                               for d in of_kind(EXTRACT)}
PENDING_SHA = "pending:"
_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)


@dataclass(frozen=True)
class ReservedFile:
    """One outbound file whose requests are committed NS and whose bytes may not exist yet."""

    file_id: int
    batch_id: int
    daemon: str
    interface_type: str
    partner: str
    identifier: str
    name: str
    record_count: int
    extract_time: datetime


# Why a record could not be built, per interface type: such a head goes to PE (an operator can
# fix its data and resubmit it) instead of breaking the whole file or blocking every poll.
_UNBUILDABLE = {
    "Request": """CASE WHEN o.action_item_number IS NULL THEN 'no actioned item'
                       WHEN o.subscription_id IS NULL THEN 'no subscription'
                       WHEN s.subscription_id IS NULL THEN 'subscription ' || o.subscription_id || ' does not exist'
                  END""",
    "Bill Cycle Change Request": """CASE WHEN o.action_item_number IS NULL THEN 'no actioned item'
                       WHEN s.subscription_id IS NULL THEN 'subscription ' || coalesce(o.subscription_id, '?') || ' does not exist'
                       WHEN c.action_item_number IS NULL AND json_extract(o.attributes, '$.newBillCycleDay') IS NULL
                            THEN 'no bill cycle change for actioned item ' || o.action_item_number
                  END""",
}

_RESERVE = (
    # 1. heads of every FILE target's open requests, per (target, subscription); this daemon's
    #    due UN heads, at most $max per target (oldest first)
    f"""
    CREATE OR REPLACE TEMP TABLE _ex_heads AS
    WITH open AS (
        SELECT request_id, target, coalesce(subscription_id, '#' || request_id::VARCHAR) AS chain_key, sequence
        FROM network_requests WHERE target LIKE '{FILE_TARGET_PREFIX}%' AND status IN ({_OPEN})
    )
    SELECT arg_min(request_id, sequence) AS request_id FROM open GROUP BY target, chain_key;
    CREATE OR REPLACE TEMP TABLE _ex_cand AS
    SELECT o.request_id, o.target, {{unbuildable}} AS unbuildable,
           row_number() OVER (PARTITION BY o.target ORDER BY o.request_id) AS n
    FROM _ex_heads h JOIN network_requests o ON o.request_id = h.request_id
    LEFT JOIN subscriptions s ON s.subscription_id = o.subscription_id
    LEFT JOIN bill_cycle_changes c
           ON c.action_item_number = coalesce(TRY_CAST(json_extract_string(o.attributes, '$.actionItemNumber') AS BIGINT), o.action_item_number)
    WHERE o.status = 'UN' AND (o.not_before IS NULL OR o.not_before <= $now) AND {{commands}};
    DELETE FROM _ex_cand WHERE n > $max
    """,
    # 2. heads whose record cannot be built: PE with the reason (history row, actioned item ERROR)
    f"""
    INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
    SELECT c.request_id, b.base + 1, 'PE', $now, $actor, 'cannot be written to a file: ' || c.unbuildable
    FROM _ex_cand c JOIN ({history_base_sql('_ex_cand')}) b USING (request_id) WHERE c.unbuildable IS NOT NULL;
    UPDATE network_requests r SET status = 'PE', error_text = 'cannot be written to a file: ' || c.unbuildable,
        completed_at = $now, updated_at = $now
    FROM _ex_cand c WHERE r.request_id = c.request_id AND c.unbuildable IS NOT NULL;
    UPDATE actioned_items a SET status = 'ERROR', error = 'request ' || r.request_id || ' PE: ' || r.error_text,
        updated_at = $now
    FROM network_requests r JOIN _ex_cand c ON c.request_id = r.request_id AND c.unbuildable IS NOT NULL
    WHERE a.action_item_number = r.action_item_number;
    DELETE FROM _ex_cand WHERE unbuildable IS NOT NULL
    """,
    # 3. one file (ledger row + Outbound batch) per target, its name fixed now, its hash pending
    f"""
    CREATE OR REPLACE TEMP TABLE _ex_files AS
    SELECT target, records, file_id, batch_id, partner,
           left(regexp_replace(partner, '[^A-Za-z0-9._-]', '_', 'g'), 40) || '-' || strftime($now, '%Y%m%d')
               || '-' || file_id AS identifier
    FROM (SELECT target, records, nextval('seq_file') AS file_id, nextval('seq_batch') AS batch_id,
                 substr(target, {len(FILE_TARGET_PREFIX) + 1}) AS partner
          FROM (SELECT target, count(*) AS records FROM _ex_cand GROUP BY target));
    INSERT INTO files (file_id, sha256, interface_type, identifier, direction, daemon, name, size_bytes,
                       record_count, batch_id, committed_at)
    SELECT file_id, '{PENDING_SHA}' || file_id, $interface_type, identifier, 'Outbound', $daemon,
           identifier || '.jsonl.age', 0, records, batch_id, $now
    FROM _ex_files;
    INSERT INTO batches (batch_id, file_id, category, batch_type, direction, stage, stage_at, records,
                         valid_records, error_records)
    SELECT batch_id, file_id, 'Provisioning', $interface_type, 'Outbound', 'PROCESSING', $now, records, records, 0
    FROM _ex_files
    """,
    # 4. the requests NS in that file, each with its history row
    f"""
    INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
    SELECT c.request_id, b.base + 1, 'NS', $now, $actor,
           'written to outbound file ' || f.identifier || '.jsonl.age (file ' || f.file_id || ')'
    FROM _ex_cand c JOIN _ex_files f USING (target) JOIN ({history_base_sql('_ex_cand')}) b USING (request_id);
    UPDATE network_requests r SET status = 'NS', file_id = f.file_id, sent_at = $now, attempts = r.attempts + 1,
        claimed_by = NULL, lease_until = NULL, updated_at = $now
    FROM _ex_cand c JOIN _ex_files f USING (target) WHERE r.request_id = c.request_id
    """,
)

_FILE_COLUMNS = f"""f.file_id, f.batch_id, f.daemon, f.interface_type, substr(r.target, {len(FILE_TARGET_PREFIX) + 1})
                    AS partner, f.identifier, f.name, f.record_count, f.committed_at"""


def _files(cur) -> list[ReservedFile]:
    return [ReservedFile(*row) for row in cur.fetchall()]


def reserve(con: duckdb.DuckDBPyConnection, *, daemon: str, max_records: int, now: datetime,
            actor: str) -> list[ReservedFile]:
    """Commit, in one transaction, the next file of every partner of ``daemon``: its requests NS
    with ``file_id``/``sent_at``/history, its ledger and batch rows (hash pending). Requests
    whose record cannot be built go to PE with the reason instead."""
    interface_type, commands = EXTRACT_DAEMONS[daemon]
    params = {"now": now, "max": int(max_records), "actor": actor, "daemon": daemon,
              "interface_type": interface_type}
    templates = [t.replace("{unbuildable}", _UNBUILDABLE[interface_type]).replace("{commands}", commands)
                 for t in _RESERVE]
    rows = script(con, statements(templates, params), what=f"reserve the next {interface_type} files",
                  tail="SELECT file_id FROM _ex_files ORDER BY file_id").fetchall()
    ids = [r[0] for r in rows]
    return _by_ids(con, ids)


def _by_ids(con: duckdb.DuckDBPyConnection, ids: list[int]) -> list[ReservedFile]:
    if not ids:
        return []
    cur = con.execute(f"""
        SELECT {_FILE_COLUMNS} FROM files f
        JOIN (SELECT file_id, any_value(target) AS target FROM network_requests
              WHERE file_id IN ({', '.join(literal(i) for i in ids)}) GROUP BY file_id) r USING (file_id)
        ORDER BY f.file_id""")
    return _files(cur)


def unsealed(con: duckdb.DuckDBPyConnection, daemon: str) -> list[ReservedFile]:
    """Files of ``daemon`` committed but not yet sealed (being written, or left by a crash)."""
    ids = [r[0] for r in con.execute(
        f"SELECT file_id FROM files WHERE direction = 'Outbound' AND daemon = ? AND sha256 LIKE '{PENDING_SHA}%'",
        [daemon]).fetchall()]
    return _by_ids(con, ids)


def seal(con: duckdb.DuckDBPyConnection, file_id: int, *, sha256: str, size_bytes: int, now: datetime) -> bool:
    """Record the written file's hash and size; its batch is PROCESSED. Idempotent."""
    sql = statements(f"""
        UPDATE files SET sha256 = $sha, size_bytes = $size WHERE file_id = $id AND sha256 LIKE '{PENDING_SHA}%';
        UPDATE batches SET stage = 'PROCESSED', stage_at = $now
        WHERE file_id = $id AND direction = 'Outbound' AND stage = 'PROCESSING'
    """, {"sha": sha256, "size": int(size_bytes), "id": int(file_id), "now": now})
    tail = f"SELECT count(*) FROM files WHERE file_id = {int(file_id)} AND sha256 = {literal(sha256)}"
    return script(con, sql, what=f"seal outbound file {file_id}", tail=tail).fetchall()[0][0] > 0


# -- the records of a file, typed as its record type's Arrow schema ----------------------------------

_BCC_ITEM = "coalesce(TRY_CAST(json_extract_string(r.attributes, '$.actionItemNumber') AS BIGINT), r.action_item_number)"

# requestId on the wire: the request id, with the operator's resubmit generation (operator.py)
_REQUEST_ID = f"""r.request_id::VARCHAR || coalesce('-r' || nullif((SELECT count(*) FROM network_request_history h
    WHERE h.request_id = r.request_id AND h.note LIKE '{NEW_KEY_NOTE}%'), 0), '')"""

_RECORDS = {
    "Request": f"""
        SELECT {_REQUEST_ID} AS requestId, r.action_item_number AS actionItemNumber,
               r.subscription_id AS subscriptionId,
               coalesce(s.account_id, json_extract_string(r.attributes, '$.accountId')) AS accountId,
               coalesce(s.agreement_id, json_extract_string(r.attributes, '$.agreementId')) AS agreementId,
               r.command, r.sequence,
               list_filter(list_transform(json_keys(r.attributes),
                                          lambda k: {{'name': k, 'value': json_extract_string(r.attributes, '$."' || k || '"')}}),
                           lambda a: a.value IS NOT NULL) AS commandAttributes
        FROM network_requests r LEFT JOIN subscriptions s ON s.subscription_id = r.subscription_id
        WHERE r.file_id = $file ORDER BY r.request_id
    """,
    # The bill-cycle-change job writes the record itself as the request's attributes
    # (jobs/bill_cycle_create.py: actionItemNumber is the change's, i.e. the Openet item's, number);
    # the tables fill in whatever a request made some other way does not carry.
    "Bill Cycle Change Request": f"""
        SELECT {_BCC_ITEM} AS actionItemNumber, r.subscription_id AS subscriptionId,
               coalesce(json_extract_string(r.attributes, '$.msisdn'), s.msisdn) AS msisdn,
               coalesce(TRY_CAST(json_extract_string(r.attributes, '$.oldBillCycleDay') AS BIGINT), c.old_bill_cycle_day)
                   AS oldBillCycleDay,
               coalesce(TRY_CAST(json_extract_string(r.attributes, '$.newBillCycleDay') AS BIGINT), c.new_bill_cycle_day)
                   AS newBillCycleDay,
               coalesce(TRY_CAST(json_extract_string(r.attributes, '$.effectiveDateTime') AS TIMESTAMPTZ), c.effective_at)
                   AS effectiveDateTime,
               coalesce(TRY_CAST(json_extract(r.attributes, '$.sharedGroups')
                                 AS STRUCT(sharedGroupId VARCHAR, ocsSharedGroupId VARCHAR)[]),
                        (SELECT list({{'sharedGroupId': g.shared_group_id, 'ocsSharedGroupId': g.ocs_shared_group_id}}
                                     ORDER BY g.shared_group_id)
                         FROM shared_groups g
                         WHERE g.owner_subscription_id = r.subscription_id AND g.ocs_shared_group_id IS NOT NULL), [])
                   AS sharedGroups
        FROM network_requests r
        LEFT JOIN subscriptions s ON s.subscription_id = r.subscription_id
        LEFT JOIN bill_cycle_changes c ON c.action_item_number = {_BCC_ITEM}
        WHERE r.file_id = $file ORDER BY r.request_id
    """,
}


def records(con: duckdb.DuckDBPyConnection, file_id: int) -> pa.Table:
    """The records of a reserved file (the requests carrying its ``file_id``), as an Arrow table
    of its record type's schema: the same content however often it is rebuilt."""
    from engine.generic.record_types import record_type

    rows = con.execute("SELECT interface_type FROM files WHERE file_id = ? AND direction = 'Outbound'",
                       [file_id]).fetchall()
    row = rows[0] if rows else None
    if row is None:
        raise KeyError(f"no outbound file {file_id}")
    schema = record_type(row[0]).arrow_schema
    table = con.sql(_RECORDS[row[0]].replace("$file", literal(int(file_id)))).to_arrow_table()
    return table.select(schema.names).cast(schema)


__all__ = ["EXTRACT_DAEMONS", "FILE_TARGET_PREFIX", "PENDING_SHA", "ReservedFile", "records", "reserve",
           "seal", "unsealed"]
