from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

# Real datasets live beside the clone, never in it (CI has ../shared/data).
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No INTENTGATE_* setting from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("INTENTGATE_"):
            monkeypatch.delenv(key, raising=False)
    yield


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (CI always has ../shared/data)")
    return SHARED_DATA


@pytest.fixture
def prefix() -> Iterator[str]:
    """A fresh key prefix on the shared Redis (127.0.0.1:6379), its keys deleted afterwards."""
    import uuid

    from tests.redisproc import delete_prefix, shared_redis

    client = shared_redis()
    name = f"igtest{uuid.uuid4().hex[:10]}"
    yield name
    delete_prefix(client, name)
    client.close()
