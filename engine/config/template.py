"""The ``cmp.toml`` that ``cmpctl init`` writes."""

from __future__ import annotations

DEFAULT_TOML = """\
# cmp-provisioning engine configuration. Every key is optional; values shown are defaults.
# Override any key with an environment variable CMP_<SECTION>__<KEY> (e.g. CMP_LOAD__SHARD_BYTES)
# or a command-line flag. Unknown keys are rejected.

[ray]
address = ""            # empty: start and own a local Ray; else e.g. "ray://head:10001" or "auto"
namespace = "cmp"
dashboard_host = "127.0.0.1"
dashboard_port = 8265
home_shared = false     # true when every node mounts this home at the same path (NFS): load shards spread

[network.ocs]
url = ""                # e.g. "http://127.0.0.1:8700" (netsim) or the OCS's TMF API base
token = ""              # bearer token; kept out of logs
max_in_flight = 64
max_retries = 5

[network.openet]
url = ""
token = ""

[load]
shard_bytes = "64MiB"   # files above this are decrypted and parsed in parallel shards
max_error_ratio = 0.10  # reject a whole file whose share of bad records is above this

[telemetry]
exporter = "file"       # file (traces/*.jsonl) | otlp | console | none
otlp_endpoint = ""      # otlp: e.g. "http://collector:4318" (http/protobuf) or "collector:4317" (grpc)
otlp_protocol = "http/protobuf"
service_name = "cmp-provisioning"
retention_days = 14     # file: traces/spans-<day>-<pid>.jsonl older than this are deleted (0: keep all)

# Partners reached by file (requests with target FILE:<name>): the Extract daemons write their
# requests as encrypted generic files into outbound/<daemon>/, plus a CSV conversion.
[extract.partners.insurance]
format = "csv"
recipients = []         # the insurer's age1… recipients (the home's own is always added)
columns = { policy_ref = "requestId", action_item = "actionItemNumber", subscription = "subscriptionId", account = "accountId", msisdn = "commandAttributes.msisdn", product = "commandAttributes.code", operation = "command" }

# Bill cycle changes (cmpctl jobs run bill-cycle-change) go to Openet; name a partner to also
# send them by file (FILE:<partner> requests, written by the Bill Cycle Change Extract daemon):
# [bill_cycle]
# file_partner = "billing-bureau"

[scheduler]
timezone = "Europe/London"  # cron schedules are read in this zone unless one names its own

# Built-in schedules: provisioning every minute (safety net) and reconciliation daily at 03:00.
# Override any key of one, or add your own [schedules.<name>] tables, e.g.:
# [schedules.provisioning]
# cron = "* * * * *"
# catch_up = "once"       # after downtime: skip | once | all (all: at most catch_up_cap runs)
# grace_seconds = 30      # not started this long after its slot: late
# max_duration_seconds = 900

# Built-in probes: provisioning_errors, adaptor_errors, reconciliation_discrepancies (Normal),
# provisioning_slots, requests_waiting (Punctual), extract_files (Completed). Override any key
# of one (enabled = false switches it off), or add your own; recipients: log:, webhook:URL,
# email:ADDRESS, file:PATH.
# [probes.adaptor_errors]
# recipients = ["log:", "webhook:http://alerts.example.com/hook", "email:ops@example.com"]
# [probes.stuck_batches]
# type = "Punctual"
# kind = "batches_waiting"
# max_wait_seconds = 600
# warning = 0
# [probes.unconnected]
# type = "SQL"
# query = "SELECT count(*) FROM subscriptions WHERE status = 'PENDING' AND created_at < now() - INTERVAL 1 DAY"
# warning = 0
# severe = 100

[notify.smtp]
host = "127.0.0.1"      # the SMTP server of email: recipients
port = 25
sender = "cmp-provisioning@localhost"
starttls = false
user = ""               # with password = "…" (kept out of logs) for a login
"""


__all__ = ["DEFAULT_TOML"]
