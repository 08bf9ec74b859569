"""The response handling job: complete the requests sent by file with a partner's Response batch.

DOMAIN.md §2 step 5-6. A Response file loaded by Load / Provisioning / From Generic Format
triggers this job for its batch (engine/loading/pipeline.py DAEMON_TYPES). In a fixed number of
set-based statements over the whole batch:

1. every response record is matched to its network request by ``requestId`` (the request id,
   with ``-r<n>`` after an operator resubmit: operator.py) and judged. A record is an error
   of the batch (``batch_errors``, ``source = 'response_handling'``, with its reason) when its
   requestId repeats an earlier line, names no request, names a request not sent by file, or
   answers an earlier sending of it; when its actionItemNumber is not the request's; or when
   the request is not awaiting an answer (not NS/NA);
2. the others finish their request: isSuccess true → NC (with the partner's externalRef),
   false → NR with the partner's errorCode/errorText; each with a history row naming the batch
   and line; the record itself is kept as the request's ``response`` (with the batch id);
3. the completion effects are those of the OCS adaptor, from the same built-in registry
   (engine/transmission/builtins.py; engine/extract/effects.py for ADD_INSURANCE): the
   insurance service ACTIVE with its policy reference (FAILED on NR), the actioned item
   COMPLETE/ERROR, the workflow event, and the subscription's status only as documented there
   (an insurance answer never connects a subscription, and never un-connects one);
4. the batch is PROCESSED and its trigger DONE.

A second run of the same batch changes nothing: the requests it finished carry its batch id in
their ``response`` and are counted ``already_applied``, and its errors are replaced, not doubled.
"""

from __future__ import annotations

from typing import Mapping

import duckdb

from engine.transmission.builtins import builtin_effects
from engine.transmission.effects import DONE_COLUMNS, Done, effect_key_sql
from engine.transmission.effects import statements as effect_statements
from engine.transmission.sql import NEW_KEY_NOTE, history_base_sql, run, statements
from engine.jobs import JobContext, JobResult, JobSpec, batch_param
from jobs.helpers import drop_temp_tables, mark_batch_processed, require_batch

JOB_NAME = "response_handling"
RESPONSE_BATCH_TYPE = "Response"
_TEMPS = ("_rh_resp", "_tx_done")

_JUDGE = f"""
CREATE OR REPLACE TEMP TABLE _rh_resp AS
WITH resp AS (
    SELECT s.line_no, s.shard_no, s.requestId, s.actionItemNumber, s.isSuccess, s.commandSentTimeStamp,
           s.errorCode, s.errorText, s.externalRef,
           TRY_CAST(regexp_extract(s.requestId, '^([0-9]+)(-r[0-9]+)?$', 1) AS BIGINT) AS request_id,
           coalesce(TRY_CAST(regexp_extract(s.requestId, '^[0-9]+-r([0-9]+)$', 1) AS BIGINT), 0) AS generation,
           min(s.line_no) OVER (PARTITION BY s.requestId) AS first_line
    FROM stage_responses s WHERE s.batch_id = $batch
), gen AS (
    SELECT h.request_id, count(*) FILTER (WHERE h.note LIKE '{NEW_KEY_NOTE}%') AS current_generation
    FROM network_request_history h WHERE h.request_id IN (SELECT request_id FROM resp) GROUP BY h.request_id
), judged AS (
    SELECT resp.*, r.status AS request_status,
           TRY_CAST(json_extract_string(r.response, '$.batch') AS BIGINT) AS answered_by,
           CASE
               WHEN resp.line_no > resp.first_line
                   THEN 'requestId: ' || resp.requestId || ' repeats line ' || resp.first_line
               WHEN r.request_id IS NULL
                   THEN 'requestId: ' || resp.requestId || ' is not a network request of this engine'
               WHEN r.file_id IS NULL OR r.target NOT LIKE 'FILE:%'
                   THEN 'requestId: ' || resp.requestId || ' was not sent by file (target ' || r.target
                        || ', status ' || r.status || ')'
               WHEN r.action_item_number IS DISTINCT FROM resp.actionItemNumber
                   THEN 'actionItemNumber: ' || resp.actionItemNumber || ' is not the actioned item of request '
                        || r.request_id || ' (' || coalesce(r.action_item_number::VARCHAR, 'none') || ')'
               WHEN TRY_CAST(json_extract_string(r.response, '$.batch') AS BIGINT) = $batch THEN NULL
               WHEN resp.generation <> coalesce(g.current_generation, 0)
                   THEN 'requestId: ' || resp.requestId || ' answers an earlier sending of request ' || r.request_id
                        || ' (it was resubmitted since)'
               WHEN r.status NOT IN ('NS', 'NA')
                   THEN 'requestId: ' || resp.requestId || ' is ' || r.status || ', not awaiting a response'
                        || coalesce(' (answered by batch ' || json_extract_string(r.response, '$.batch') || ')', '')
           END AS reason
    FROM resp
    LEFT JOIN network_requests r ON r.request_id = resp.request_id
    LEFT JOIN gen g ON g.request_id = resp.request_id
)
SELECT *, reason IS NULL AND coalesce(answered_by = $batch, false) AS already FROM judged
"""

_ERRORS = """
DELETE FROM batch_errors WHERE batch_id = $batch AND source = 'response_handling';
INSERT INTO batch_errors (batch_id, line_no, shard_no, record_key, raw, reasons, source)
SELECT $batch, line_no, shard_no, requestId,
       json_object('requestId', requestId, 'actionItemNumber', actionItemNumber, 'isSuccess', isSuccess,
                   'commandSentTimeStamp', strftime(timezone('UTC', commandSentTimeStamp), '%Y-%m-%dT%H:%M:%S.%fZ'),
                   'errorCode', errorCode, 'errorText', errorText, 'externalRef', externalRef)::VARCHAR,
       [reason], 'response_handling'
FROM _rh_resp WHERE reason IS NOT NULL
"""

# The requests this run finishes, in the shape the effects expect (engine/transmission/effects.py).
_DONE = """
CREATE OR REPLACE TEMP TABLE _tx_done AS
SELECT x.request_id, CASE WHEN x.isSuccess THEN 'NC' ELSE 'NR' END AS status, r.subscription_id, r.target,
       r.command, r.action_item_number, x.externalRef AS external_ref, x.errorCode AS error_code,
       x.errorText AS error_text, $now AS completed_at, a.event_id, e.event_type, {effect_key} AS effect_key,
       x.line_no, x.commandSentTimeStamp AS command_sent_at
FROM _rh_resp x
JOIN network_requests r ON r.request_id = x.request_id
LEFT JOIN actioned_items a ON a.action_item_number = r.action_item_number
LEFT JOIN workflow_events e ON e.event_id = a.event_id
WHERE x.reason IS NULL AND NOT x.already
"""

_FINISH = f"""
INSERT INTO network_request_history (request_id, seq, status, changed_at, actor, note)
SELECT d.request_id, b.base + 1, d.status, $now, '{JOB_NAME}',
       'response in batch ' || $batch || ' line ' || d.line_no
       || CASE WHEN d.status = 'NR' THEN ': ' || coalesce(d.error_code, '?') || coalesce(' ' || d.error_text, '')
               ELSE coalesce(' (ref ' || d.external_ref || ')', '') END
FROM _tx_done d JOIN ({history_base_sql('_tx_done')}) b USING (request_id);
UPDATE network_requests r SET status = d.status, completed_at = d.completed_at,
    response = json_object('batch', $batch, 'line', d.line_no, 'isSuccess', d.status = 'NC',
                           'commandSentTimeStamp', strftime(timezone('UTC', d.command_sent_at), '%Y-%m-%dT%H:%M:%S.%fZ'),
                           'errorCode', d.error_code, 'errorText', d.error_text, 'externalRef', d.external_ref),
    error_code = d.error_code, error_text = d.error_text, external_ref = coalesce(d.external_ref, r.external_ref),
    claimed_by = NULL, lease_until = NULL, updated_at = $now
FROM _tx_done d WHERE r.request_id = d.request_id
"""


def handle_responses(con: duckdb.DuckDBPyConnection, params: Mapping[str, str], ctx: JobContext) -> JobResult:
    """Finish the requests answered by the Response batch ``params['batch']``."""
    batch_id = batch_param(params)
    require_batch(con, batch_id, RESPONSE_BATCH_TYPE, JOB_NAME)
    values = {"batch": batch_id, "now": ctx.now}
    effects = builtin_effects()
    try:
        run(con, statements(_JUDGE, values))
        read, errors, already = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE reason IS NOT NULL), count(*) FILTER (WHERE already) FROM _rh_resp"
        ).fetchone()
        run(con, statements(_ERRORS, values))
        run(con, statements(_DONE.replace("{effect_key}", effect_key_sql("r", effects)), values))
        done = [Done(*row) for row in con.execute(f"SELECT {DONE_COLUMNS} FROM _tx_done").fetchall()]
        if done:
            run(con, statements(_FINISH, values))
            run(con, effect_statements(con, done, ctx.now, effects))
        mark_batch_processed(con, batch_id, JOB_NAME, ctx.execution_id)
    finally:
        drop_temp_tables(con, _TEMPS)
    completed = sum(1 for d in done if d.status == "NC")
    return JobResult(read=read, ok=read - errors, error=errors, batch_id=batch_id,
                     details={"completed": completed, "rejected": len(done) - completed, "already_applied": already})



RESPONSE_HANDLING = JobSpec(
    JOB_NAME,
    handle_responses,
    "Complete the requests sent by file with a Response batch: NC/NR with history, the insurance service, "
    "actioned item and workflow effects; unknown or unexpected responses become batch errors",
    params=("batch",),
    required=("batch",),
)

__all__ = ["JOB_NAME", "RESPONSE_HANDLING", "handle_responses"]
