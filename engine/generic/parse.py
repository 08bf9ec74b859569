"""parse_records: one block of complete record lines -> ParsedRecords (valid and invalid tables).

The hot path of a load: shard workers call it on decrypted blocks in parallel processes. It is
vectorised end to end: byte screens first (engine.generic.block: depth, bad bytes, and the key
scan of engine.generic.keyscreen), so that no parser sees a hostile line and pyarrow.json reads
each 4 MiB piece in one call (engine.generic.pieces); then pyarrow.compute checks every rule
(engine.generic.validate) and engine.generic.assemble merges. Python touches only the lines set
aside (engine.generic.explain), which still get exact reasons.
"""

from __future__ import annotations

from engine.errors import FormatError
from engine.generic.assemble import assemble
from engine.generic.block import Preset, screen_block
from engine.generic.depth import DEFAULT_MAX_DEPTH
from engine.generic.keyscreen import key_table
from engine.generic.pieces import PIECE_BYTES, PieceReader
from engine.generic.record_types import record_type
from engine.generic.records import INVALID_SCHEMA, ParsedRecords
from engine.generic.rules import load_rules

__all__ = ["INVALID_SCHEMA", "ParsedRecords", "parse_records"]


def parse_records(
    data: bytes | bytearray | memoryview,
    interface_type: str,
    first_line_no: int,
    *,
    file: str,
    max_depth: int = DEFAULT_MAX_DEPTH,
    preset: dict[int, Preset] | None = None,
    piece_bytes: int = PIECE_BYTES,
) -> ParsedRecords:
    """Parse and validate a block of complete record lines.

    `data` holds whole `\\n`-terminated lines (the last line of a file may lack its `\\n`; a `\\r`
    before `\\n` is tolerated, as JSON whitespace). `first_line_no` is the file line number of
    its first line (a whole file's records start at 2). Every line becomes one row of `valid` or
    of `invalid`; a bad record never raises (an unknown interface type is a FormatError).
    A line nested deeper than `max_depth` is invalid without any parser seeing it. `preset`
    gives lines (by index in the block) already judged by the caller, as (raw head, reason):
    the reader's over-long lines, which it replaced by empty lines.
    """
    try:
        rt = record_type(interface_type)
    except KeyError as exc:
        raise FormatError(str(exc.args[0]), file=file, field="interfaceType") from None
    block = screen_block(bytes(data), key_table(rt), max_depth, preset)
    reader = PieceReader(block, rt, load_rules(rt.schema_path))
    reader.read_block(piece_bytes)
    return assemble(reader, first_line_no)
