"""The hysteresis setting: read from env and file like every setting, range-checked, and handed
to the engine's scorer."""

from __future__ import annotations

import pytest

from proxy.app import build_runtime
from proxy.config import ConfigError, load_settings


def test_class_switch_margin_default_env_and_range() -> None:
    assert load_settings(environ={}).class_switch_margin == 0.25
    s = load_settings(environ={"INTENTGATE_CLASS_SWITCH_MARGIN": "0.1"})
    assert s.class_switch_margin == 0.1
    for bad in ("1.0", "-0.1", "lots"):
        with pytest.raises(ConfigError, match="class_switch_margin|CLASS_SWITCH_MARGIN"):
            load_settings(environ={"INTENTGATE_CLASS_SWITCH_MARGIN": bad})


def test_the_engine_scores_with_the_configured_margin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runtime = build_runtime({"secret": "m" * 32, "data_dir": str(tmp_path),
                             "class_switch_margin": 0.4})
    runtime.registry.startup()  # what the server's lifespan does: load and activate the model
    active = runtime.engine.active
    assert active is not None
    assert active.scorer.switch_margin == 0.4
    assert active.scorer.keep == pytest.approx(0.36)
