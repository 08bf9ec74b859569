"""Synthetic Order files: good records from pre-rendered JSON fragments and numpy draws,
with a share of bad ones (engine/synth/bad.py) spread evenly."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import BinaryIO, NamedTuple

import numpy as np

from engine.generic.header import FileHeader
from engine.synth.bad import BAD_KINDS, mutate
from engine.synth.catalog import (
    AGREEMENT_WEIGHTS,
    AGREEMENTS,
    CAP_AMOUNTS,
    DEFAULT_CREATED_AT,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    MSISDN_BASE,
    MSISDN_SEED_STRIDE,
    ORG_NOUNS,
    ORG_SUFFIXES,
    ORG_WORDS,
    POSTPAID_TARIFFS,
    PREPAID_TARIFFS,
    SERVICE_SETS,
    TARIFFS,
    TITLES,
)
from engine.synth.catalog import compact_json as _j

_TRANSLIT = str.maketrans({"Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "ß": "ss"})


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT)).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum() or ch == "-")


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
            yield OrderLine(mutate(kind, good, last_good_ref) + b"\n", kind)
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
