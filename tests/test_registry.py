"""The one registry (engine/registry.py): duplicates raise, unknown names are named, order is stable."""

from dataclasses import dataclass

import pytest

from engine.errors import CommandBuildError, DuplicateRegistration, UsageError
from engine.registry import Registry


@dataclass(frozen=True)
class Entry:
    name: str
    value: int = 0


def test_entries_are_found_listed_and_iterated_in_key_order():
    reg = Registry("widget", lambda e: e.name, [Entry("b", 2), Entry("a", 1)])
    assert reg.get("a") == Entry("a", 1)
    assert reg.names() == ["a", "b"]
    assert [e.value for e in reg] == [1, 2]
    assert "a" in reg and "c" not in reg and len(reg) == 2
    assert reg.register(Entry("c")) == Entry("c") and reg.names() == ["a", "b", "c"]


def test_a_duplicate_raises_and_keeps_the_first():
    reg = Registry("widget", lambda e: e.name, [Entry("a", 1)])
    with pytest.raises(DuplicateRegistration, match="widget 'a' is already registered"):
        reg.register(Entry("a", 2))
    assert reg.get("a").value == 1
    with pytest.raises(DuplicateRegistration):
        Registry("widget", lambda e: e.name, [Entry("x"), Entry("x")])


def test_an_unknown_name_raises_naming_the_known_ones():
    reg = Registry("widget", lambda e: e.name, [Entry("b"), Entry("a")])
    with pytest.raises(UsageError, match="unknown widget 'zz'") as err:
        reg.get("zz")
    assert err.value.hint == "known: a, b"
    assert "known: none" in str(pytest.raises(UsageError, Registry("w", lambda e: e.name).get, "x").value)


def test_tuple_keys_and_a_custom_error():
    def missing(key, known):
        return CommandBuildError(f"no {key[1]} for {key[0]} (known: {', '.join(c for t, c in known if t == key[0])})")

    reg = Registry("command", lambda e: ("T", e.name), [Entry("GO"), Entry("STOP")], missing=missing)
    assert reg.get(("T", "GO")).name == "GO"
    with pytest.raises(CommandBuildError, match=r"no JUMP for T \(known: GO, STOP\)"):
        reg.get(("T", "JUMP"))
    with pytest.raises(DuplicateRegistration, match="command 'T/GO'"):
        reg.register(Entry("GO"))
