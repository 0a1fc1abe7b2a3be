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
from tests.servers import serve_in_thread, serve_split_in_thread

SECRET = "e2e-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def origin() -> Iterator[str]:
    with serve_in_thread(origin_app, http="httptools") as url:
        yield url


@contextmanager
def run_proxy(upstream: str, data_dir: Path, **overrides: Any) -> Iterator[str]:
    limits = ServerLimits(**{k: overrides.pop(k) for k in list(overrides)
                             if k in ServerLimits.__dataclass_fields__})
    # The tests written for one listener keep it (admin_listen = public); the split shape has
    # its own fixture, make_split_proxy.
    overrides.setdefault("admin_listen", "public")
    settings = load_settings(environ={}, overrides={
        "upstream": upstream, "secret": SECRET, "data_dir": str(data_dir), **overrides})
    kwargs = uvicorn_kwargs(limits)
    kwargs.pop("loop")
    with serve_in_thread(create_app(settings), **kwargs) as url:
        yield url


@contextmanager
def run_split_proxy(upstream: str, data_dir: Path, **overrides: Any) -> Iterator[tuple[str, str]]:
    """A proxy with the admin surface on its own listener: ``(public_url, admin_url)``."""
    limits = ServerLimits(**{k: overrides.pop(k) for k in list(overrides)
                             if k in ServerLimits.__dataclass_fields__})
    kwargs = uvicorn_kwargs(limits)
    kwargs.pop("loop")

    def build(admin_port: int) -> Any:
        return create_app(load_settings(environ={}, overrides={
            "upstream": upstream, "secret": SECRET, "data_dir": str(data_dir),
            "admin_listen": f"127.0.0.1:{admin_port}", **overrides}))

    with serve_split_in_thread(build, **kwargs) as urls:
        yield urls


@pytest.fixture
def make_proxy(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``make_proxy(upstream, **settings)`` -> base URL of a real proxy on loopback."""
    with ExitStack() as stack:
        def factory(upstream: str, **overrides: Any) -> str:
            return stack.enter_context(run_proxy(upstream, tmp_path, **overrides))
        yield factory


@pytest.fixture
def make_split_proxy(tmp_path: Path) -> Iterator[Callable[..., tuple[str, str]]]:
    """``make_split_proxy(upstream, **settings)`` -> ``(public_url, admin_url)``."""
    with ExitStack() as stack:
        def factory(upstream: str, **overrides: Any) -> tuple[str, str]:
            return stack.enter_context(run_split_proxy(upstream, tmp_path, **overrides))
        yield factory


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    """The demo storefront, served for the module's tests."""
    from proxy.demo_shop import create_demo_shop

    with serve_in_thread(create_demo_shop()) as url:
        yield url
