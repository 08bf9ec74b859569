"""Byte screens that find, before pyarrow reads a piece, the lines it would fail on.

pyarrow.json reads a clean 4 MiB piece in one call, but a call that fails returns nothing, and
each call costs ~0.3 ms before it reads a byte (measured: about 50 KB of reading). A piece with
one bad line therefore costs a failed call plus re-reads; with 1 bad record in 100, isolating
them that way took half of all the time. So once a block shows bad lines, every piece is
screened first and the lines found go to the exact Python path without a pyarrow call. The
screens may flag a line pyarrow would read (it then takes the slower path to the same
verdict), and may miss one (pyarrow still fails on it, and the piece reader isolates it): they
decide speed, never a verdict.

* Key screen: the value after each `"key":` must start with a byte its field's type allows
  (`"billCycleDay":"15"`, `"msisdn":4477…`, `"allowances":{…}` fail a pyarrow read). A key is
  recognised by its last five characters and closing quote, read as one 8-byte word with the
  colon and the value's first byte; a perfect hash of the record type's key names maps it to
  the types allowed. Keys the schema does not know are left to pyarrow ("infer" reads them).
* Escape screen, on lines holding a backslash: an escape must be one of `\\" \\\\ \\/ \\b \\f \\n \\r
  \\t \\uXXXX`, and UTF-16 surrogates must pair up (`"\\ud800"` fails pyarrow).
* Separator screen: `,}` `,]` `,,` (trailing or doubled commas) and `}{` `} {` (two values on
  one line, which pyarrow reads as two rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from engine.generic.depth import escaped

STRING, NUMBER, BOOLEAN, OBJECT, ARRAY, NULL = 1, 2, 4, 8, 16, 32
_CLASS = np.zeros(256, np.uint8)  # a value's first byte -> its JSON type (0: not a value)
_CLASS[ord('"')], _CLASS[ord("{")], _CLASS[ord("[")], _CLASS[ord("n")] = STRING, OBJECT, ARRAY, NULL
_CLASS[[ord("t"), ord("f")]] = BOOLEAN
_CLASS[list(b"-0123456789NI")] = NUMBER  # NaN and Infinity: pyarrow reads them as numbers
_SPACE = np.zeros(256, bool)
_SPACE[[9, 10, 13, 32]] = True
_ITEM_START = np.zeros(256, bool)  # what may follow `[` in an array of objects
_ITEM_START[[ord("{"), ord("]"), ord("n"), 9, 10, 13, 32]] = True
_KEY_BYTES = 6  # the key's last five characters and its closing quote
_KEY_MASK = np.uint64((1 << (8 * _KEY_BYTES)) - 1)
_SEPARATORS = (b",}", b",]", b",,", b"}{", b"} {")
_ESCAPES = np.zeros(256, bool)
_ESCAPES[list(b'"\\/bfnrtu')] = True
_HEX = np.full(256, -1, np.int64)
for _digit in b"0123456789":
    _HEX[_digit] = _digit - 48
for _letter in b"abcdef":
    _HEX[_letter] = _HEX[_letter - 32] = _letter - 87


def _json_class(typ: pa.DataType) -> int:
    if pa.types.is_struct(typ):
        return OBJECT
    if pa.types.is_list(typ):
        return ARRAY
    if pa.types.is_boolean(typ):
        return BOOLEAN
    if pa.types.is_floating(typ) or pa.types.is_integer(typ):
        return NUMBER
    return STRING


@dataclass(frozen=True)
class KeyTable:
    """A perfect hash from a key's last bytes to the JSON types its value may have."""

    multiplier: np.uint64
    shift: np.uint64
    keys: np.ndarray  # uint64 per slot (0: empty)
    allowed: np.ndarray  # uint8 per slot: type bits, NULL always allowed


@cache
def key_table(schema: pa.Schema) -> KeyTable:
    """The key table of a wire schema (every field name at every level; a name used with
    two types allows both)."""
    types: dict[str, int] = {}

    def walk(fields) -> None:
        for f in fields:
            types[f.name] = types.get(f.name, 0) | _json_class(f.type)
            if pa.types.is_struct(f.type):
                walk(f.type)
            elif pa.types.is_list(f.type) and pa.types.is_struct(f.type.value_type):
                walk(f.type.value_type)

    walk(schema)
    words: dict[int, int] = {}
    for name, cls in types.items():
        quoted = f'"{name}"'.encode()
        # a short key's word includes the byte before it: `{`, `,` or a space
        variants = [quoted[-_KEY_BYTES:]] if len(quoted) >= _KEY_BYTES else [p + quoted for p in (b"{", b",", b" ")]
        for v in variants:
            word = int.from_bytes(v.rjust(_KEY_BYTES, b"\0")[-_KEY_BYTES:], "little")
            words[word] = words.get(word, 0) | cls
    bits = max(6, (4 * len(words) - 1).bit_length())
    rng = np.random.default_rng(20261206)
    keys = np.array(sorted(words), np.uint64)
    shift = np.uint64(64 - bits)
    while True:  # a multiplier under which no two words share a slot
        multiplier = np.uint64(int(rng.integers(1, 1 << 62)) * 2 + 1)
        with np.errstate(over="ignore"):
            slots = (keys * multiplier) >> shift
        if len(np.unique(slots)) == len(keys):
            break
    table_keys = np.zeros(1 << bits, np.uint64)
    allowed = np.zeros(1 << bits, np.uint8)
    table_keys[slots.astype(np.int64)] = keys
    allowed[slots.astype(np.int64)] = [words[int(k)] | NULL for k in keys]
    return KeyTable(multiplier, shift, table_keys, allowed)


def key_suspects(data: bytes, arr: np.ndarray, table: KeyTable) -> np.ndarray:
    """Byte positions of values whose type their (known) key does not allow."""
    n = len(arr)
    if n < _KEY_BYTES + 3:
        return np.zeros(0, np.int64)
    colons = np.flatnonzero(arr[_KEY_BYTES : n - 1] == 58) + _KEY_BYTES
    # the 8 bytes from the key's 5th-last character to the value's first byte, one word each
    words = np.ndarray((n - 7,), "<u8", data, 0, (1,))[colons - _KEY_BYTES]
    key = words & _KEY_MASK
    with np.errstate(over="ignore"):
        slot = ((key * table.multiplier) >> table.shift).astype(np.int64)
    known = table.keys[slot] == key
    first = (words >> np.uint64(56)).astype(np.uint8)
    spaced = np.flatnonzero(_SPACE[first])
    if len(spaced):  # `"key": value`: look one byte further
        first[spaced] = arr[np.minimum(colons[spaced] + 2, n - 1)]
    cls = _CLASS[first]
    bad = known & ((cls & table.allowed[slot]) == 0)
    lists = np.flatnonzero(known & (cls == ARRAY))
    if len(lists):  # an array of objects must start with an object (or be empty)
        after = arr[np.minimum(colons[lists] + 2 + _SPACE[first[lists]], n - 1)]
        bad[lists[~_ITEM_START[after]]] = True
    return colons[bad]


def separator_suspects(data: bytes) -> list[int]:
    """Byte positions of separators that no valid line holds (rare: found with bytes.find)."""
    out = []
    for sep in _SEPARATORS:
        pos = data.find(sep)
        while pos >= 0:
            out.append(pos)
            pos = data.find(sep, pos + 1)
    return out


def escape_suspects(arr: np.ndarray) -> np.ndarray:
    """Byte positions of invalid escapes: an unknown escape character, `\\u` without four hex
    digits, or a UTF-16 surrogate that does not pair up."""
    esc = escaped(arr)  # the byte after each escaping backslash
    esc = esc[esc < len(arr)]
    if not len(esc):
        return esc
    bad = ~_ESCAPES[arr[esc]]
    u = esc[arr[esc] == ord("u")]
    digits = _HEX[arr[np.minimum(u[:, None] + np.arange(1, 5), len(arr) - 1)]]
    bad_u = (digits < 0).any(axis=1) | (u + 4 >= len(arr))
    code = (digits[:, 0] << 12) | (digits[:, 1] << 8) | (digits[:, 2] << 4) | digits[:, 3]
    high = ~bad_u & (code >= 0xD800) & (code <= 0xDBFF)
    low = ~bad_u & (code >= 0xDC00) & (code <= 0xDFFF)
    # a high surrogate must be followed by `\u` and a low one; a low one preceded by a high one
    nxt = np.searchsorted(u, u + 6)
    paired = np.zeros(len(u), bool)
    has_next = nxt < len(u)
    paired[has_next] = (u[nxt[has_next]] == u[has_next] + 6) & low[np.minimum(nxt[has_next], len(u) - 1)]
    paired &= high
    second = np.zeros(len(u), bool)
    second[nxt[paired]] = True
    bad_u |= (high & ~paired) | (low & ~second)
    return np.concatenate([esc[bad], u[bad_u]])


def lines_of(positions: np.ndarray | list[int], starts: np.ndarray) -> np.ndarray:
    """The line (index into `starts`) of each byte position."""
    return np.searchsorted(starts, np.asarray(positions, np.int64), side="right") - 1
