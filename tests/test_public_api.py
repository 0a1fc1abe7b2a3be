"""Pins each package's public surface (as httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

EXPECTED = {
    "proxy": {"ConfigError", "Engine", "ForwardApp", "IntentGateMiddleware", "ProxyApp",
              "Runtime", "Settings", "Timeouts", "build_runtime", "create_app", "load_settings"},
    "classifiers": {"UNDETERMINED", "ArtifactError", "ClassifierError", "FitWarning", "Model",
                    "NotFittedError", "Scorer", "load_model", "seal", "warm"},
    "explain": {"confidence_value", "signals_value", "top_signals"},
}


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_public_api_all_is_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == EXPECTED[package]
    for name in module.__all__:
        assert hasattr(module, name)


def test_public_api_signals_exports_exist() -> None:
    import signals

    assert "RouteTable" in signals.__all__ and "MemoryStore" in signals.__all__
    for name in signals.__all__:
        assert hasattr(signals, name)


def test_importing_packages_never_loads_scikit_learn() -> None:
    code = "import sys, proxy, signals, classifiers, explain; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
