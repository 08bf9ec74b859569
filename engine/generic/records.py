"""ParsedRecords: what parse_records returns for one block of record lines."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

#: the error table of a block: every invalid line with its text and every reason
INVALID_SCHEMA = pa.schema([("line_no", pa.int64()), ("raw", pa.string()), ("reasons", pa.list_(pa.string()))])


@dataclass(frozen=True)
class ParsedRecords:
    """The records of one block. `valid` has `line_no` (int64) then the record type's typed
    Arrow schema; `invalid` has `line_no`, `raw` (the line, invalid UTF-8 backslash-escaped)
    and `reasons` (every reason that applies, each naming the field path). Every line of the
    block is in exactly one of them."""

    valid: pa.Table
    invalid: pa.Table

    @property
    def records(self) -> int:
        """Record lines in the block (valid + invalid)."""
        return self.valid.num_rows + self.invalid.num_rows

    @property
    def errors(self) -> int:
        return self.invalid.num_rows
