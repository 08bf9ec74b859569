"""The cmp.toml `cmpctl init` writes is generated from the config classes: every key with its
default and meaning, commented out; the insurance partner active; examples that load."""

from __future__ import annotations

import dataclasses
import re
import tomllib

from engine import config as cfg
from engine.config.introspect import field_types, is_section, table_map
from engine.config.template import INSURANCE, examples, render

UNCOMMENT = re.compile(r"^#(?=[A-Za-z_\[])", re.MULTILINE)  # "#key = …", "#[table]"; prose is "# …"


def test_the_template_loads_as_the_defaults_plus_the_insurance_partner(tmp_path):
    (tmp_path / "cmp.toml").write_text(cfg.DEFAULT_TOML)
    config = cfg.load_config(tmp_path, env={})
    expected = cfg.Config(home=tmp_path.resolve(), extract=cfg.ExtractConfig(partners={"insurance": INSURANCE}))
    assert config == expected
    assert config.extract.partners["insurance"].columns["policy_ref"] == "requestId"


def test_every_commented_out_line_is_config_at_its_default(tmp_path):
    """Uncommented, the whole file is a valid config: each shown default is the real default,
    and the examples are tables the loader accepts."""
    text = UNCOMMENT.sub("", render())
    (tmp_path / "cmp.toml").write_text(text)
    config = cfg.load_config(tmp_path, env={})
    defaults = cfg.to_dict(cfg.Config(home=tmp_path.resolve()), reveal=True)
    loaded = cfg.to_dict(config, reveal=True)
    for section in ("ray", "network", "daemons", "load", "telemetry", "keys", "bill_cycle", "notify", "scheduler"):
        assert loaded[section] == defaults[section], section
    assert loaded["extract"]["max_records_per_file"] == defaults["extract"]["max_records_per_file"]
    shown = examples()
    for table in ("probes", "schedules"):
        for name, entry in shown[table].items():
            assert getattr(config, table)[name] == entry, f"{table}.{name}"
    assert config.probes["provisioning_errors"] == cfg.Config().probes["provisioning_errors"]


def test_every_key_is_in_the_template():
    tree = tomllib.loads(UNCOMMENT.sub("", render()))

    def walk(cls, node, path):
        types_ = field_types(cls)
        for f in dataclasses.fields(cls):
            if cls is cfg.Config and f.name == "home":
                continue
            if is_section(types_[f.name]):
                walk(types_[f.name], node.get(f.name, {}), f"{path}{f.name}.")
            elif table_map(types_[f.name]) is None:
                assert f.name in node, f"{path}{f.name} is missing from the template"

    walk(cfg.Config, tree, "")
    text = render()
    for key in dataclasses.fields(cfg.ProbeConfig):  # named tables' keys are listed in prose
        assert re.search(rf"^#   {key.name} ", text, re.MULTILINE), key.name


def test_the_template_says_what_each_daemon_does():
    text = render()
    assert "# Load/Provisioning/FromGenericFormat: loads Order, Response files dropped into" in text
    assert "#[daemons.ocs_adaptor]\n#enabled = true" in text
    assert "#poll_seconds = 0.5" in text
    assert "# The network endpoint of target OPENET, served by Transmission/Provisioning/OpenetBillCycleadaptor" in text
    assert '\nshard_bytes = "64MiB" ' in text and '#max_line_bytes = "16MiB" ' in text
    assert "Built in: provisioning_errors, adaptor_errors" in text
    prose = [line for line in text.splitlines() if line.startswith("# ") and not re.match(r"#   \w+ [=(]", line)]
    assert max(len(line) for line in prose) <= 100


def test_a_template_value_never_holds_a_secret():
    assert re.search(r'^token = "" ', render(), re.MULTILINE) and '#password = ""' in render()


def test_what_init_has_always_written_active_stays_active(tmp_path):
    """The keys operators (and scripts) edit in place are set, in the same tables as before;
    the other sections are commented out, so that they can be appended to the file."""
    text = render()
    assert re.findall(r"^\[.*\]$", text, re.MULTILINE) == [
        "[ray]", "[network.ocs]", "[network.openet]", "[load]", "[telemetry]", "[extract.partners.insurance]",
        "[notify.smtp]", "[scheduler]"]
    for line in ("dashboard_port = 8265", 'url = ""', 'shard_bytes = "64MiB"', 'timezone = "Europe/London"',
                 "recipients = []", 'exporter = "file"', "starttls = false"):
        assert re.search(rf"^{re.escape(line)}(\s|$)", text, re.MULTILINE), line
    edited = text.replace("dashboard_port = 8265", "dashboard_port = 18265")
    appended = '[bill_cycle]\nfile_partner = "bureau"\n[daemons.ocs_adaptor]\nenabled = false\n[probes.x]\nquery = "SELECT 1"\nwarning = 1\n'
    (tmp_path / "cmp.toml").write_text(edited + "\n" + appended)
    config = cfg.load_config(tmp_path, env={})
    assert config.ray.dashboard_port == 18265 and config.bill_cycle.file_partner == "bureau"
    assert not config.daemons.ocs_adaptor.enabled and config.daemons.ocs_adaptor.poll_seconds == 0.5
    assert config.probes["x"].query == "SELECT 1"
