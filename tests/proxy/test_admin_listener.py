"""proxy/admin/listener.py: parsing ``admin_listen``, telling the admin port's requests apart
by the connection's local port, and what the admin port answers outside ``/_intentgate/``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from proxy.admin.listener import DEFAULT_ADMIN_LISTEN, AdminListen, AdminPortApp, resolve
from proxy.config import ConfigError, load_settings


def test_parse_host_port_ipv6_and_public() -> None:
    assert AdminListen.parse("127.0.0.1:9180") == AdminListen("127.0.0.1", 9180)
    assert AdminListen.parse("[::1]:9180") == AdminListen("::1", 9180)
    assert AdminListen("::1", 9180).url == "http://[::1]:9180"
    assert AdminListen.parse("public") is None and AdminListen.parse(None) is None


def test_serve_defaults_to_a_localhost_listener_and_refuses_the_public_port() -> None:
    settings = load_settings(environ={}, overrides={})
    assert settings.admin_listen is None
    assert resolve(settings).admin_listen == DEFAULT_ADMIN_LISTEN == "127.0.0.1:9180"
    with pytest.raises(ConfigError, match="must not use the public port"):
        load_settings(environ={}, overrides={"port": 8080, "admin_listen": "0.0.0.0:8080"})
    with pytest.raises(ConfigError, match="host:port"):
        load_settings(environ={}, overrides={"admin_listen": "9180"})


def test_admin_tokens_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "ig.toml"
    path.write_text('[[admin_tokens]]\nname = "grafana"\nrole = "read"\nsha256 = "'
                    + "ab" * 32 + '"\n')
    tokens = load_settings(config_file=path, environ={}).admin_tokens
    assert [(t.name, t.role, t.sha256) for t in tokens] == [("grafana", "read", "ab" * 32)]


def _call(port: int, path: str) -> tuple[str, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append("public")

    async def admin(scope: Any, receive: Any, send: Any) -> None:
        seen.append("admin")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    split = AdminPortApp(inner, admin, AdminListen("127.0.0.1", 9180))
    scope = {"type": "http", "path": path, "server": ("127.0.0.1", port), "headers": []}
    asyncio.run(split(scope, receive, send))
    return (seen[0] if seen else ""), sent


def test_the_admin_port_serves_only_the_admin_surface() -> None:
    assert _call(8080, "/_intentgate/api/models")[0] == "public"
    assert _call(9180, "/_intentgate/api/models")[0] == "admin"
    who, sent = _call(9180, "/products/1")
    assert who == "" and sent[0]["status"] == 404
    who, sent = _call(9180, "/")
    assert sent[0]["status"] == 308 and (b"location", b"/_intentgate/ui/") in sent[0]["headers"]


def _ask(app: Any, method: str, path: str, port: int, client: str = "127.0.0.1") -> int:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [], "client": (client, 5000), "server": ("127.0.0.1", port)}
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


def test_every_registered_admin_route_is_404_on_the_public_port(tmp_path: Path) -> None:
    """Taken from the router itself, so an endpoint added later is covered too."""
    from proxy.app import build_runtime

    runtime = build_runtime({"secret": "l" * 32, "data_dir": str(tmp_path),
                             "admin_listen": "127.0.0.1:9180", "admin_token": "k" * 24})
    admin = runtime.admin
    routes = [(m, p) for (m, p) in admin.routes] + [(m, p + "x/y") for (m, p, *_) in
                                                     admin.prefix_routes]
    assert len(routes) > 15
    for i, (method, path) in enumerate(routes):
        status = _ask(admin, method, "/_intentgate/" + path, 8080)
        if path in ("health", "beacon", "beacon.js"):
            assert status != 404, path
        else:
            assert status == 404, (method, path)
            # On the admin port the same request reaches the route (401 without a token,
            # or the page's files); one client address each, so none is throttled.
            status = _ask(admin, method, "/_intentgate/" + path, 9180, f"10.0.0.{i + 1}")
            assert status in (200, 308, 401), path
