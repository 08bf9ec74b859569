"""The reference data synthetic orders draw from: names, a tariff catalogue, spend caps,
service sets and agreements; and the compact JSON spelling records are built from."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np

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


def compact_json(value: object) -> str:
    """``value`` as JSON the way the generated files spell it: UTF-8 text, no spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
