"""The DuckDB schema of the whole domain, as numbered migrations.

Migrations run in order on every start, each in its own transaction, and are recorded in
``schema_migrations``; re-running is a no-op. Never edit a released migration: add one, with
the next number.

Numbering: versions count 1, 2, 3, ... Migrations 4-7 were first released as 5, 7, 8 and 9 (4
and 6 were never released); each carries that number as ``released_as``, and a database that
recorded them so has its ledger renumbered once, by name, when it is opened
(:func:`engine.store.database.apply_migrations`): nothing runs again. A database opened by
this version is no longer one an engine from before the renumbering can open.

Naming: tables are plural nouns; ids are VARCHAR where partners see them (customer, account,
agreement, subscription) and BIGINT where they are engine counters (batch, request, action
item, execution). Times are TIMESTAMPTZ in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import duckdb


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]
    #: the version it was recorded under before the numbering was closed up (see above)
    released_as: int | None = None


def _sql(text: str) -> Callable[[duckdb.DuckDBPyConnection], None]:
    def run(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(text)

    return run


V1_DOMAIN = """
-- §1 customers and what they own ------------------------------------------------------------
CREATE SEQUENCE seq_customer START 1;
CREATE SEQUENCE seq_account START 1;
CREATE SEQUENCE seq_agreement START 1;
CREATE SEQUENCE seq_subscription START 1;
CREATE SEQUENCE seq_allowance START 1;
CREATE SEQUENCE seq_spend_cap START 1;
CREATE SEQUENCE seq_service START 1;

CREATE TABLE customers (
    customer_id        VARCHAR PRIMARY KEY,          -- 'CUS-<n>'
    customer_type      VARCHAR NOT NULL CHECK (customer_type IN ('INDIVIDUAL', 'ORGANISATION')),
    title              VARCHAR,
    first_name         VARCHAR,
    last_name          VARCHAR,
    date_of_birth      DATE,
    organisation_name  VARCHAR,
    registration_number VARCHAR,
    email              VARCHAR,
    order_ref          VARCHAR NOT NULL UNIQUE,      -- the order that created it (idempotency)
    batch_id           BIGINT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    account_id    VARCHAR PRIMARY KEY,               -- 'ACC-<n>'
    customer_id   VARCHAR NOT NULL,
    payment_type  VARCHAR NOT NULL,
    currency      VARCHAR NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE agreements (
    agreement_id      VARCHAR PRIMARY KEY,           -- 'AGR-<n>'
    account_id        VARCHAR NOT NULL,
    bill_frequency    VARCHAR NOT NULL,
    bill_cycle_day    INTEGER,
    cycle_length_days INTEGER,
    auto_created      BOOLEAN NOT NULL DEFAULT true, -- DOMAIN.md: created with the subscription
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    subscription_id   VARCHAR PRIMARY KEY,           -- 'SUB-<n>'
    customer_id       VARCHAR NOT NULL,
    account_id        VARCHAR NOT NULL,
    agreement_id      VARCHAR NOT NULL,
    subscription_ref  VARCHAR NOT NULL,              -- the order's own reference
    order_ref         VARCHAR NOT NULL,
    pay_mode          VARCHAR NOT NULL CHECK (pay_mode IN ('PREPAID', 'POSTPAID')),
    msisdn            VARCHAR NOT NULL,
    tariff_code       VARCHAR NOT NULL,
    activation        VARCHAR NOT NULL,
    activation_date   DATE,
    status            VARCHAR NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'CONNECTED', 'FAILED', 'CEASED')),
    connection_date   TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_msisdn ON subscriptions (msisdn);

CREATE TABLE allowances (
    allowance_id      VARCHAR PRIMARY KEY,           -- 'ALW-<n>'
    subscription_id   VARCHAR NOT NULL,
    allowance_type    VARCHAR NOT NULL,              -- VOICE | TEXT | DATA | CASH
    amount            DECIMAL(18, 2),                -- NULL when unlimited
    unlimited         BOOLEAN NOT NULL DEFAULT false,
    unit              VARCHAR NOT NULL,
    recurring         BOOLEAN NOT NULL DEFAULT false,
    ocs_id            VARCHAR NOT NULL,              -- the OCS allowance definition
    ocs_instance_id   VARCHAR,                       -- set when the OCS created it
    effective_from    TIMESTAMPTZ,
    effective_to      TIMESTAMPTZ,                   -- end-dated on re-pointing, never deleted
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE spend_caps (
    spend_cap_id      VARCHAR PRIMARY KEY,           -- 'CAP-<n>'
    subscription_id   VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL CHECK (kind IN ('VALUE', 'VOLUME', 'DURATION')),
    scope             VARCHAR NOT NULL CHECK (scope IN ('FULL', 'PARTIAL')),
    amount            DECIMAL(18, 2) NOT NULL,
    unit              VARCHAR NOT NULL,              -- currency for VALUE caps
    enabled           BOOLEAN NOT NULL DEFAULT true,
    ocs_id            VARCHAR NOT NULL,
    ocs_instance_id   VARCHAR,
    effective_from    TIMESTAMPTZ,
    effective_to      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE services (
    service_id        VARCHAR PRIMARY KEY,           -- 'SVC-<n>'
    subscription_id   VARCHAR NOT NULL,
    service_type      VARCHAR NOT NULL CHECK (service_type IN ('SOFTWARE_CAPABILITY', 'INSURANCE')),
    code              VARCHAR NOT NULL,
    status            VARCHAR NOT NULL DEFAULT 'PENDING',  -- PENDING | ACTIVE | FAILED
    external_ref      VARCHAR,                       -- partner reference (insurance policy, …)
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE shared_groups (
    shared_group_id       VARCHAR PRIMARY KEY,
    owner_subscription_id VARCHAR NOT NULL,
    ocs_shared_group_id   VARCHAR,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- §1 workflow events and actioned items ----------------------------------------------------
CREATE SEQUENCE seq_event START 1;
CREATE SEQUENCE seq_action_item START 1;

CREATE TABLE workflow_events (
    event_id          BIGINT PRIMARY KEY,
    event_type        VARCHAR NOT NULL,              -- NEW_CONNECTION | BILL_CYCLE_CHANGE
    subscription_id   VARCHAR,
    agreement_id      VARCHAR,
    batch_id          BIGINT,
    execution_id      BIGINT,
    status            VARCHAR NOT NULL DEFAULT 'OPEN',   -- OPEN | COMPLETE | ERROR
    error             VARCHAR,
    raised_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at      TIMESTAMPTZ
);

CREATE TABLE actioned_items (
    action_item_number BIGINT PRIMARY KEY,
    event_id          BIGINT NOT NULL,
    sequence          INTEGER NOT NULL,              -- 10, 20, 30, … within the event
    action            VARCHAR NOT NULL,              -- CREATE_INACTIVE, ADD_ALLOWANCE, …
    status            VARCHAR NOT NULL,              -- AWAITING_NETWORK_SERVICE | SENT_TO_NETWORK | COMPLETE | ERROR
    error             VARCHAR,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- §2 network request log ---------------------------------------------------------------------
CREATE SEQUENCE seq_request START 1;

CREATE TABLE network_requests (
    request_id        BIGINT PRIMARY KEY,            -- also the idempotency key sent to the network
    action_item_number BIGINT,
    subscription_id   VARCHAR,
    target            VARCHAR NOT NULL,              -- OCS | OPENET | FILE:<partner>
    command           VARCHAR NOT NULL,
    sequence          INTEGER NOT NULL,              -- order within the subscription
    attributes        JSON NOT NULL,
    status            VARCHAR NOT NULL DEFAULT 'UN'
                      CHECK (status IN ('UN', 'PR', 'NS', 'NA', 'NC', 'NR', 'NE', 'NF', 'PE')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    not_before        TIMESTAMPTZ,                   -- backoff / delayed activation
    claimed_by        VARCHAR,
    lease_until       TIMESTAMPTZ,
    file_id           BIGINT,                        -- the outbound file it went out in
    sent_at           TIMESTAMPTZ,
    completed_at      TIMESTAMPTZ,
    response          JSON,
    error_code        VARCHAR,
    error_text        VARCHAR,
    external_ref      VARCHAR,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX network_requests_status ON network_requests (status);

CREATE TABLE network_request_history (
    request_id  BIGINT NOT NULL,
    seq         INTEGER NOT NULL,
    status      VARCHAR NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor       VARCHAR NOT NULL,                    -- daemon name, job, or operator
    note        VARCHAR
);

-- §4 files, batches and their records --------------------------------------------------------
CREATE SEQUENCE seq_file START 1;
CREATE SEQUENCE seq_batch START 1;

-- The ledger of committed loads: a file is never loaded twice, by content or by identity.
CREATE TABLE files (
    file_id        BIGINT PRIMARY KEY,
    sha256         VARCHAR NOT NULL UNIQUE,
    interface_type VARCHAR NOT NULL,
    identifier     VARCHAR NOT NULL,
    direction      VARCHAR NOT NULL CHECK (direction IN ('Inbound', 'Outbound')),
    daemon         VARCHAR NOT NULL,
    name           VARCHAR NOT NULL,
    size_bytes     BIGINT NOT NULL,
    record_count   BIGINT NOT NULL,
    batch_id       BIGINT,
    committed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (direction, interface_type, identifier)
);

-- Files refused before anything was loaded (kept for audit; the file itself is quarantined).
CREATE TABLE file_rejections (
    sha256        VARCHAR,
    daemon        VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    reason        VARCHAR NOT NULL,
    error_class   VARCHAR NOT NULL,
    rejected_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE batches (
    batch_id       BIGINT PRIMARY KEY,
    file_id        BIGINT,
    category       VARCHAR NOT NULL,                 -- Provisioning
    batch_type     VARCHAR NOT NULL,                 -- the interfaceType
    direction      VARCHAR NOT NULL CHECK (direction IN ('Inbound', 'Outbound', 'None')),
    stage          VARCHAR NOT NULL,                 -- LOADED | PROCESSING | PROCESSED | FAILED
    stage_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    records        BIGINT NOT NULL DEFAULT 0,
    valid_records  BIGINT NOT NULL DEFAULT 0,
    error_records  BIGINT NOT NULL DEFAULT 0,
    trace_id       VARCHAR,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE batch_errors (
    batch_id   BIGINT NOT NULL,
    line_no    BIGINT NOT NULL,
    shard_no   INTEGER NOT NULL DEFAULT 0,             -- for renumbering lines at commit
    record_key VARCHAR,                              -- orderRef etc. when it could be read
    raw        VARCHAR NOT NULL,
    reasons    VARCHAR[] NOT NULL,
    source     VARCHAR NOT NULL DEFAULT 'load'       -- load | <job name> (business rule)
);

-- Jobs triggered by a committed batch (the trigger is part of the load transaction).
CREATE TABLE batch_triggers (
    batch_id     BIGINT NOT NULL,
    job          VARCHAR NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'PENDING', -- PENDING | SUBMITTED | DONE
    execution_id BIGINT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, job)
);

-- §5 jobs, schedules, daemons ------------------------------------------------------------------
CREATE SEQUENCE seq_execution START 1;

CREATE TABLE job_executions (
    execution_id    BIGINT PRIMARY KEY,
    job             VARCHAR NOT NULL,
    idempotency_key VARCHAR UNIQUE,
    params          JSON NOT NULL DEFAULT '{}',
    status          VARCHAR NOT NULL,                -- RUNNING | SUCCEEDED | FAILED
    trigger         VARCHAR NOT NULL,                -- manual | schedule | batch | submit
    batch_id        BIGINT,
    slot_id         VARCHAR,
    records_read    BIGINT NOT NULL DEFAULT 0,
    records_ok      BIGINT NOT NULL DEFAULT 0,
    records_error   BIGINT NOT NULL DEFAULT 0,
    result          JSON,
    error           VARCHAR,
    trace_id        VARCHAR,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at        TIMESTAMPTZ
);

CREATE TABLE schedule_slots (
    schedule      VARCHAR NOT NULL,
    slot_at       TIMESTAMPTZ NOT NULL,
    status        VARCHAR NOT NULL,                  -- due | started | succeeded | failed | late | missed | overran | skipped
    execution_id  BIGINT,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, slot_at)
);

CREATE TABLE daemons (
    name          VARCHAR PRIMARY KEY,               -- e.g. Load/Provisioning/FromGenericFormat
    daemon_type   VARCHAR NOT NULL,
    category      VARCHAR NOT NULL,
    activity      VARCHAR NOT NULL,
    state         VARCHAR NOT NULL,                  -- RUNNING | STOPPED | FAILED
    last_poll_at  TIMESTAMPTZ,
    last_error    VARCHAR,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- §5 probes and alerts -----------------------------------------------------------------------
CREATE SEQUENCE seq_probe_result START 1;
CREATE SEQUENCE seq_alert START 1;

CREATE TABLE probes (
    name        VARCHAR PRIMARY KEY,
    stage       VARCHAR NOT NULL,
    category    VARCHAR NOT NULL,
    probe_type  VARCHAR NOT NULL,                    -- Normal | Punctual | Completed | SQL
    definition  JSON NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT true,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE probe_results (
    result_id   BIGINT PRIMARY KEY,
    probe       VARCHAR NOT NULL,
    run_at      TIMESTAMPTZ NOT NULL,
    value       DOUBLE,
    outcome     VARCHAR NOT NULL,                    -- success | warning | severe | probe failed
    detail      VARCHAR,
    trace_id    VARCHAR
);

CREATE TABLE alerts (
    alert_id      BIGINT PRIMARY KEY,
    probe         VARCHAR NOT NULL,
    subject       VARCHAR NOT NULL,                  -- the schedule or daemon concerned
    state         VARCHAR NOT NULL,                  -- pending | firing | resolved
    severity      VARCHAR NOT NULL,
    value         DOUBLE,
    message       VARCHAR,
    started_at    TIMESTAMPTZ NOT NULL,
    fired_at      TIMESTAMPTZ,
    resolved_at   TIMESTAMPTZ,
    trace_id      VARCHAR
);

CREATE TABLE notifications (
    alert_id    BIGINT NOT NULL,
    event       VARCHAR NOT NULL,                    -- trigger | failure | resolve
    recipient   VARCHAR NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    ok          BOOLEAN NOT NULL,
    error       VARCHAR
);

-- §3 bill cycle change and reconciliation ----------------------------------------------------
CREATE TABLE bill_cycle_changes (
    action_item_number BIGINT PRIMARY KEY,
    agreement_id       VARCHAR NOT NULL,
    subscription_id    VARCHAR NOT NULL,
    old_bill_cycle_day INTEGER,
    new_bill_cycle_day INTEGER NOT NULL,
    effective_at       TIMESTAMPTZ NOT NULL,
    execution_id       BIGINT,
    status             VARCHAR NOT NULL DEFAULT 'REQUESTED',  -- REQUESTED | FAILED | ANSWERED | RECONCILED | DISCREPANT
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE reconciliation_discrepancies (
    execution_id     BIGINT NOT NULL,
    subscription_id  VARCHAR NOT NULL,
    ocs_id           VARCHAR,
    record_kind      VARCHAR,                        -- ALLOWANCE | SPEND_CAP
    discrepancy      VARCHAR NOT NULL,               -- MISSING_IN_OCS | MISSING_IN_ENGINE | AMOUNT_DIFFERS | DATE_DIFFERS | DUPLICATE_IN_OCS
    engine_side      JSON,
    ocs_side         JSON,
    found_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


def _staging(con: duckdb.DuckDBPyConnection) -> None:
    from engine.store.staging import create_staging_tables

    create_staging_tables(con)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "domain tables", _sql(V1_DOMAIN)),
    Migration(2, "batch staging tables from the record types' Arrow schemas", _staging),
    # DuckDB runs an UPDATE of an indexed column as delete + insert of the row: the status
    # index made every status change ~50x dearer, and a scan of the status column is ~3 ms
    # at 10M rows anyway (bench/transmit.py).
    Migration(3, "drop the network request status index", _sql("DROP INDEX network_requests_status")),
    # Reconciliation (engine/reconcile, jobs/reconciliation.py): discrepancies name their batch
    # and change; matched records wait in reconciliation_matches until their effective time
    # (then re-pointed once); a response batch is compared once (reconciliation_batches).
    Migration(4, "reconciliation matches and compared batches", released_as=5, apply=_sql("""
        ALTER TABLE reconciliation_discrepancies ADD COLUMN batch_id BIGINT;
        ALTER TABLE reconciliation_discrepancies ADD COLUMN action_item_number BIGINT;
        CREATE TABLE reconciliation_batches (
            batch_id      BIGINT PRIMARY KEY,
            execution_id  BIGINT NOT NULL,
            compared_at   TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE reconciliation_matches (
            execution_id           BIGINT NOT NULL,   -- the run that compared it
            batch_id               BIGINT,
            action_item_number     BIGINT NOT NULL,
            record_kind            VARCHAR NOT NULL CHECK (record_kind IN ('ALLOWANCE', 'SPEND_CAP')),
            record_id              VARCHAR NOT NULL,  -- the engine record end-dated on re-pointing
            new_instance_id        VARCHAR NOT NULL,
            effective_at           TIMESTAMPTZ NOT NULL,
            status                 VARCHAR NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'REPOINTED')),
            new_record_id          VARCHAR,           -- the row that carries the new instance
            repointed_execution_id BIGINT,
            repointed_at           TIMESTAMPTZ
        );
    """)),
    # Scheduler (engine/schedule): the slot ledger's timings and reasons, and how far each
    # schedule has been planned (so downtime shows up as slots to catch up or mark missed).
    Migration(5, "schedule slot timings and planning horizons", released_as=7, apply=_sql("""
        ALTER TABLE schedule_slots ADD COLUMN slot_id VARCHAR;
        ALTER TABLE schedule_slots ADD COLUMN job VARCHAR;
        ALTER TABLE schedule_slots ADD COLUMN deadline_at TIMESTAMPTZ;
        ALTER TABLE schedule_slots ADD COLUMN max_duration_seconds DOUBLE;
        ALTER TABLE schedule_slots ADD COLUMN submitted_at TIMESTAMPTZ;
        ALTER TABLE schedule_slots ADD COLUMN started_at TIMESTAMPTZ;
        ALTER TABLE schedule_slots ADD COLUMN ended_at TIMESTAMPTZ;
        ALTER TABLE schedule_slots ADD COLUMN reason VARCHAR;
        CREATE TABLE schedule_horizons (
            schedule       VARCHAR PRIMARY KEY,
            planned_until  TIMESTAMPTZ NOT NULL
        );
    """)),
    # Probes (engine/probes): a result per subject, alerts that remember since when their
    # condition is back to normal (keep_firing_for), and when a daemon was first seen (a
    # Completed probe judges "zero files in the window" only of a daemon known for a window).
    Migration(6, "probe result subjects, alert hysteresis, daemon first seen", released_as=8, apply=_sql("""
        ALTER TABLE probe_results ADD COLUMN subject VARCHAR;
        ALTER TABLE alerts ADD COLUMN cleared_at TIMESTAMPTZ;
        ALTER TABLE alerts ADD COLUMN updated_at TIMESTAMPTZ;
        ALTER TABLE daemons ADD COLUMN created_at TIMESTAMPTZ DEFAULT now();
    """)),
    # Tracing (engine/telemetry): the W3C traceparent of the job span that created a network
    # request, so the adaptor's send is a child of it and the trace reaches the network.
    Migration(7, "network request traceparent", released_as=9,
              apply=_sql("ALTER TABLE network_requests ADD COLUMN traceparent VARCHAR")),
)
