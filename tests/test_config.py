"""Typed config: cmp.toml < CMP_* env < flags; unknown keys rejected; secrets redacted."""

import pickle

import pytest

from engine.config import DEFAULT_TOML, Config, Secret, load_config, parse_size, to_dict
from engine.errors import ConfigError


@pytest.fixture
def home(tmp_path):
    (tmp_path / "cmp.toml").write_text(DEFAULT_TOML)
    return tmp_path


def test_defaults_without_a_file(tmp_path):
    cfg = load_config(tmp_path, env={})
    assert cfg == Config(home=tmp_path.resolve())
    assert cfg.load.shard_bytes == 64 * 2**20
    assert cfg.db_path == tmp_path.resolve() / "data" / "cmp.duckdb"


def test_precedence_file_then_env_then_flags(home):
    (home / "cmp.toml").write_text('[load]\nmax_error_ratio = 0.2\nshard_bytes = "1MiB"\n')
    cfg = load_config(home, env={"CMP_LOAD__MAX_ERROR_RATIO": "0.3"})
    assert cfg.load.max_error_ratio == 0.3
    assert cfg.load.shard_bytes == 2**20
    cfg = load_config(home, env={"CMP_LOAD__MAX_ERROR_RATIO": "0.3"}, overrides={"load.max_error_ratio": 0.4})
    assert cfg.load.max_error_ratio == 0.4


def test_nested_env_and_types(home):
    cfg = load_config(
        home,
        env={
            "CMP_NETWORK__OCS__URL": "http://127.0.0.1:9",
            "CMP_NETWORK__OCS__MAX_IN_FLIGHT": "8",
            "CMP_DAEMONS__OCS_ADAPTOR__ENABLED": "off",
            "CMP_KEYS__RECIPIENTS": "age1a,age1b",
            "CMP_HOME": "/elsewhere",  # not a config key
        },
    )
    assert cfg.network.ocs.url == "http://127.0.0.1:9"
    assert cfg.network.ocs.max_in_flight == 8
    assert cfg.daemons.ocs_adaptor.enabled is False
    assert cfg.keys.recipients == ("age1a", "age1b")


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[load]\nshard_byte = 1\n", "did you mean 'shard_bytes'"),
        ("[lod]\n", "unknown config key 'lod'"),
        ("load = 3\n", "must be a table"),
        ("[load]\nmax_error_ratio = 'lots'\n", "load.max_error_ratio"),
        ("[load]\nmax_error_ratio = 2\n", "between 0 and 1"),
        ("[telemetry]\nexporter = 'carrier-pigeon'\n", "telemetry.exporter"),
        ("[daemons.ocs_adaptor]\nenabled = 'maybe'\n", "true or false"),
        ("[load\n", "not valid TOML"),
    ],
)
def test_bad_config_is_rejected_with_the_key(home, toml, message):
    (home / "cmp.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("'", "'")):
        load_config(home, env={})


def test_unknown_env_key_names_the_variable(home):
    with pytest.raises(ConfigError, match="CMP_NETWORK__OCS__URLL"):
        load_config(home, env={"CMP_NETWORK__OCS__URLL": "x"})


def test_secrets_are_redacted_everywhere(home):
    cfg = load_config(home, env={"CMP_NETWORK__OCS__TOKEN": "hunter2"})
    assert cfg.network.ocs.token.reveal() == "hunter2"
    assert "hunter2" not in repr(cfg)
    assert "hunter2" not in str(to_dict(cfg))
    assert to_dict(cfg, reveal=True)["network"]["ocs"]["token"] == "hunter2"
    assert repr(Secret("")) == "Secret('')"


def test_config_pickles_for_ray(home):
    cfg = load_config(home, env={"CMP_NETWORK__OCS__TOKEN": "t"})
    assert pickle.loads(pickle.dumps(cfg)) == cfg


def test_sizes():
    assert parse_size("65536") == 65536
    assert parse_size("64MiB") == 64 * 2**20
    assert parse_size("1GB") == 10**9
    with pytest.raises(ValueError):
        parse_size("lots")


def test_schedule_params_from_the_environment(home):
    """The reference promises `params` as "k=v,k=v" from the environment (a table in the file)."""
    cfg = load_config(home, env={"CMP_SCHEDULES__PROVISIONING__PARAMS": "batch=7, mode = dry"})
    assert cfg.schedules["provisioning"].params == {"batch": "7", "mode": "dry"}
    assert cfg.schedules["provisioning"].job == "provisioning"  # the rest of the built-in stays
    (home / "cmp.toml").write_text('[schedules.provisioning]\nparams = { batch = "3" }\n')
    assert load_config(home, env={}).schedules["provisioning"].params == {"batch": "3"}
    assert load_config(home, env={"CMP_SCHEDULES__PROVISIONING__PARAMS": ""}).schedules["provisioning"].params == {}


def test_schedule_params_that_are_not_pairs_are_refused(home):
    with pytest.raises(ConfigError, match=r"schedules\.provisioning\.params.*key=value"):
        load_config(home, env={"CMP_SCHEDULES__PROVISIONING__PARAMS": "batch"})
