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

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import BinaryIO, NamedTuple

import numpy as np

from engine.generic.header import FileHeader, format_rfc3339

DEFAULT_CREATED_AT = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)
MSISDN_BASE = 447700900000
MSISDN_SEED_STRIDE = 10_000_000

FIRST_NAMES = (
    "Ada", "Alan", "Grace", "Tim", "Margaret", "Oliver", "Amelia", "Jack", "Isla", "Harry",
    "Sophie", "George", "Emily", "Noah", "Olivia", "Mohammed", "Aisha", "Priya", "Arjun", "Wei",
    "Mei", "Chloé", "Zoë", "Siân", "Seán", "Aoife", "Niamh", "Łukasz", "Agnieszka", "José",
    "María", "Ngozi", "Chidi", "Kwame", "Yusuf", "Fatima", "Hannah", "Rhys", "Eilidh", "Callum",
    "Freya", "Ravi", "Anaïs", "Björn", "Søren", "Kai", "Leila", "Tomás", "Imogen", "Dylan",
)  # fmt: skip
LAST_NAMES = (
    "Byron", "Lovelace", "Turing", "Hopper", "Berners-Lee", "Smith", "Jones", "Taylor", "Brown",
    "Williams", "Wilson", "Davies", "Evans", "Thomas", "Roberts", "Khan", "Patel", "Singh",
    "O'Brien", "McDonald", "MacLeod", "Ó Súilleabháin", "Nguyễn", "Müller", "García", "Kowalski",
    "Okafor", "Mensah", "Chen", "Wang", "Li", "Ahmed", "Hussain", "Clarke", "Walker", "Wright",
    "Hughes", "Edwards", "Green", "Hall", "Lewis", "Harris", "Young", "King", "Lee", "Price",
    "Fitzgerald", "Ní Bhriain", "Østergaard", "Dubois",
)  # fmt: skip
TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof")
EMAIL_DOMAINS = ("example.org", "example.com", "mail.example.net", "example.co.uk")
ORG_WORDS = (
    "Northern", "Thames", "Pennine", "Harbour", "Cobalt", "Granite", "Meridian", "Albion",
    "Kestrel", "Orchard", "Summit", "Riverside", "Beacon", "Copper", "Atlas", "Lighthouse",
)  # fmt: skip
ORG_NOUNS = ("Logistics", "Bakeries", "Engineering", "Dental", "Analytics", "Builders", "Media", "Farms")
ORG_SUFFIXES = ("Ltd", "Limited", "PLC", "LLP", "& Co Ltd", "Holdings Ltd")

# Tariff catalogue: code -> (payMode, allowances as (type, amount, unit, recurring)).
TARIFFS: dict[str, tuple[str, tuple[tuple[str, float | str, str, bool], ...]]] = {
    "PAYG-10": ("PREPAID", (("VOICE", 500, "MIN", True), ("TEXT", "UNLIMITED", "SMS", True), ("DATA", 5, "GB", True))),
    "PAYG-20": ("PREPAID", (("VOICE", "UNLIMITED", "MIN", True), ("TEXT", "UNLIMITED", "SMS", True), ("DATA", 30, "GB", True))),
    "PAYG-DATA-1GB": ("PREPAID", (("DATA", 1, "GB", False), ("CASH", 10.0, "GBP", False))),
    "PAYG-TALK": ("PREPAID", (("VOICE", 250, "MIN", True), ("TEXT", 500, "SMS", True), ("DATA", 500, "MB", True))),
    "PAYM12-5GB": ("POSTPAID", (("VOICE", "UNLIMITED", "MIN", True), ("TEXT", "UNLIMITED", "SMS", True), ("DATA", 5, "GB", True))),
    "PAYM24-100GB": ("POSTPAID", (("VOICE", "UNLIMITED", "MIN", True), ("TEXT", "UNLIMITED", "SMS", True), ("DATA", 100, "GB", True))),
    "PAYM24-UNL": ("POSTPAID", (("VOICE", "UNLIMITED", "MIN", True), ("TEXT", "UNLIMITED", "SMS", True), ("DATA", "UNLIMITED", "GB", True))),
    "PAYM-SIMO-500MB": ("POSTPAID", (("VOICE", 300, "MIN", True), ("TEXT", "UNLIMITED", "SMS", True), ("DATA", 500, "MB", True), ("CASH", 2.5, "GBP", True))),
}  # fmt: skip
PREPAID_TARIFFS = tuple(k for k, v in TARIFFS.items() if v[0] == "PREPAID")
POSTPAID_TARIFFS = tuple(k for k, v in TARIFFS.items() if v[0] == "POSTPAID")
CAP_AMOUNTS = (10.0, 15.0, 25.0, 30.0, 50.0, 75.5, 100.0, 250.0)
SERVICE_SETS = (
    (("SOFTWARE_CAPABILITY", "VOLTE"),),
    (("SOFTWARE_CAPABILITY", "VOLTE"), ("SOFTWARE_CAPABILITY", "WIFI_CALLING")),
    (("SOFTWARE_CAPABILITY", "ESIM"),),
    (("INSURANCE", "DEVICE-GOLD"),),
    (("SOFTWARE_CAPABILITY", "VOLTE"), ("INSURANCE", "DEVICE-SILVER")),
    (("SOFTWARE_CAPABILITY", "5G-SA"), ("SOFTWARE_CAPABILITY", "VOLTE"), ("INSURANCE", "SCREEN-ONLY")),
)  # fmt: skip
# (billFrequency, billCycleDay or None, cycleLengthDays or None) with weights
AGREEMENTS = (
    ("MONTHLY", True, None), ("QUARTERLY", True, None), ("YEARLY", True, None),
    ("HALF_YEARLY", True, None), ("WEEKLY", False, None), ("DAILY", False, None),
    ("EVERY_N_DAYS", False, 28), ("EVERY_N_DAYS", False, 30),
)  # fmt: skip
AGREEMENT_WEIGHTS = np.array([0.80, 0.05, 0.03, 0.02, 0.03, 0.02, 0.03, 0.02])

#: bad kind -> the field path (or phrase) a reason for it must name
BAD_KINDS: dict[str, str] = {
    "bad_msisdn": ".msisdn",
    "missing_last_name": "customer.lastName",
    "postpaid_without_cap": ".spendCap",
    "unknown_field": ".simType",
    "misspelt_field": "orderref",
    "wrong_type": "agreement.billCycleDay",
    "bad_enum": ".payMode",
    "invalid_json": "invalid JSON",
    "negative_amount": ".spendCap.amount",
    "duplicate_order_ref": "orderRef",
    "empty_line": "empty line",
    "delayed_without_date": ".activationDate",
    "bad_date": "customer.dateOfBirth",
    "too_many_decimals": ".spendCap.amount",
    "wrong_unit": ".unit",
    "not_object": "JSON object",
    "non_utf8": "UTF-8",
    "every_n_days_without_length": "agreement.cycleLengthDays",
    "organisation_without_registration": "customer.registrationNumber",
    "no_subscriptions": "subscriptions",
    "bad_email": "customer.email",
    "unlimited_cash": ".amount",
    "string_amount": ".amount",
    "multi_error": ".msisdn",
}


_TRANSLIT = str.maketrans({"Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "ß": "ss"})


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT)).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum() or ch == "-")


def _j(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _amount(value: float | str) -> str:
    return _j(value) if isinstance(value, str) else (f"{value:.2f}" if isinstance(value, float) else str(value))


_FIRST = [_j(n) for n in FIRST_NAMES]
_LAST = [_j(n) for n in LAST_NAMES]
_FIRST_SLUG = [_slug(n) for n in FIRST_NAMES]
_LAST_SLUG = [_slug(n) for n in LAST_NAMES]
_TITLE = [_j(t) for t in TITLES] + ["null", "null"]  # some individuals give no title
_ALLOWANCES = {
    code: "[" + ",".join(
        f'{{"type":"{t}","amount":{_amount(a)},"unit":"{u}","recurring":{_j(r)}}}' for t, a, u, r in allow
    ) + "]"
    for code, (_, allow) in TARIFFS.items()
}  # fmt: skip
_SERVICES = ["[" + ",".join(f'{{"type":"{t}","code":"{c}"}}' for t, c in s) + "]" for s in SERVICE_SETS]
_VALUE_CAPS = [f'{{"kind":"VALUE","scope":"FULL","amount":{a:.2f}}}' for a in CAP_AMOUNTS]
_PREPAID_CAPS = ('{"kind":"VOLUME","scope":"PARTIAL","amount":2048}', '{"kind":"DURATION","scope":"FULL","amount":600}')
_PAYMODE = ("PREPAID", "POSTPAID")
_IMMEDIATE = '"activation":"IMMEDIATE","activationDate":null'
_DELAYED = [f'"activation":"DELAYED","activationDate":"{(date(2026, 12, 1) + timedelta(days=d)).isoformat()}"' for d in range(1, 61)]


class OrderLine(NamedTuple):
    line: bytes  #: one record line, `\n`-terminated
    bad_kind: str | None  #: None for a good record, else a key of BAD_KINDS


def default_start_msisdn(seed: int) -> int:
    return MSISDN_BASE + seed * MSISDN_SEED_STRIDE


_DOB = [(date(1940, 1, 1) + timedelta(days=d)).isoformat() for d in range(66 * 365)]
_ORG_NAMES = [
    (_j(f"{w} {n} {suf}"), f"{_slug(w)}-{_slug(n)}.example.com") for w in ORG_WORDS for n in ORG_NOUNS for suf in ORG_SUFFIXES
]
_AGREEMENTS = [
    (f'{{"billFrequency":"{freq}","billCycleDay":', f',"cycleLengthDays":{_j(length)}}}', has_day)
    for freq, has_day, length in AGREEMENTS
]


def _customer(row: tuple, serial: int) -> str:
    is_org, fi, li, ti, dob, dom, org, reg = row
    if is_org:
        name, domain = _ORG_NAMES[org]
        regno = f"{('SC', 'NI', '0')[reg % 3]}{reg:07d}"[:8]
        return (
            '{"type":"ORGANISATION","title":null,"firstName":null,"lastName":null,"dateOfBirth":null,'
            f'"organisationName":{name},"registrationNumber":"{regno}","email":"accounts{serial}@{domain}"}}'
        )
    return (
        f'{{"type":"INDIVIDUAL","title":{_TITLE[ti]},"firstName":{_FIRST[fi]},"lastName":{_LAST[li]},'
        f'"dateOfBirth":"{_DOB[dob]}","organisationName":null,"registrationNumber":null,'
        f'"email":"{_FIRST_SLUG[fi]}.{_LAST_SLUG[li]}{serial % 1000}@{EMAIL_DOMAINS[dom]}"}}'
    )


class _Batch:
    """numpy draws for up to `size` orders (one vectorised call per attribute)."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        is_org = rng.random(n) < 0.2
        self.is_org = is_org.tolist()
        self.cust = list(zip(
            self.is_org, rng.integers(0, len(FIRST_NAMES), n).tolist(), rng.integers(0, len(LAST_NAMES), n).tolist(),
            rng.integers(0, len(_TITLE), n).tolist(), rng.integers(0, len(_DOB), n).tolist(),
            rng.integers(0, len(EMAIL_DOMAINS), n).tolist(), rng.integers(0, len(_ORG_NAMES), n).tolist(),
            rng.integers(0, 10_000_000, n).tolist(),
        ))  # fmt: skip
        subs = np.where(is_org, rng.choice([1, 2, 2, 3, 4, 8], n), rng.choice([1, 1, 1, 1, 2, 2, 3], n))
        self.n_subs = subs.tolist()
        self.agreement = rng.choice(len(AGREEMENTS), n, p=AGREEMENT_WEIGHTS).tolist()
        self.cycle_day = rng.integers(1, 29, n).tolist()
        self.eur = (rng.random(n) < 0.05).tolist()
        self.card = (rng.random(n) < 0.3).tolist()
        m = int(subs.sum())
        postpaid = rng.random(m) < 0.6
        self.postpaid = postpaid.tolist()
        pools = (PREPAID_TARIFFS, POSTPAID_TARIFFS)
        self.tariff = [pools[p][t % len(pools[p])] for p, t in zip(self.postpaid, rng.integers(0, 1 << 20, m).tolist())]
        delayed = rng.random(m) < 0.1
        self.activation = [
            _DELAYED[d] if late else _IMMEDIATE for late, d in zip(delayed.tolist(), rng.integers(0, 60, m).tolist())
        ]
        prepaid_cap = rng.integers(0, 8, m).tolist()
        self.cap = [
            _VALUE_CAPS[c] if p else (_PREPAID_CAPS[pc] if pc < 2 else "null")
            for p, c, pc in zip(self.postpaid, rng.integers(0, len(CAP_AMOUNTS), m).tolist(), prepaid_cap)
        ]
        self.services = [_SERVICES[k] if k < len(_SERVICES) else "null" for k in rng.integers(0, len(_SERVICES) * 3, m).tolist()]


def _good_orders(count: int, seed: int, start_msisdn: int) -> Iterator[str]:
    """Good order lines (text, no newline), built from templates."""
    rng = np.random.default_rng(seed)
    msisdn = start_msisdn
    batch_size = 4096
    for first in range(0, count, batch_size):
        b = _Batch(rng, min(batch_size, count - first))
        s = 0  # index into the batch's subscription draws
        for k, n_subs in enumerate(b.n_subs):
            i = first + k
            subs = []
            for j in range(n_subs):
                tariff = b.tariff[s]
                subs.append(
                    f'{{"subscriptionRef":"SUB-{j + 1}","payMode":"{_PAYMODE[b.postpaid[s]]}",'
                    f'"msisdn":"{msisdn + s}","tariffCode":"{tariff}",{b.activation[s]},'
                    f'"allowances":{_ALLOWANCES[tariff]},"spendCap":{b.cap[s]},"services":{b.services[s]}}}'
                )
                s += 1
            head, tail, has_day = _AGREEMENTS[b.agreement[k]]
            if b.card[k]:
                pay = "INVOICE" if b.is_org[k] else "CARD"
            else:
                pay = "DIRECT_DEBIT" if any(b.postpaid[s - n_subs : s]) else "CARD"
            yield (
                f'{{"orderRef":"ORD-{seed}-{i + 1:08d}","customer":{_customer(b.cust[k], i)},'
                f'"account":{{"paymentType":"{pay}","currency":"{"EUR" if b.eur[k] else "GBP"}"}},'
                f'"agreement":{head}{b.cycle_day[k] if has_day else "null"}{tail},'
                f'"subscriptions":[{",".join(subs)}]}}'
            )
        msisdn += s


def _mutate(kind: str, good: str, last_good_ref: str | None) -> bytes:
    """A bad line of `kind` made from a good record line."""
    if kind == "empty_line":
        return b""
    if kind == "invalid_json":
        return good[: len(good) // 2].encode()
    if kind == "non_utf8":
        return good.replace('"orderRef":"', '"orderRef":"\udcff', 1).encode("utf-8", "surrogateescape")
    rec = json.loads(good)
    cust, sub = rec["customer"], rec["subscriptions"][0]
    if kind in ("bad_msisdn", "multi_error"):
        sub["msisdn"] = "44A" + sub["msisdn"][3:]
    if kind in ("missing_last_name", "multi_error"):
        cust.update(type="INDIVIDUAL", firstName=cust["firstName"] or "Ada")
        cust.pop("lastName")
    if kind == "postpaid_without_cap":
        sub.update(payMode="POSTPAID", spendCap=None)
    if kind in ("unknown_field", "multi_error"):
        sub["simType"] = "NANO"
    if kind == "misspelt_field":
        rec = {("orderref" if k == "orderRef" else k): v for k, v in rec.items()}
    if kind == "wrong_type":
        rec["agreement"] = {"billFrequency": "MONTHLY", "billCycleDay": "15", "cycleLengthDays": None}
    if kind in ("bad_enum", "multi_error"):
        sub["payMode"] = "PREPAY"
    if kind == "negative_amount":
        sub.update(payMode="POSTPAID", spendCap={"kind": "VALUE", "scope": "FULL", "amount": -5})
    if kind == "too_many_decimals":
        sub.update(payMode="POSTPAID", spendCap={"kind": "VALUE", "scope": "FULL", "amount": 25.001})
    if kind == "duplicate_order_ref":
        rec["orderRef"] = last_good_ref
    if kind == "delayed_without_date":
        sub.update(activation="DELAYED", activationDate=None)
    if kind == "bad_date":
        cust["dateOfBirth"] = "1990-02-30"
    if kind == "wrong_unit":
        sub["allowances"] = [{"type": "VOICE", "amount": 100, "unit": "GB", "recurring": True}]
    if kind == "every_n_days_without_length":
        rec["agreement"] = {"billFrequency": "EVERY_N_DAYS", "billCycleDay": None, "cycleLengthDays": None}
    if kind == "organisation_without_registration":
        cust.update(type="ORGANISATION", organisationName="Albion Media Ltd", registrationNumber=None)
    if kind == "no_subscriptions":
        rec["subscriptions"] = []
    if kind == "bad_email":
        cust["email"] = "ada.example.org"
    if kind == "unlimited_cash":
        sub["allowances"] = [{"type": "CASH", "amount": "UNLIMITED", "unit": "GBP", "recurring": False}]
    if kind == "string_amount":
        sub["allowances"] = [{"type": "DATA", "amount": "100", "unit": "GB", "recurring": True}]
    if kind == "not_object":
        return _j([rec]).encode()
    return _j(rec).encode()


def iter_order_lines(
    count: int,
    *,
    seed: int = 0,
    bad_share: float = 0.0,
    start_msisdn: int | None = None,
) -> Iterator[OrderLine]:
    """`count` order lines with their bad kind (None when good).

    Bad records are spread evenly (record i is bad when floor((i+1)*share) > floor(i*share)) and
    cycle through BAD_KINDS in order, so a share of 1% over 2,400 records has every kind.
    """
    if not 0.0 <= bad_share <= 1.0:
        raise ValueError(f"bad_share must be in [0, 1], got {bad_share}")
    start = default_start_msisdn(seed) if start_msisdn is None else start_msisdn
    if bad_share == 0.0:
        for good in _good_orders(count, seed, start):
            yield OrderLine(good.encode() + b"\n", None)
        return
    kinds = tuple(BAD_KINDS)
    n_bad = 0
    last_good_ref: str | None = None
    for i, good in enumerate(_good_orders(count, seed, start)):
        if int((i + 1) * bad_share) > int(i * bad_share):
            kind = kinds[n_bad % len(kinds)]
            if kind == "duplicate_order_ref" and last_good_ref is None:
                kind = "bad_msisdn"
            n_bad += 1
            yield OrderLine(_mutate(kind, good, last_good_ref) + b"\n", kind)
        else:
            last_good_ref = f"ORD-{seed}-{i + 1:08d}"
            yield OrderLine(good.encode() + b"\n", None)


def generate_orders(
    count: int,
    *,
    seed: int = 0,
    bad_share: float = 0.0,
    identifier: str | None = None,
    start_msisdn: int | None = None,
    created_at: datetime = DEFAULT_CREATED_AT,
) -> tuple[FileHeader, Iterator[bytes]]:
    """The header and the record lines (each `\\n`-terminated, header not included)."""
    header = FileHeader(
        interface_type="Order",
        identifier=identifier or f"synth-orders-{seed}",
        created_at=created_at,
        record_count=count,
    )
    lines = (ol.line for ol in iter_order_lines(count, seed=seed, bad_share=bad_share, start_msisdn=start_msisdn))
    return header, lines


def write_lines(sink: BinaryIO, header: FileHeader, lines: Iterable[bytes], chunk_bytes: int = 4 << 20) -> int:
    """Write the header then the lines in big chunks; returns the bytes written."""
    written = sink.write(header.to_json_line()) or 0
    pending: list[bytes] = []
    size = 0
    for line in lines:
        pending.append(line)
        size += len(line)
        if size >= chunk_bytes:
            written += sink.write(b"".join(pending)) or 0
            pending, size = [], 0
    if pending:
        written += sink.write(b"".join(pending)) or 0
    return written


def write_orders(sink: BinaryIO, count: int, **options: object) -> FileHeader:
    """Write a whole plaintext Order file to `sink` (options as for generate_orders)."""
    header, lines = generate_orders(count, **options)  # type: ignore[arg-type]
    write_lines(sink, header, lines)
    return header


class BillCycleSubscription(NamedTuple):
    """One subscription whose bill cycle changed, as the OCS answers for it."""

    action_item_number: int
    subscription_id: str
    msisdn: str
    allowances: tuple[tuple[str, float | str, str], ...]  #: (ocsId, amount or "UNLIMITED", unit)
    spend_cap: tuple[str, float, str] | None = None  #: (ocsId, amount, currency)


def generate_bill_cycle_responses(
    subscriptions: Iterable[BillCycleSubscription | tuple],
    *,
    effective: datetime,
    seed: int = 0,
    identifier: str | None = None,
    created_at: datetime = DEFAULT_CREATED_AT,
) -> tuple[FileHeader, list[bytes]]:
    """A Bill Cycle Change Response file: per subscription its new OCS instances
    (one ALLOWANCE per allowance, one SPEND_CAP for the cap), effective from `effective`."""
    rng = np.random.default_rng(seed)
    when = format_rfc3339(effective)
    lines = []
    for sub in subscriptions:
        sub = BillCycleSubscription(*sub)
        instances = [
            {"ocsId": ocs_id, "ocsInstanceId": f"inst-{rng.integers(1 << 48):012x}", "kind": "ALLOWANCE",
             "amount": amount, "unit": unit, "effectiveDateTime": when, "expiryDateTime": None}
            for ocs_id, amount, unit in sub.allowances
        ]  # fmt: skip
        if sub.spend_cap is not None:
            ocs_id, amount, currency = sub.spend_cap
            instances.append(
                {"ocsId": ocs_id, "ocsInstanceId": f"inst-{rng.integers(1 << 48):012x}", "kind": "SPEND_CAP",
                 "amount": amount, "unit": currency, "effectiveDateTime": when, "expiryDateTime": None}
            )  # fmt: skip
        record = {
            "actionItemNumber": sub.action_item_number,
            "subscriptionId": sub.subscription_id,
            "msisdn": sub.msisdn,
            "ocsInstances": instances,
            "sharedGroup": None,
        }
        lines.append(_j(record).encode() + b"\n")
    header = FileHeader(
        interface_type="Bill Cycle Change Response",
        identifier=identifier or f"synth-bcc-{seed}",
        created_at=created_at,
        record_count=len(lines),
        time_field="loadDateTime",
    )
    return header, lines
