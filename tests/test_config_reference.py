"""The README's configuration reference is generated from the config classes and kept current;
named tables ([schedules.<name>], …) overlay their built-in entries key by key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine import config as cfg
from engine.config_reference import END, START, render
from engine.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_reference_is_current():
    text = README.read_text()
    block = text[text.index(START): text.index(END) + len(END)]
    assert block == render(), "run: python -m engine.config_reference --write README.md"


def test_every_key_is_documented():
    for line in render().splitlines():
        if line.startswith("| `"):
            key, default, meaning = (cell.strip() for cell in line.strip("|").split("|"))
            assert meaning, f"{key} has no comment in engine/config/"


def test_named_tables_overlay_builtins(tmp_path):
    (tmp_path / "cmp.toml").write_text(
        '[schedules.provisioning]\ncron = "*/5 * * * *"\n'
        '[schedules.nightly_extract_check]\njob = "provisioning"\ncron = "0 2 * * *"\n')
    config = cfg.load_config(tmp_path, env={"CMP_SCHEDULES__RECONCILIATION__ENABLED": "false"})
    builtin = cfg.Config().schedules["provisioning"]
    assert config.schedules["provisioning"].cron == "*/5 * * * *"
    # keys not given keep the built-in's values
    assert config.schedules["provisioning"].job == builtin.job
    assert config.schedules["provisioning"].catch_up == builtin.catch_up
    assert config.schedules["reconciliation"].enabled is False
    assert config.schedules["nightly_extract_check"].cron == "0 2 * * *"
    assert cfg.to_dict(config)["schedules"]["provisioning"]["cron"] == "*/5 * * * *"


@pytest.mark.parametrize("toml, message", [
    ('[schedules.provisioning]\ncrn = "* * * * *"\n', "did you mean 'cron'"),
    ('[schedules]\nprovisioning = 3\n', "named tables"),
])
def test_named_table_mistakes_are_refused(tmp_path, toml, message):
    (tmp_path / "cmp.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        cfg.load_config(tmp_path, env={})


def test_named_table_fields_are_dicts_of_sections():
    from engine.config.introspect import field_types, table_map

    kinds = {f.name: table_map(field_types(cfg.Config)[f.name]) for f in dataclasses.fields(cfg.Config)}
    assert kinds["schedules"] is not None and kinds["probes"] is not None


def test_reference_defaults_are_the_real_defaults():
    """Each key's default in the reference is what Config() holds (a daemon's poll_seconds comes
    from its row of engine/daemons.py, not from the DaemonConfig class)."""
    from engine.config_reference import _show

    plain = cfg.to_dict(cfg.Config(), reveal=True)
    checked = 0
    for line in render().splitlines():
        if line.startswith("| `") and "<name>" not in line:
            key, default, _ = (cell.strip() for cell in line.strip("|").split("|"))
            value = plain
            for part in key.strip("`").split("."):
                value = value[part]
            if "(secret)" not in default:
                assert default == _show(tuple(value) if isinstance(value, list) else value), key
            checked += 1
    assert checked > 40
    assert "| `daemons.ocs_adaptor.poll_seconds` | `0.5` |" in render()
