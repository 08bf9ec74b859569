"""The key scan: lines pyarrow would fail on because of a key and its value, found on bytes.

Every `"key":` of a block is located (one pass for the colons), and the 8 bytes from the key's
fifth-last character to the value's first byte are read as one word: the key's last five
characters and closing quote identify it (a perfect hash of the record type's key names, built
once), the last byte says the value's JSON type. The allowance amounts that are "UNLIMITED"
are found on the way (engine.generic.block rewrites them). Three checks follow, all vectorised:

* type: the value must start with a byte its field's type allows (`"billCycleDay":"15"`,
  `"msisdn":4477…`, `"allowances":{…}` fail a pyarrow read); an array of objects must start
  with an object;
* numbers: a number token with an exponent of three digits or more than 24 characters may not
  fit a double (`1e400` fails pyarrow; a 400-digit integer pyarrow reads as infinity);
* repeated keys (pyarrow refuses them): per line, a key may appear no more often than the
  objects that can hold it. Objects are counted from their required keys found in no other
  object (a subscription: min(count of subscriptionRef, payMode, …)), from the key that holds
  them (`"customer":`), and the record itself is one. A repeat that these counts cannot see (a
  repeated optional key where another object omits it) is left to pyarrow.

Keys the schema does not know are left to pyarrow ("infer" reads them). Measured on 64 MB of
orders on the shared 2-core VM: ~110-140 ms, about 0.35x the pyarrow read it protects (a
failed read costs more: engine.generic.block), so it runs only on blocks that show bad lines.
Lines are scanned ~1 MiB at a time: over 64 MB at once the same work took 1.5x as long.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from engine.generic.record_types import RecordType
from engine.generic.rules import Node, load_rules

STRING, NUMBER, BOOLEAN, OBJECT, ARRAY, NULL = 1, 2, 4, 8, 16, 32
_CLASS = np.zeros(256, np.uint8)  # a value's first byte -> its JSON type (0: not a value)
_CLASS[[ord('"'), ord("{"), ord("["), ord("n")]] = [STRING, OBJECT, ARRAY, NULL]
_CLASS[[ord("t"), ord("f")]] = BOOLEAN
_CLASS[list(b"-0123456789N")] = NUMBER  # NaN: pyarrow reads it (and the checks refuse it);
#                          Infinity (class 0) is never allowed: pyarrow would pass it off as UNLIMITED
_UNLIMITE = np.frombuffer(b"UNLIMITE", "<u8")[0]  # after the quote; then `D"`
REWRITTEN = b"Infinity   "  # what pyarrow reads as +inf, padded to the same length
_SPACE = np.zeros(256, bool)
_SPACE[[9, 10, 13, 32]] = True
_ITEM_START = np.zeros(256, bool)  # what may follow `[` in an array of objects
_ITEM_START[[ord("{"), ord("]"), ord("n"), 9, 10, 13, 32]] = True
_NUMBER_END = np.zeros(256, bool)
_NUMBER_END[list(b",}] \t\r\n")] = True
_DIGIT = np.zeros(256, bool)
_DIGIT[list(b"0123456789")] = True
_NUMBER_CHAR = np.zeros(256, bool)
_NUMBER_CHAR[list(b"0123456789eE+-.")] = True
_KEY_BYTES = 6  # the key's last five characters and its closing quote
_KEY_MASK = np.uint64((1 << (8 * _KEY_BYTES)) - 1)
_NUMBER_WINDOW = 26
_UNBOUNDED = 1 << 40  # objects that cannot be counted: no bound from them
_CHUNK_BYTES = 1 << 20


_KIND_CLASS = {"object": OBJECT, "array": ARRAY, "boolean": BOOLEAN, "number": NUMBER, "integer": NUMBER,
               "amount": NUMBER, "string": STRING}  # an amount's "UNLIMITED" is checked on its own


@dataclass(frozen=True)
class KeyTable:
    """A perfect hash from a key's last bytes to its group (the names sharing those bytes, as
    firstName and lastName do) and the JSON types its value may have; and the record's object
    kinds, for the repeated-key counts."""

    multiplier: np.uint64
    shift: np.uint64
    words: np.ndarray  # uint64 per slot (0: empty)
    allowed: np.ndarray  # uint8 per slot: type bits (NULL always allowed)
    group_of: np.ndarray  # int64 per slot: the key's group (-1: empty)
    unlimited_ok: np.ndarray  # bool per slot: the key may be "UNLIMITED" (an amount)
    members: np.ndarray  # float64 (kinds, groups): how many of the group's names the kind holds
    counter_groups: np.ndarray  # the groups whose counts bound each kind's objects, kind after kind
    counter_offsets: np.ndarray  # where each kind's groups start in counter_groups
    root_kind: int  # the record itself: one object
    uncounted_kinds: np.ndarray  # kinds whose objects cannot be counted


def _kinds(rules: Node) -> list[tuple[dict[str, Node], list[str]]]:
    """Each object kind: (its properties, the keys whose counts bound how many there are in a
    record: its required keys found in no other kind, and the key holding it when unique)."""
    found: list[tuple[dict[str, Node], str | None]] = []

    def walk(node: Node, holder: str | None) -> None:
        found.append((node.properties, holder))
        for name, child in node.properties.items():
            if child.kind == "object":
                walk(child, name)
            elif child.kind == "array" and child.items is not None:
                walk(child.items, None)  # the holder counts lists, not their items

    walk(rules, "")
    owners: dict[str, int] = {}
    for props, _ in found:
        for name in props:
            owners[name] = owners.get(name, 0) + 1
    out = []
    for props, holder in found:
        required = [n for n, child in props.items() if owners[n] == 1 and
                    any(c.kind == "required" and c.cond is None for c in child.checks)]  # fmt: skip
        out.append((props, required + ([holder] if holder and owners.get(holder) == 1 else [])))
    return out


@cache
def key_table(rt: RecordType) -> KeyTable:
    """The key table of a record type (built once per process)."""
    kinds = _kinds(load_rules(rt.schema_path))
    classes: dict[str, int] = {}
    for props, _ in kinds:
        for name, child in props.items():
            classes[name] = classes.get(name, 0) | _KIND_CLASS[child.kind]
    by_word: dict[int, list[str]] = {}
    for name in classes:
        quoted = f'"{name}"'.encode()
        # a short key's word includes the byte before it: `{`, `,` or a space
        for v in [quoted[-_KEY_BYTES:]] if len(quoted) >= _KEY_BYTES else [p + quoted for p in (b"{", b",", b" ")]:
            by_word.setdefault(int.from_bytes(v[-_KEY_BYTES:], "little"), []).append(name)
    groups = list(dict.fromkeys(tuple(names) for names in by_word.values()))
    group_index = {g: k for k, g in enumerate(groups)}
    bits = max(6, (4 * len(by_word) - 1).bit_length())
    rng = np.random.default_rng(20261206)
    keys = np.array(sorted(by_word), np.uint64)
    shift = np.uint64(64 - bits)
    while True:  # a multiplier under which no two words share a slot
        multiplier = np.uint64(int(rng.integers(1, 1 << 62)) * 2 + 1)
        with np.errstate(over="ignore"):
            slots = ((keys * multiplier) >> shift).astype(np.int64)
        if len(np.unique(slots)) == len(keys):
            break
    words, allowed, group_of = np.zeros(1 << bits, np.uint64), np.zeros(1 << bits, np.uint8), np.full(1 << bits, -1)
    unlimited_ok = np.zeros(1 << bits, bool)
    amounts = {n for props, _ in kinds for n, child in props.items() if child.kind == "amount"}
    words[slots] = keys
    for slot, word in zip(slots.tolist(), keys.tolist()):
        names = tuple(by_word[word])
        group_of[slot] = group_index[names]
        allowed[slot] = NULL | np.bitwise_or.reduce([classes[n] for n in names])
        unlimited_ok[slot] = any(n in amounts for n in names)
    single = {g[0]: k for k, g in enumerate(groups) if len(g) == 1}
    members = np.zeros((len(kinds), len(groups)), np.float64)
    counter_groups: list[int] = []
    offsets: list[int] = []
    uncounted: list[int] = []
    for k, (props, keys_counting) in enumerate(kinds):
        for g, names in enumerate(groups):
            members[k, g] = sum(n in props for n in names)
        usable = [single[n] for n in keys_counting if n in single]
        if k > 0 and not usable:
            uncounted.append(k)
        offsets.append(len(counter_groups))
        counter_groups += usable or [0]  # a placeholder column for the root and uncounted kinds
    return KeyTable(multiplier, shift, words, allowed, group_of, unlimited_ok, members, np.array(counter_groups),
                    np.array(offsets), 0, np.array(uncounted, np.int64))  # fmt: skip


@dataclass(frozen=True)
class KeyScan:
    suspects: np.ndarray  #: lines (indices into the starts given) that pyarrow would fail on
    unlimited: np.ndarray  #: byte positions of `"UNLIMITED"` amount values (their opening quote)
    unlimited_lines: np.ndarray  #: the line of each


def scan_keys(data: bytes, arr: np.ndarray, starts: np.ndarray, table: KeyTable) -> KeyScan:
    """Scan every `"key":` of the lines at `starts` (see the module docstring), in runs of
    lines of about _CHUNK_BYTES: the arrays then stay in the CPU cache (measured: the same scan
    over 64 MB at once took 1.5x as long)."""
    n = len(arr)
    words = np.ndarray((max(n - 7, 0),), "<u8", data, 0, (1,))
    found: list[KeyScan] = []
    a = 0
    while a < len(starts):
        b = max(a + 1, int(np.searchsorted(starts, starts[a] + _CHUNK_BYTES)))
        lo, hi = int(starts[a]), int(starts[b]) if b < len(starts) else n
        part = _scan_chunk(arr, words, lo, hi, starts[a:b], table)
        found.append(KeyScan(part.suspects + a, part.unlimited, part.unlimited_lines + a))
        a = b
    if not found:
        return KeyScan(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    return KeyScan(*(np.concatenate([getattr(f, name) for f in found]) for name in ("suspects", "unlimited", "unlimited_lines")))


def _scan_chunk(arr: np.ndarray, words: np.ndarray, lo: int, hi: int, starts: np.ndarray, table: KeyTable) -> KeyScan:
    n = len(arr)
    colons = np.flatnonzero(arr[lo:hi] == 58) + lo
    colons = colons[(colons >= _KEY_BYTES) & (colons < n - 1)]
    word = words[colons - _KEY_BYTES]  # the key's last 5 characters, its quote, the colon, the value's 1st byte
    key = word & _KEY_MASK
    with np.errstate(over="ignore"):
        slot = ((key * table.multiplier) >> table.shift).astype(np.intp)
    known = np.flatnonzero(table.words[slot] == key)
    colons, slot, word = colons[known], slot[known], word[known]
    first = (word >> np.uint64(56)).astype(np.uint8)
    value_at = colons + 1
    spaced = np.flatnonzero(_SPACE[first])
    if len(spaced):  # `"key": value`: look one byte further
        value_at[spaced] += 1
        first[spaced] = arr[np.minimum(value_at[spaced], n - 1)]
    cls = _CLASS[first]
    bad = (cls & table.allowed[slot]) == 0
    strings = np.flatnonzero(bad & (cls == STRING) & table.unlimited_ok[slot])
    at = np.minimum(value_at[strings], n - 11)
    unlimited = strings[(words[at + 1] == _UNLIMITE) & (arr[at + 9] == ord("D")) & (arr[at + 10] == ord('"'))]
    bad[unlimited] = False
    lists = np.flatnonzero(cls == ARRAY)
    bad[lists] |= ~_ITEM_START[arr[np.minimum(value_at[lists] + 1, n - 1)]]
    numbers = np.flatnonzero(cls == NUMBER)
    bad[numbers] |= _huge_numbers(arr, words, value_at[numbers])
    line_of = np.repeat(np.arange(len(starts)), np.diff(np.searchsorted(colons, np.append(starts, hi))))
    suspects = np.unique(np.concatenate([line_of[bad], _repeated(line_of, table.group_of[slot], len(starts), table)]))
    return KeyScan(suspects, value_at[unlimited], line_of[unlimited])


def _huge_numbers(arr: np.ndarray, words: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Number tokens that may not fit a double: a 3-digit exponent, or over 24 characters.
    Two looks rule out nearly all: no `e`/`E` in bytes 1-5 (one word, tested bytewise), and
    bytes 8 and 9 not both number characters."""
    at = np.minimum(at, len(words) - 1)
    lower = words[at] | np.uint64(0x2020202020202020)  # `E` -> `e`; digits, `.`, `-` unchanged
    x = lower ^ np.uint64(0x6565656565656565)  # a zero byte where there was an `e`
    zero = (x - np.uint64(0x0101010101010101)) & ~x
    # an exponent of 3+ digits in a token of at most 8 characters has its `e` in bytes 1-5
    has_e = (zero & np.uint64(0x0000808080808000)) != 0
    longer = _NUMBER_CHAR[arr[np.minimum(at + 7, len(arr) - 1)]] & _NUMBER_CHAR[arr[np.minimum(at + 8, len(arr) - 1)]]
    maybe = np.flatnonzero(has_e | longer)  # 9 characters or more
    out = np.zeros(len(at), bool)
    for k in range(0, len(maybe), 1 << 16):  # in batches: a hostile line may hold millions
        out[maybe[k : k + (1 << 16)]] = _huge_tokens(arr, at[maybe[k : k + (1 << 16)]])
    return out


def _huge_tokens(arr: np.ndarray, at: np.ndarray) -> np.ndarray:
    window = arr[np.minimum(at[:, None] + np.arange(_NUMBER_WINDOW), len(arr) - 1)]
    ended = _NUMBER_END[window]
    length = np.where(ended.any(axis=1), ended.argmax(axis=1), _NUMBER_WINDOW)
    inside = np.arange(_NUMBER_WINDOW) < length[:, None]
    exp = ((window == ord("e")) | (window == ord("E"))) & inside
    has_exp = exp.any(axis=1)
    e = exp.argmax(axis=1)[:, None] + np.arange(1, 5)
    after = np.take_along_axis(window, np.minimum(e, _NUMBER_WINDOW - 1), axis=1)
    digits = _DIGIT[after] & (e < length[:, None])
    signed = (after[:, 0] == ord("+")) | (after[:, 0] == ord("-"))
    exp_digits = np.where(signed, digits[:, 1:].sum(axis=1), digits[:, :3].sum(axis=1))
    return (length > 24) | (has_exp & (exp_digits >= 3))


def _repeated(line_of: np.ndarray, group: np.ndarray, n_lines: int, table: KeyTable) -> np.ndarray:
    """Lines where some key appears more often than the objects that may hold it."""
    n_groups = table.members.shape[1]
    counts = np.bincount(line_of * n_groups + group, minlength=n_lines * n_groups).reshape(n_lines, n_groups)
    objects = np.minimum.reduceat(counts[:, table.counter_groups], table.counter_offsets, axis=1)
    objects[:, table.root_kind] = 1  # the record itself
    objects[:, table.uncounted_kinds] = _UNBOUNDED  # no way to count these objects: no bound from them
    bound = (objects.astype(np.float64) @ table.members).astype(np.int64)  # float: BLAS (int matmul is slow)
    return np.flatnonzero((counts > bound).any(axis=1))
