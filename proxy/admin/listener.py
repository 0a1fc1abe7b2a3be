"""The admin surface on its own listener (``admin_listen``), served by the same process and
workers as the shoppers' port.

``serve`` binds two sockets — shoppers' and admin — and hands both to uvicorn (one server, or
every ``--workers`` process). A connection's local port (``scope["server"]``, taken from the
socket, not from any header) says which listener it came in on: on the admin port only
``/_intentgate/`` is served; on the shoppers' port the admin paths answer 404 and only
``health``, ``beacon`` and ``beacon.js`` remain (``AdminApp`` applies that rule). The admin
port must differ from the public one, so the port alone decides.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxy.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from proxy.config import Settings

logger = logging.getLogger("intentgate")

DEFAULT_ADMIN_LISTEN = "127.0.0.1:9180"
PUBLIC = "public"
_PREFIX = "/_intentgate/"


@dataclass(frozen=True, slots=True)
class AdminListen:
    """Where the admin surface listens; ``is_admin`` tells a request that came in there."""

    host: str
    port: int

    @classmethod
    def parse(cls, value: str | None) -> AdminListen | None:
        """``"host:port"`` -> AdminListen; ``"public"`` or None -> None (one listener)."""
        if value is None or value == PUBLIC:
            return None
        host, _, port = value.rpartition(":")
        return cls(host.strip("[]"), int(port))

    def is_admin(self, scope: Scope) -> bool:
        server = scope.get("server")
        return server is not None and server[1] == self.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class AdminPortApp:
    """In front of the standalone proxy when admin has its own listener: requests on the admin
    port go to ``admin`` (``/`` redirects to the page; nothing is forwarded to the origin),
    everything else to ``app``."""

    def __init__(self, app: ASGIApp, admin: ASGIApp, listen: AdminListen) -> None:
        self.app = app
        self.admin = admin
        self.port = listen.port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if server is None or server[1] != self.port or scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        path = scope["path"]
        if path.startswith(_PREFIX):
            await self.admin(scope, receive, send)
            return
        if path == "/":
            status, body = 308, b"/_intentgate/ui/"
            headers = [(b"location", b"/_intentgate/ui/")]
        else:
            status, body = 404, b'{"error":"the admin listener serves /_intentgate/ only"}'
            headers = [(b"content-type", b"application/json")]
        headers += [(b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def resolve(settings: Settings) -> Settings:
    """The standalone proxy's settings with ``admin_listen`` decided: unset means the default
    localhost listener."""
    if settings.admin_listen is None:
        return settings.model_copy(update={"admin_listen": DEFAULT_ADMIN_LISTEN})
    return settings


class ListenError(OSError):
    """A listener could not be bound; ``str()`` is one line for the CLI."""


def bind(host: str, port: int, what: str) -> socket.socket:
    """A bound (not yet listening) socket that worker processes can inherit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port} for {what}: {exc.strerror or exc}"
                          ) from None
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, uvicorn_kwargs: dict[str, Any]) -> int:
    """Run the standalone proxy: shoppers' listener plus, unless ``admin_listen = "public"``,
    the admin listener; ``settings.workers`` processes serve both. Returns the exit status;
    an unusable setting or port prints one line and exits 2."""
    import uvicorn

    from proxy.config import HANDOFF_ENV, handoff

    settings = resolve(settings)
    listen = AdminListen.parse(settings.admin_listen)
    app: Any = None
    if settings.workers == 1 and (listen is None or listen.port != 0):
        app = _build(settings)  # a bad setting stops us before any port is taken
    sockets: list[socket.socket] = []
    try:
        sockets.append(bind(settings.host, settings.port, "shoppers"))
        public_url = AdminListen(settings.host, sockets[0].getsockname()[1]).url
        if listen is not None:
            admin = bind(listen.host, listen.port, "the admin surface (admin_listen)")
            sockets.append(admin)
            listen = AdminListen(listen.host, admin.getsockname()[1])
            if listen.port == sockets[0].getsockname()[1]:
                raise ListenError("admin_listen must use a port other than the shoppers' port")
            settings = settings.model_copy(update={"admin_listen": f"{listen.host}:{listen.port}"})
    except ListenError as exc:
        for s in sockets:
            s.close()
        _die(str(exc))
    if settings.workers == 1 and app is None:
        app = _build(settings)
    if listen is None:
        logger.info("serving shoppers and the admin surface on %s (admin_listen = public)",
                    public_url)
    else:
        logger.info("serving shoppers on %s; admin surface on %s/_intentgate/ui/ "
                    "(metrics %s/_intentgate/metrics)", public_url, listen.url, listen.url)
    if settings.workers > 1:
        import shutil
        import tempfile

        from proxy.instance import INSTANCE_ENV

        os.environ[HANDOFF_ENV] = handoff(settings)
        # What the workers of this instance share (metrics snapshots): lives with the supervisor.
        instance = tempfile.mkdtemp(prefix="intentgate-instance-")
        os.environ[INSTANCE_ENV] = instance
        config = uvicorn.Config("proxy.app:create_app_from_environ", factory=True,
                                workers=settings.workers, **uvicorn_kwargs)
        from uvicorn.supervisors import Multiprocess

        try:
            if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn < 0.35
                server = uvicorn.Server(config)
                Multiprocess(config, target=server.run, sockets=sockets).run()  # type: ignore
            else:
                Multiprocess(config, sockets=sockets).run()
        finally:
            shutil.rmtree(instance, ignore_errors=True)
        return 0
    server = uvicorn.Server(uvicorn.Config(app, **uvicorn_kwargs))
    server.run(sockets=sockets)
    if not server.started:
        return 3  # uvicorn's STARTUP_FAILURE: the lifespan refused (model, store, ...)
    return 0


def _build(settings: Settings) -> Any:
    from proxy.app import create_app

    try:
        return create_app(settings)
    except ValueError as exc:  # a bad route rule, an unusable setting
        _die(str(exc))


def _die(message: str) -> Any:
    print(f"intentgate: error: {message}", file=sys.stderr)
    raise SystemExit(2)
