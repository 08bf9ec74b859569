"""The daemon table (engine/daemons.py) is the one declaration of the daemons: config sections,
home folders, actor names, load routing, extract routing, probe subjects and the actors
start_engine makes all follow from it, and they agree with one another."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest

from engine import daemons
from engine.config import DAEMON_NAMES, Config, ConfigError, load_config
from engine.daemons import DAEMONS, EXTRACT, LOAD, TRANSMISSION, Daemon, Inbound, of_kind
from engine.errors import FormatError

#: What the dashboard and `cmpctl daemons list` have always shown (DOMAIN.md): must not change.
ACTOR_NAMES = {
    "load_provisioning": "Load/Provisioning/FromGenericFormat",
    "load_bill_cycle": "Load/Provisioning/FromGenericFormat(BillCycleChange)",
    "ocs_adaptor": "Transmission/Provisioning/OCSadaptor",
    "openet_adaptor": "Transmission/Provisioning/OpenetBillCycleadaptor",
    "extract_provisioning": "Extract/Provisioning/ToGenericFormat",
    "extract_bill_cycle": "Extract/Provisioning/ToGenericFormat(BillCycleChange)",
}


def test_names_are_as_before():
    assert {d.config_name: d.actor_name for d in DAEMONS} == ACTOR_NAMES
    assert DAEMON_NAMES == tuple(ACTOR_NAMES)
    assert daemons.daemon("ocs_adaptor").identity == {
        "name": "Transmission/Provisioning/OCSadaptor", "daemon_type": "Transmission", "category": "Provisioning",
        "activity": "OCS adaptor"}
    with pytest.raises(KeyError, match="no daemon 'ocs'.*known: load_provisioning"):
        daemons.daemon("ocs")


def test_config_sections_follow_the_table(tmp_path):
    config = Config()
    for d in DAEMONS:
        assert config.daemons.get(d.config_name).poll_seconds == d.poll_seconds
    for d in of_kind(TRANSMISSION):
        assert config.network.get(d.endpoint).url == ""
    config = load_config(tmp_path, env={"CMP_DAEMONS__EXTRACT_BILL_CYCLE__POLL_SECONDS": "3"})
    assert config.daemons.extract_bill_cycle.poll_seconds == 3.0
    assert config.daemons.extract_provisioning.poll_seconds == 10.0
    with pytest.raises(ConfigError, match="did you mean 'ocs_adaptor'"):
        load_config(tmp_path, env={"CMP_DAEMONS__OCS_ADAPTER__ENABLED": "false"})
    with pytest.raises(ConfigError, match=r"no section \[daemons.nope\]"):
        config.daemons.get("nope")


def test_home_folders_follow_the_table(home):
    assert sorted(p.name for p in (home / "inbound").iterdir()) == sorted(d.config_name for d in of_kind(LOAD))
    assert sorted(p.name for p in (home / "outbound").iterdir()) == sorted(d.config_name for d in of_kind(EXTRACT))


def test_load_routing_follows_the_table():
    from engine.loading.pipeline import DAEMON_TYPES
    from engine.loading.submit import daemon_for

    assert DAEMON_TYPES == {"load_provisioning": {"Order": ("provisioning",), "Response": ("response_handling",)},
                            "load_bill_cycle": {"Bill Cycle Change Response": ("reconciliation",)}}
    for d in of_kind(LOAD):
        for inbound in d.inbound:
            assert daemon_for(inbound.interface_type, "f.jsonl.age") == d.config_name
    with pytest.raises(FormatError, match="no Load daemon takes interfaceType 'Request'"):
        daemon_for("Request", "f.jsonl.age")


@pytest.mark.parametrize("command", ["BILL_CYCLE_CHANGE", "ADD_INSURANCE", "REMOVE_INSURANCE", "ACTIVATE"])
def test_extract_routing_and_probe_subjects_agree(command):
    """The SQL that picks a daemon's FILE: requests and the daemon a probe names are one routing."""
    from engine.extract.ledger import EXTRACT_DAEMONS

    con = duckdb.connect()
    con.execute("CREATE TABLE network_requests AS SELECT ? AS command", [command])
    takers = [name for name, (_, where) in EXTRACT_DAEMONS.items()
              if con.execute(f"SELECT count(*) FROM network_requests o WHERE {where}").fetchone()[0]]
    served_by = daemons.serving_daemon("FILE:bureau", command)
    assert served_by is not None and takers == [served_by.config_name]
    assert daemons.target_subject("FILE:bureau", command) == f"{served_by.actor_name} (FILE:bureau)"
    expected = "extract_bill_cycle" if command == "BILL_CYCLE_CHANGE" else "extract_provisioning"
    assert served_by.config_name == expected
    assert EXTRACT_DAEMONS[expected][0] == served_by.writes


def test_network_targets_name_their_transmission_daemon():
    assert daemons.target_subject("OCS") == "Transmission/Provisioning/OCSadaptor (OCS)"
    assert daemons.target_subject("OPENET", "BILL_CYCLE_CHANGE") == \
        "Transmission/Provisioning/OpenetBillCycleadaptor (OPENET)"
    assert daemons.target_subject("ELSEWHERE") == "ELSEWHERE"


def test_start_engine_has_an_actor_class_for_every_kind():
    from actors.engine import ACTOR_CLASSES

    assert set(ACTOR_CLASSES) == {d.kind for d in DAEMONS} == set(daemons.DaemonKind)


@pytest.mark.parametrize("row, message", [
    (dict(kind=LOAD), "Load daemons need inbound"),
    (dict(kind=LOAD, inbound=(Inbound("X", ()),), target="OCS"), "target is not for Load daemons"),
    (dict(kind=TRANSMISSION, target="OCS"), "need endpoint"),
    (dict(kind=EXTRACT, writes="Request", endpoint="ocs"), "endpoint is not for Extract daemons"),
    (dict(kind=TRANSMISSION, target="X", endpoint="x", commands=("ADD",)), "commands is not for"),
])
def test_a_row_gives_what_its_kind_needs(row, message):
    with pytest.raises(ValueError, match=message):
        Daemon("x", category="Provisioning", activity="X", poll_seconds=1.0, **row)


def test_the_table_refuses_a_name_or_route_declared_twice():
    twin = dataclasses.replace(DAEMONS[0], config_name="load_again", activity="Again")
    with pytest.raises(ValueError, match="inbound interface type is declared twice"):
        daemons._check((*DAEMONS, twin))
    catch_all = dataclasses.replace(daemons.daemon("extract_provisioning"), config_name="extract_more", activity="More")
    with pytest.raises(ValueError, match="at most one Extract daemon"):
        daemons._check((*DAEMONS, catch_all))


def test_a_section_given_in_part_keeps_its_daemons_defaults(tmp_path):
    """[daemons.ocs_adaptor] enabled = false must not reset its poll_seconds to the class's 2.0."""
    (tmp_path / "cmp.toml").write_text("[daemons.ocs_adaptor]\nenabled = false\n[daemons.extract_bill_cycle]\n")
    config = load_config(tmp_path, env={"CMP_DAEMONS__OPENET_ADAPTOR__ENABLED": "off"})
    assert config.daemons.ocs_adaptor == dataclasses.replace(Config().daemons.ocs_adaptor, enabled=False)
    assert config.daemons.ocs_adaptor.poll_seconds == 0.5
    assert config.daemons.openet_adaptor.poll_seconds == 1.0 and not config.daemons.openet_adaptor.enabled
    assert config.daemons.extract_bill_cycle.poll_seconds == 10.0
