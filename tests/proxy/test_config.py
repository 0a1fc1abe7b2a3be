from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config import ConfigError, from_handoff, handoff, load_settings


def test_config_defaults_are_embedded() -> None:
    s = load_settings(environ={})
    assert s.store == "memory" and s.port == 8080 and s.header_prefix == "X-Intent-"
    assert s.expose_headers is False and s.budget_ms == 2.0


def test_config_layers_file_then_env_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "ig.toml"
    cfg.write_text('port = 9000\nexpose_headers = true\n[proxy]\nupstream = "http://a:1"\n')
    s = load_settings(config_file=cfg, environ={"INTENTGATE_PORT": "9100"})
    assert s.port == 9100 and s.expose_headers is True and s.upstream == "http://a:1"
    s = load_settings(config_file=cfg, environ={"INTENTGATE_PORT": "9100"},
                      overrides={"port": 9200})
    assert s.port == 9200


def test_config_env_bool_and_list_parsing() -> None:
    s = load_settings(environ={"INTENTGATE_EXPOSE_HEADERS": "yes",
                               "INTENTGATE_TRUSTED_HOPS": "10.0.0.1, 10.0.0.2"})
    assert s.expose_headers is True and s.trusted_hops == ("10.0.0.1", "10.0.0.2")
    with pytest.raises(ConfigError, match="INTENTGATE_EXPOSE_HEADERS"):
        load_settings(environ={"INTENTGATE_EXPOSE_HEADERS": "maybe"})


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"port": 70000}, "port"),
        ({"upstream": "ftp://x"}, "upstream"),
        ({"upstream": "http://x/?a=1"}, "upstream"),
        ({"store": "mongo"}, "store"),
        ({"budget_ms": 0}, "budget_ms"),
        ({"header_prefix": "X Bad"}, "header_prefix"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_config_bad_value_is_one_line_naming_the_field(overrides: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, overrides=overrides)
    text = str(info.value)
    assert needle in text and "\n" not in text


def test_config_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "nope.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=bad, environ={})


def test_config_handoff_round_trips_for_workers() -> None:
    s = load_settings(environ={}, overrides={"upstream": "http://h:1", "workers": 4,
                                             "rules": [{"kind": "search", "path": "/s"}]})
    back = from_handoff({"INTENTGATE__HANDOFF": handoff(s)})
    assert back == s
