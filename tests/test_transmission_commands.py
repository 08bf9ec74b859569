"""Command builders, the answer interpreter and pacing: pure functions, no network, no database."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest

from engine.errors import CommandBuildError
from engine.transmission.answers import interpret, transport_failure
from engine.errors import DuplicateRegistration
from engine.transmission.builtins import builtin_commands
from engine.transmission.commands import CommandRegistry, CommandSpec, encode
from engine.transmission.ocs import OCS, OCS_COMMANDS
from engine.transmission.model import HttpCall, RequestRow
from engine.transmission.pacing import TokenBucket, backoff_delay
from engine.transmission.sender import NetworkTimeout

COMMANDS = builtin_commands()
SUB = "SUB-000123"
ATTRS = {
    "CREATE_SUBSCRIBER": {"subscriptionId": SUB, "msisdn": "447700900123", "tariffCode": "PAYM24-100GB",
                          "payMode": "POSTPAID", "billCycleDay": 15, "accountId": "ACC-000045",
                          "agreementId": "AGR-000045"},
    "ADD_ALLOWANCE": {"subscriptionId": SUB, "allowanceId": "ALW-1", "ocsId": "DATA-100GB", "type": "DATA",
                      "amount": 100, "unit": "GB", "recurring": True},
    "SET_SPEND_CAP": {"subscriptionId": SUB, "spendCapId": "CAP-1", "ocsId": "CAP-VALUE-FULL", "kind": "VALUE",
                      "scope": "FULL", "amount": 25.0, "unit": "GBP"},
    "ADD_CAPABILITY": {"subscriptionId": SUB, "serviceId": "SVC-1", "code": "VOLTE"},
    "ACTIVATE": {"subscriptionId": SUB, "activationDate": None},
}  # fmt: skip


def row(command: str, attrs: dict | None = None, *, rid: int = 987, account: str | None = "ACC-000045") -> RequestRow:
    return RequestRow(rid, command, 10, dict(ATTRS[command] if attrs is None else attrs), 0, account, 5001, str(rid))


def body(call: HttpCall) -> dict:
    return json.loads(call.body)


def test_ocs_commands_follow_the_api_exactly():
    call = COMMANDS.build(OCS, row("CREATE_SUBSCRIBER"))
    assert (call.method, call.path) == ("POST", "/tmf-api/serviceActivationAndConfiguration/v4/service")
    assert body(call) == {"id": SUB, "serviceCharacteristic": [
        {"name": "msisdn", "value": "447700900123"}, {"name": "tariffCode", "value": "PAYM24-100GB"},
        {"name": "payMode", "value": "POSTPAID"}, {"name": "billCycleDay", "value": 15},
        {"name": "accountId", "value": "ACC-000045"}, {"name": "agreementId", "value": "AGR-000045"}]}

    call = COMMANDS.build(OCS, row("ADD_ALLOWANCE"))
    assert (call.method, call.path) == ("POST", "/tmf-api/prepayBalanceManagement/v4/topupBalance")
    assert body(call) == {"product": {"id": SUB}, "ocsId": "DATA-100GB", "allowanceType": "DATA",
                          "amount": {"amount": 100, "units": "GB"}, "recurring": True, "commandRef": "NRL-987"}
    unlimited = dict(ATTRS["ADD_ALLOWANCE"], amount="UNLIMITED", type="VOICE", unit="MIN", recurring=False)
    assert body(COMMANDS.build(OCS, row("ADD_ALLOWANCE", unlimited)))["amount"] == {"amount": "UNLIMITED",
                                                                                    "units": "MIN"}

    call = COMMANDS.build(OCS, row("SET_SPEND_CAP"))
    # the path id is the subscription's account id, not anything in the attributes
    assert (call.method, call.path) == ("PATCH", "/tmf-api/accountManagement/v4/billingAccount/ACC-000045")
    assert body(call) == {"product": {"id": SUB}, "ocsId": "CAP-VALUE-FULL", "kind": "VALUE", "scope": "FULL",
                          "creditLimit": {"amount": 25.0, "unit": "GBP"}, "commandRef": "NRL-987"}

    call = COMMANDS.build(OCS, row("ADD_CAPABILITY"))
    assert (call.method, call.path) == ("PATCH", f"/tmf-api/serviceActivationAndConfiguration/v4/service/{SUB}")
    assert body(call) == {"serviceCharacteristic": [{"name": "capability", "value": "VOLTE"}]}

    call = COMMANDS.build(OCS, row("ACTIVATE"))
    assert (call.method, body(call)) == ("PATCH", {"state": "active"})
    delayed = COMMANDS.build(OCS, row("ACTIVATE", {"subscriptionId": SUB, "activationDate": "2026-12-01"}))
    assert body(delayed) == {"state": "active", "startDate": "2026-12-01T00:00:00Z"}

    # ids in paths are escaped
    odd = COMMANDS.build(OCS, row("ADD_CAPABILITY", dict(ATTRS["ADD_CAPABILITY"], subscriptionId="SUB/1 2")))
    assert odd.path.endswith("/service/SUB%2F1%202")


def test_bodies_are_deterministic_bytes():
    for command in ATTRS:
        reordered = dict(reversed(list(ATTRS[command].items())))
        first = COMMANDS.build(OCS, row(command))
        again = COMMANDS.build(OCS, row(command, reordered))
        assert first == again  # same method, path and bytes, whatever the attribute order
        assert b" " not in first.body and first.body == encode(json.loads(first.body))


@pytest.mark.parametrize(("command", "change", "field"), [
    ("CREATE_SUBSCRIBER", {"msisdn": "44-77"}, "msisdn"),
    ("CREATE_SUBSCRIBER", {"msisdn": None}, "msisdn"),
    ("CREATE_SUBSCRIBER", {"payMode": "LATER"}, "payMode"),
    ("CREATE_SUBSCRIBER", {"billCycleDay": 32}, "billCycleDay"),
    ("CREATE_SUBSCRIBER", {"tariffCode": ""}, "tariffCode"),
    ("ADD_ALLOWANCE", {"amount": -5}, "amount"),
    ("ADD_ALLOWANCE", {"amount": "100"}, "amount"),
    ("ADD_ALLOWANCE", {"type": "SMS"}, "type"),
    ("ADD_ALLOWANCE", {"recurring": "yes"}, "recurring"),
    ("SET_SPEND_CAP", {"amount": "UNLIMITED"}, "amount"),
    ("SET_SPEND_CAP", {"kind": "MONEY"}, "kind"),
    ("ADD_CAPABILITY", {"code": "X" * 33}, "code"),
    ("ACTIVATE", {"activationDate": "01/12/2026"}, "activationDate"),
])  # fmt: skip
def test_unbuildable_commands_raise_command_build_error(command, change, field):
    attrs = dict(ATTRS[command], **change)
    if change.get(field, "") is None:
        del attrs[field]
    with pytest.raises(CommandBuildError) as err:
        COMMANDS.build(OCS, row(command, attrs))
    assert err.value.field == field and field in str(err.value)


def test_missing_account_and_unknown_command():
    with pytest.raises(CommandBuildError, match="accountId"):
        COMMANDS.build(OCS, row("SET_SPEND_CAP", account=None))
    bill_cycle = RequestRow(1, "BILL_CYCLE_CHANGE", 10, {}, 0, None, None, "1")
    with pytest.raises(CommandBuildError, match="unknown command 'BILL_CYCLE_CHANGE' for target 'OCS'"):
        COMMANDS.build(OCS, bill_cycle)
    missing_day = dict(ATTRS["CREATE_SUBSCRIBER"])
    del missing_day["billCycleDay"]
    with pytest.raises(CommandBuildError, match="billCycleDay"):
        COMMANDS.build(OCS, row("CREATE_SUBSCRIBER", missing_day))


def test_registry_takes_another_target_without_touching_the_ocs_commands():
    registry = CommandRegistry(OCS_COMMANDS)

    def bill_cycle_change(command, attrs, request):
        return HttpCall("POST", "/openet/v1/billCycleChanges", encode({"actionItemNumber": request.action_item_number,
                                                                      "subscriptionId": attrs["subscriptionId"]}))

    registry.register(CommandSpec("OPENET", "BILL_CYCLE_CHANGE", bill_cycle_change, ("id",)))
    assert registry.commands("OPENET") == ["BILL_CYCLE_CHANGE"]
    assert registry.commands(OCS) == ["ACTIVATE", "ADD_ALLOWANCE", "ADD_CAPABILITY", "CREATE_SUBSCRIBER",
                                      "SET_SPEND_CAP"]
    call = registry.build("OPENET", RequestRow(7, "BILL_CYCLE_CHANGE", 10, {"subscriptionId": SUB}, 0, None, 5001))
    assert body(call) == {"actionItemNumber": 5001, "subscriptionId": SUB}
    with pytest.raises(DuplicateRegistration, match="already registered"):
        registry.register(CommandSpec(OCS, "ACTIVATE", bill_cycle_change))
    with pytest.raises(CommandBuildError, match="KeyError"):  # a builder's own slip is a PE too
        registry.build("OPENET", RequestRow(8, "BILL_CYCLE_CHANGE", 10, {}, 0, None, 1))


def answer(payload) -> bytes:
    return json.dumps(payload).encode()


def test_answers_map_to_statuses():
    bucket = {"id": "topup-1", "bucket": {"id": "inst-9f1c2a00000007"}}
    v = interpret(COMMANDS, OCS, "ADD_ALLOWANCE", 201, answer(bucket))
    assert (v.status, v.external_ref, json.loads(v.response)) == ("NC", "inst-9f1c2a00000007", bucket)
    v = interpret(COMMANDS, OCS, "SET_SPEND_CAP", 200, answer({"id": "ACC-1", "spendCap": {"id": "inst-2"}}))
    assert (v.status, v.external_ref) == ("NC", "inst-2")
    assert interpret(COMMANDS, OCS, "CREATE_SUBSCRIBER", 201, answer({"id": SUB})).external_ref == SUB
    assert interpret(COMMANDS, OCS, "ACTIVATE", 202, answer({"id": SUB})).status == "NA"

    def refusal(status, code):
        return interpret(COMMANDS, OCS, "ADD_ALLOWANCE", status, answer({"code": code, "reason": f"because {code}"}))

    for status, code, expected in [(409, "BUCKET_EXISTS", "NR"), (422, "NETWORK_REJECT", "NR"),
                                   (422, "UNKNOWN_SERVICE", "NR"), (422, "IDEMPOTENCY_KEY_REUSED", "PE"),
                                   (400, "INVALID_REQUEST", "PE"), (401, "UNAUTHORIZED", "PE"),
                                   (404, "NOT_FOUND", "PE"), (503, "SERVICE_UNAVAILABLE", "NE"),
                                   (429, "TOO_MANY", "NE"), (500, "BOOM", "NE")]:
        v = refusal(status, code)
        assert (v.status, v.error_code) == (expected, code), (status, code)
        assert f"because {code}" in v.error_text
        assert v.transient == (expected == "NE")
    v = interpret(COMMANDS, OCS, "ACTIVATE", 502, b"<html>bad gateway</html>")
    assert (v.status, v.error_code) == ("NE", "HTTP_502") and "bad gateway" in v.error_text
    v = transport_failure(NetworkTimeout("no answer within 2s"))
    assert (v.status, v.error_code, v.error_text) == ("NE", "TIMEOUT", "no answer within 2s")


def test_backoff_is_full_jitter_capped():
    rng = random.Random(1)
    delays = [[backoff_delay(n, 0.5, 4.0, rng) for _ in range(200)] for n in range(6)]
    for n, ds in enumerate(delays):
        ceiling = min(4.0, 0.5 * 2**n)
        assert all(0.0 <= d <= ceiling for d in ds)
        assert max(ds) > 0.8 * ceiling  # spread over the whole range (full jitter)
    assert backoff_delay(500, 0.5, 4.0, rng) <= 4.0


def test_token_bucket_limits_the_rate():
    async def take(bucket: TokenBucket, n: int) -> float:
        start = time.monotonic()
        for _ in range(n):
            await bucket.acquire()
        return time.monotonic() - start

    assert asyncio.run(take(TokenBucket(0), 1000)) < 0.5  # 0: unlimited
    elapsed = asyncio.run(take(TokenBucket(100, burst=5), 55))
    assert 0.45 <= elapsed < 1.5  # (55 - 5 burst) / 100 per second


def test_the_built_in_registries_hold_the_same_in_any_process():
    """Made from one explicit list, not filled by imports: a process that imports only the queue
    (the Store's request log) knows every command's effects, Openet's and insurance's included."""
    import subprocess
    import sys

    code = ("from engine.transmission import queue; from engine.transmission.builtins import builtin_commands, "
            "builtin_effects; print(builtin_effects().names()); print(builtin_commands().names())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == str(["ADD_ALLOWANCE", "ADD_CAPABILITY", "ADD_INSURANCE", "BILL_CYCLE_CHANGE", "SET_SPEND_CAP"])
    assert out[1] == str([(OCS, c) for c in ("ACTIVATE", "ADD_ALLOWANCE", "ADD_CAPABILITY", "CREATE_SUBSCRIBER",
                                              "SET_SPEND_CAP")] + [("OPENET", "BILL_CYCLE_CHANGE")])
    with pytest.raises(CommandBuildError, match=r"unknown command 'ADD_INSURANCE' for target 'OCS' \(known: ACTIVATE"):
        COMMANDS.spec(OCS, "ADD_INSURANCE")
