"""Registry of generic-file record types: interface type, JSON Schema file, Arrow schema, key.

The Arrow schema of a record type is explicit and mirrors the JSON (camelCase names, nested
structs and lists), with typed leaves: dates are date32, times timestamp[us, UTC], integers
int64, numbers float64. An allowance amount of "UNLIMITED" is carried as +infinity (JSON has
no infinity, so it cannot mean anything else). The *wire* schema that pyarrow.json reads is
derived from it: dates and times stay strings until they are checked, and integers are read as
float64 so that `15.0` (a valid JSON Schema integer) parses; both are cast after validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow as pa

from engine.generic.header import INTERFACE_TYPES

#: schemas/ at the project root (published to partners; the validator compiles the same files)
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"

STR = pa.string()
INT = pa.int64()
NUM = pa.float64()
BOOL = pa.bool_()
DATE = pa.date32()
TIME = pa.timestamp("us", tz="UTC")


def _struct(*fields: tuple[str, pa.DataType]) -> pa.StructType:
    return pa.struct([pa.field(name, typ) for name, typ in fields])


_SHARED_GROUP = _struct(("sharedGroupId", STR), ("ocsSharedGroupId", STR))

ORDER_SCHEMA = pa.schema(
    [
        ("orderRef", STR),
        ("customer", _struct(
            ("type", STR), ("title", STR), ("firstName", STR), ("lastName", STR),
            ("dateOfBirth", DATE), ("organisationName", STR), ("registrationNumber", STR),
            ("email", STR),
        )),
        ("account", _struct(("paymentType", STR), ("currency", STR))),
        ("agreement", _struct(("billFrequency", STR), ("billCycleDay", INT), ("cycleLengthDays", INT))),
        ("subscriptions", pa.list_(_struct(
            ("subscriptionRef", STR), ("payMode", STR), ("msisdn", STR), ("tariffCode", STR),
            ("activation", STR), ("activationDate", DATE),
            ("allowances", pa.list_(_struct(("type", STR), ("amount", NUM), ("unit", STR), ("recurring", BOOL)))),
            ("spendCap", _struct(("kind", STR), ("scope", STR), ("amount", NUM))),
            ("services", pa.list_(_struct(("type", STR), ("code", STR)))),
        ))),
    ]
)  # fmt: skip

REQUEST_SCHEMA = pa.schema(
    [
        ("requestId", STR), ("actionItemNumber", INT), ("subscriptionId", STR), ("accountId", STR),
        ("agreementId", STR), ("command", STR), ("sequence", INT),
        ("commandAttributes", pa.list_(_struct(("name", STR), ("value", STR)))),
    ]
)  # fmt: skip

RESPONSE_SCHEMA = pa.schema(
    [
        ("requestId", STR), ("actionItemNumber", INT), ("isSuccess", BOOL),
        ("commandSentTimeStamp", TIME), ("errorCode", STR), ("errorText", STR), ("externalRef", STR),
    ]
)  # fmt: skip

BCC_REQUEST_SCHEMA = pa.schema(
    [
        ("actionItemNumber", INT), ("subscriptionId", STR), ("msisdn", STR),
        ("oldBillCycleDay", INT), ("newBillCycleDay", INT), ("effectiveDateTime", TIME),
        ("sharedGroups", pa.list_(_SHARED_GROUP)),
    ]
)  # fmt: skip

BCC_RESPONSE_SCHEMA = pa.schema(
    [
        ("actionItemNumber", INT), ("subscriptionId", STR), ("msisdn", STR),
        ("ocsInstances", pa.list_(_struct(
            ("ocsId", STR), ("ocsInstanceId", STR), ("kind", STR), ("amount", NUM), ("unit", STR),
            ("effectiveDateTime", TIME), ("expiryDateTime", TIME),
        ))),
        ("sharedGroup", _SHARED_GROUP),
    ]
)  # fmt: skip


@dataclass(frozen=True)
class RecordType:
    """One kind of record line: what the header's interfaceType names and how it is read."""

    name: str  #: short name, also the schema file stem: "order"
    interface_type: str  #: the header's interfaceType: "Order"
    schema_file: str  #: file name under schemas/
    arrow_schema: pa.Schema  #: typed columns of a valid-records table (after line_no)
    key_field: str  #: top-level field unique within a file: "orderRef"

    @property
    def schema_path(self) -> Path:
        return SCHEMA_DIR / self.schema_file

    @cached_property
    def wire_schema(self) -> pa.Schema:
        """The schema pyarrow.json reads with: dates/times as strings, integers as float64."""
        return _wire(self.arrow_schema)


def _wire_type(typ: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(typ):
        return pa.struct([pa.field(f.name, _wire_type(f.type)) for f in typ])
    if pa.types.is_list(typ):
        return pa.list_(_wire_type(typ.value_type))
    if pa.types.is_date(typ) or pa.types.is_timestamp(typ):
        return STR
    if pa.types.is_integer(typ):
        return NUM
    return typ


def _wire(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _wire_type(f.type)) for f in schema])


BUILTIN_RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType("order", "Order", "order.schema.json", ORDER_SCHEMA, "orderRef"),
    RecordType("request", "Request", "request.schema.json", REQUEST_SCHEMA, "requestId"),
    RecordType("response", "Response", "response.schema.json", RESPONSE_SCHEMA, "requestId"),
    RecordType(
        "bill-cycle-change-request",
        "Bill Cycle Change Request",
        "bill-cycle-change-request.schema.json",
        BCC_REQUEST_SCHEMA,
        "actionItemNumber",
    ),
    RecordType(
        "bill-cycle-change-response",
        "Bill Cycle Change Response",
        "bill-cycle-change-response.schema.json",
        BCC_RESPONSE_SCHEMA,
        "actionItemNumber",
    ),
)


class RecordTypeRegistry:
    """Record types by name and by interfaceType; registering a name twice raises."""

    def __init__(self, entries: tuple[RecordType, ...] = ()) -> None:
        self._by_name: dict[str, RecordType] = {}
        self._by_interface: dict[str, RecordType] = {}
        for entry in entries:
            self.register(entry)

    def register(self, entry: RecordType) -> RecordType:
        if entry.name in self._by_name:
            raise ValueError(f"record type {entry.name!r} is already registered")
        if entry.interface_type in self._by_interface:
            raise ValueError(f"interfaceType {entry.interface_type!r} is already registered")
        if entry.key_field not in entry.arrow_schema.names:
            raise ValueError(f"key field {entry.key_field!r} is not a top-level field of {entry.name!r}")
        self._by_name[entry.name] = entry
        self._by_interface[entry.interface_type] = entry
        return entry

    def by_name(self, name: str) -> RecordType:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown record type {name!r}; known: {sorted(self._by_name)}") from None

    def for_interface(self, interface_type: str) -> RecordType:
        """The record type of a header's interfaceType (or of a record type name)."""
        entry = self._by_interface.get(interface_type) or self._by_name.get(interface_type)
        if entry is None:
            raise KeyError(f"unknown interfaceType {interface_type!r}; known: {sorted(self._by_interface)}")
        return entry

    def __iter__(self):
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)


RECORD_TYPES = RecordTypeRegistry(BUILTIN_RECORD_TYPES)
assert {r.interface_type for r in RECORD_TYPES} == set(INTERFACE_TYPES)


def record_type(interface_type: str) -> RecordType:
    """The built-in record type for an interfaceType ("Order") or a name ("order")."""
    return RECORD_TYPES.for_interface(interface_type)
