"""Real Redis servers and real proxy processes for the Redis tests, all on loopback.

``RedisServer`` runs a private ``redis-server`` on a free port (so a test may stop and restart
it without touching the shared one at 6379); ``redis_cluster`` builds a three-master Redis
Cluster with ``redis-cli --cluster create``; ``ProxyProcess`` runs ``intentgate serve`` as a
separate OS process, as production does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.servers import free_port

SHARED_URL = "redis://127.0.0.1:6379/0"


def shared_redis() -> redis.Redis:
    """The machine's Redis at 6379 (``make test`` starts one when none answers)."""
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis at 127.0.0.1:6379 ({exc!r}); make test starts one")
    return client


SHARED_FIELDS = ("t", "st", "dp", "dc", *(f"v{i}" for i in range(1, 20)))


def shared_value(client: redis.Redis, key: str, name: str) -> float:
    """One number of a state hash's packed field ``s`` (0 when the key is missing): ``v4`` is
    the compare counter, ``v17`` the event count (see ``signals/redis_store.py``)."""
    packed = client.hget(key, "s")
    if packed is None:
        return 0.0
    return float(packed.split()[SHARED_FIELDS.index(name)])


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)


def _server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.fail("redis-server not installed (scripts/ensure-redis.sh installs it)")
    return path


class RedisServer:
    """A private redis-server that a test can stop and start again on the same port."""

    def __init__(self, workdir: Path, port: int | None = None, *extra: str) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def redis_server(workdir: Path, *extra: str) -> Iterator[RedisServer]:
    """A private redis-server; ``extra`` are more command-line settings (the last one wins),
    e.g. ``"--appendonly", "yes"`` for one that keeps its data across a restart."""
    server = RedisServer(workdir, None, *extra)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20_000, 45_000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


@contextmanager
def redis_cluster(workdir: Path) -> Iterator[list[RedisServer]]:
    """Three masters on free loopback ports, slots assigned by ``redis-cli --cluster create``."""
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.fail("redis-cli not installed (scripts/ensure-redis.sh installs it)")
    nodes = [RedisServer(workdir / f"n{i}", _cluster_port(), "--cluster-enabled", "yes",
                         "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
             for i in range(3)]
    try:
        for n in nodes:
            n.start()
        subprocess.run(
            [cli, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = nodes[0].client().execute_command("CLUSTER INFO")
            if isinstance(info, bytes):
                info = info.decode()
            state = info.get("cluster_state") if isinstance(info, dict) else info
            if "ok" in str(state) and "fail" not in str(state):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("cluster did not reach state ok")
        yield nodes
    finally:
        for n in nodes:
            n.stop()


BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
           "accept": "text/html", "accept-language": "en"}


class ProxyProcess:
    """``intentgate serve`` in its own process, configured through INTENTGATE_* variables."""

    def __init__(self, upstream: str, workdir: Path, **settings: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"proxy-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTGATE_")}
        env["INTENTGATE_SECRET"] = "redis-e2e-secret-0123456789"
        env["INTENTGATE_DATA_DIR"] = str(workdir / "data")
        env["INTENTGATE_ADMIN_LISTEN"] = "public"  # metric() reads the shoppers' port
        for key, value in settings.items():
            env["INTENTGATE_" + key.upper()] = str(value).lower() if isinstance(value, bool) \
                else str(value)
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "proxy.commands.cli", "serve", "--upstream", upstream,
                 "--port", str(self.port), "--expose-headers"],
                env=env, stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("proxy exited: " + self.log.read_text()[-2000:])
            try:
                if httpx.get(self.url + "/_intentgate/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("proxy did not come up: " + self.log.read_text()[-2000:])

    def kill(self) -> None:
        """SIGKILL: no shutdown flush, as when a worker crashes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextmanager
def proxy_process(upstream: str, workdir: Path, **settings: Any) -> Iterator[ProxyProcess]:
    p = ProxyProcess(upstream, workdir, **settings)
    try:
        yield p
    finally:
        p.stop()


ADMIN_TOKEN = "redis-e2e-admin-token-0123"


def metric(proxy_url: str, name: str) -> float | None:
    """One sample of the proxy's Prometheus text (``name`` with its labels), or None."""
    text = httpx.get(proxy_url + "/_intentgate/metrics", timeout=5,
                     headers={"authorization": f"Bearer {ADMIN_TOKEN}"}).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None
