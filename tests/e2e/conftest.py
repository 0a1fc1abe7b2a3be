from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from proxy.app import create_app
from proxy.config import load_settings
from proxy.server import ServerLimits, uvicorn_kwargs
from tests.e2e.origin import origin_app
from tests.servers import serve_in_thread

SECRET = "e2e-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def origin() -> Iterator[str]:
    with serve_in_thread(origin_app, http="httptools") as url:
        yield url


@contextmanager
def run_proxy(upstream: str, data_dir: Path, **overrides: Any) -> Iterator[str]:
    limits = ServerLimits(**{k: overrides.pop(k) for k in list(overrides)
                             if k in ServerLimits.__dataclass_fields__})
    settings = load_settings(environ={}, overrides={
        "upstream": upstream, "secret": SECRET, "data_dir": str(data_dir), **overrides})
    kwargs = uvicorn_kwargs(limits)
    kwargs.pop("loop")
    with serve_in_thread(create_app(settings), **kwargs) as url:
        yield url


@pytest.fixture
def make_proxy(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``make_proxy(upstream, **settings)`` -> base URL of a real proxy on loopback."""
    with ExitStack() as stack:
        def factory(upstream: str, **overrides: Any) -> str:
            return stack.enter_context(run_proxy(upstream, tmp_path, **overrides))
        yield factory
