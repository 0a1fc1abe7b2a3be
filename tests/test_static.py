"""ruff and mypy --strict, as configured in pyproject.toml, are part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("cmd", [
    [sys.executable, "-m", "ruff", "check", "proxy", "classifiers", "signals", "explain",
     "tests", "loadtests"],
    [sys.executable, "-m", "mypy"],
], ids=["ruff", "mypy-strict"])
def test_static_checks_pass(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
