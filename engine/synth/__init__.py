"""Synthetic generic files: realistic Order files (and Bill Cycle Change Responses) for tests,
demos and benchmarks. Deterministic by seed.

Speed matters (benchmarks write 1 GB files of ~2M orders), so good records are built from
pre-rendered JSON fragments with string templates, random draws come from numpy in batches,
and output is written in big chunks. Deliberately bad records (`bad_share`) are rare: they are
made by mutating a good record (through json) and carry their kind, so tests can check that the
validator catches each kind and names the field (`BAD_KINDS` maps a kind to that field).

MSISDNs are sequential from `start_msisdn` (default 447700900000 + seed * 10,000,000), so they
are unique within a file and across files of different seeds while a file has fewer than 10M
subscriptions. Order refs are `ORD-<seed>-<n>`: unique per seed.
"""

from engine.synth.bad import BAD_KINDS
from engine.synth.bill_cycle import BillCycleSubscription, generate_bill_cycle_responses
from engine.synth.catalog import (
    AGREEMENT_WEIGHTS,
    AGREEMENTS,
    CAP_AMOUNTS,
    DEFAULT_CREATED_AT,
    MSISDN_BASE,
    MSISDN_SEED_STRIDE,
    POSTPAID_TARIFFS,
    PREPAID_TARIFFS,
    SERVICE_SETS,
    TARIFFS,
)
from engine.synth.orders import (
    OrderLine,
    default_start_msisdn,
    generate_orders,
    iter_order_lines,
    write_lines,
    write_orders,
)

__all__ = [
    "AGREEMENTS",
    "AGREEMENT_WEIGHTS",
    "BAD_KINDS",
    "BillCycleSubscription",
    "CAP_AMOUNTS",
    "DEFAULT_CREATED_AT",
    "MSISDN_BASE",
    "MSISDN_SEED_STRIDE",
    "OrderLine",
    "POSTPAID_TARIFFS",
    "PREPAID_TARIFFS",
    "SERVICE_SETS",
    "TARIFFS",
    "default_start_msisdn",
    "generate_bill_cycle_responses",
    "generate_orders",
    "iter_order_lines",
    "write_lines",
    "write_orders",
]
