"""The generic-file format: header, record types, reader/validator, writer (FORMATS.md).

Plaintext only: the age envelope is engine.age's business.
"""

from engine.generic.header import INTERFACE_TYPES, FileHeader, parse_header
from engine.generic.parse import INVALID_SCHEMA, ParsedRecords, parse_records
from engine.generic.reader import read_generic
from engine.generic.record_types import RECORD_TYPES, RecordType, RecordTypeRegistry, record_type
from engine.generic.writer import write_generic

__all__ = [
    "INTERFACE_TYPES",
    "INVALID_SCHEMA",
    "RECORD_TYPES",
    "FileHeader",
    "ParsedRecords",
    "RecordType",
    "RecordTypeRegistry",
    "parse_header",
    "parse_records",
    "read_generic",
    "record_type",
    "write_generic",
]
