"""``intentgate bench``: the one place speed is measured, always beside nginx and a bare
passthrough measured in the same run.

An nginx upstream serves a fixed ~15 KB page at every demo-storefront URL. Each target — nginx
itself (``direct``), nginx as a reverse proxy (``nginx``), intentgate's server stack without
classification (``passthrough``) and the full proxy (``intentgate``) — runs pinned to core 0
beside the upstream; wrk (one thread) runs on core 1. Targets alternate over rounds; per target
we print the median over rounds of req/s, p50, p99, and the CPU µs per request of the target's
own processes (from /proc, so the figure survives a noisy machine), then ratios to nginx and to
the passthrough. In-process micro-benchmarks of the classification step follow.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

CLK_TCK = os.sysconf("SC_CLK_TCK")
SECRET = "bench-secret-0123456789abcdef"
PATHS = (
    "/products/phone-pro", "/products/smartwatch", "/collections/audio",
    "/collections/laptops?sort_by=price-ascending", "/search?q=camera",
    "/pages/compare?products=phone-pro,phone-lite", "/products/tripod/reviews", "/pages/sale",
    "/", "/products/ultrabook-13",
)
N_SESSIONS = 2000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                r.read()
                return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {seconds:.0f} s")


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK_TCK


def _tree(pid: int) -> list[int]:
    """pid and its descendants (uvicorn --workers forks)."""
    out = [pid]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            out.extend(_tree(int(child)))
    return out


class Target:
    def __init__(self, name: str, cmd: list[str], port: int, env: dict[str, str] | None = None,
                 pin: str | None = "0") -> None:
        self.name = name
        self.cmd = (["taskset", "-c", pin] if pin else []) + cmd
        self.port = port
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_http(self.url + "/")

    def pids(self) -> list[int]:
        return _tree(self.proc.pid) if self.proc else []

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None


def _nginx_conf(work: Path, port: int, *, root: Path | None = None,
                upstream: int | None = None) -> Path:
    body = (f"location / {{ root {root}; default_type text/html; try_files /page.html =404; }}"
            if root is not None else
            "location / { proxy_pass http://up; proxy_http_version 1.1;"
            " proxy_set_header Connection \"\"; proxy_set_header Host $host; }")
    ups = (f"upstream up {{ server 127.0.0.1:{upstream}; keepalive 64; }}"
           if upstream else "")
    conf = work / f"nginx-{port}.conf"
    conf.write_text(f"""daemon off; master_process off; worker_processes 1;
pid {work}/nginx-{port}.pid; error_log {work}/nginx-{port}.err warn;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  client_body_temp_path {work}/cb; proxy_temp_path {work}/pt; fastcgi_temp_path {work}/ft;
  uwsgi_temp_path {work}/ut; scgi_temp_path {work}/st;
  {ups}
  server {{ listen 127.0.0.1:{port}; {body} }} }}
""")
    return conf


def _lua(work: Path) -> Path:
    from signals.identity import IdentityCodec

    codec = IdentityCodec(SECRET.encode())
    cookies = [f"ig_sid={codec.new_token()}; ig_did={codec.new_token()}"
               for _ in range(N_SESSIONS)]
    script = work / "shoppers.lua"
    paths = ",".join(f'"{p}"' for p in PATHS)
    jar = ",".join(f'"{c}"' for c in cookies)
    script.write_text(f"""
local paths = {{{paths}}}
local jar = {{{jar}}}
local i = 0
request = function()
  i = i + 1
  local headers = {{}}
  headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
  headers["Accept"] = "text/html,application/xhtml+xml"
  headers["Accept-Language"] = "en-GB,en;q=0.9"
  headers["Cookie"] = jar[(i % #jar) + 1]
  return wrk.format("GET", paths[(i % #paths) + 1], headers)
end
""")
    return script


_LAT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 1.0, "ms": 1000.0, "s": 1e6}


def _wrk(url: str, conns: int, seconds: float, lua: Path) -> dict[str, float]:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s",
         "--latency", "-s", str(lua), url],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout
    lat = {m.group(1): float(m.group(2)) * _UNIT[m.group(3)] for m in _LAT.finditer(out)}
    reqs = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": reqs, "rps": rps, "p50_us": lat.get("50", 0.0),
            "p99_us": lat.get("99", 0.0), "errors": errors + (int(non2xx.group(1)) if non2xx
                                                                 else 0)}


def measure(targets: list[Target], rounds: int, seconds: float, conns: int,
            lua: Path) -> dict[str, dict[str, float]]:
    per: dict[str, list[dict[str, float]]] = {t.name: [] for t in targets}
    for r in range(rounds):
        order = targets if r % 2 == 0 else list(reversed(targets))
        for t in order:
            _wrk(t.url, conns, 1.0, lua)  # warm-up
            pids = t.pids()
            c0 = _cpu_seconds(pids)
            res = _wrk(t.url, conns, seconds, lua)
            cpu = _cpu_seconds(pids) - c0
            res["cpu_us_per_req"] = cpu * 1e6 / max(res["requests"], 1)
            one = _wrk(t.url, 1, max(1.0, seconds / 2), lua)
            res["p50_1conn_us"] = one["p50_us"]
            per[t.name].append(res)
            print(f"  round {r + 1} {t.name:12s} {res['rps']:9.0f} req/s  p50 {res['p50_us']:7.0f}"
                  f" us  p99 {res['p99_us']:7.0f} us  cpu {res['cpu_us_per_req']:6.1f} us/req",
                  file=sys.stderr)
    return {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]}
            for name, rs in per.items()}


def _table(results: dict[str, dict[str, float]]) -> str:
    nginx = results.get("nginx")
    passthrough = results.get("passthrough")
    direct = results.get("direct")
    lines = [f"{'target':14s} {'req/s':>9s} {'p50 µs':>8s} {'p99 µs':>8s} {'CPU µs/req':>11s}"
             f" {'+p50@1c µs':>11s} {'CPU/nginx':>10s} {'CPU/pass':>9s} {'rps/nginx':>10s}"]
    for name, r in results.items():
        added = r["p50_1conn_us"] - direct["p50_1conn_us"] if direct else 0.0
        cn = r["cpu_us_per_req"] / nginx["cpu_us_per_req"] if nginx else 0.0
        cp = r["cpu_us_per_req"] / passthrough["cpu_us_per_req"] if passthrough else 0.0
        rn = r["rps"] / nginx["rps"] if nginx else 0.0
        lines.append(f"{name:14s} {r['rps']:9.0f} {r['p50_us']:8.0f} {r['p99_us']:8.0f} "
                     f"{r['cpu_us_per_req']:11.1f} {added:11.0f} {cn:10.2f} {cp:9.2f} {rn:10.2f}")
    return "\n".join(lines)


@contextlib.contextmanager
def _stack(args: argparse.Namespace, work: Path) -> Iterator[list[Target]]:
    root = work / "www"
    root.mkdir()
    page = b"<!doctype html><html><body>" + b"<p>product text</p>" * 800 + b"</body></html>"
    (root / "page.html").write_bytes(page[:15 * 1024])
    for d in ("cb", "pt", "ft", "ut", "st"):
        (work / d).mkdir()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    up_port = _free_port()
    upstream = Target("upstream", [nginx, "-c", str(_nginx_conf(work, up_port, root=root))],
                      up_port)
    env = dict(os.environ, INTENTGATE_SECRET=SECRET, INTENTGATE_DATA_DIR=str(work / "data"),
               INTENTGATE_BOT_MAX_RATE="1e9", INTENTGATE_LOG_LEVEL="warning")
    py = [sys.executable, "-m", "proxy.cli", "serve", "--upstream", upstream.url]
    pin = None if args.workers > 1 else "0"
    workers = ["--workers", str(args.workers)] if args.workers > 1 else []
    all_targets = {
        "direct": lambda: upstream,
        "nginx": lambda: Target("nginx", [nginx, "-c", str(_nginx_conf(
            work, (p := _free_port()), upstream=up_port))], p),
        "passthrough": lambda: Target("passthrough", py + ["--port", str(p := _free_port()),
                                                           "--passthrough", *workers], p, env,
                                      pin),
        "intentgate": lambda: Target("intentgate", py + ["--port", str(p := _free_port()),
                                                         *workers], p, env, pin),
        "httpx": lambda: Target("httpx", [sys.executable, "-m", "proxy.bench_clients", "httpx",
                                          upstream.url, str(p := _free_port())], p, env, pin),
        "aiohttp": lambda: Target("aiohttp", [sys.executable, "-m", "proxy.bench_clients",
                                              "aiohttp", upstream.url, str(p := _free_port())],
                                  p, env, pin),
        "intentgate-noaudit": lambda: Target("intentgate-noaudit", py + [
            "--port", str(p := _free_port()), *workers], p,
            dict(env, INTENTGATE_AUDIT="false"), pin),
        "intentgate-redis": lambda: Target("intentgate-redis", py + [
            "--port", str(p := _free_port()), "--store", "redis", *workers], p, env, pin),
    }
    started: list[Target] = []
    try:
        upstream.start()
        started.append(upstream)
        targets = []
        for name in args.targets.split(","):
            if name not in all_targets:
                raise SystemExit(f"intentgate bench: unknown target {name!r}")
            t = all_targets[name]()
            t.name = name
            if t is not upstream:
                t.start()
                started.append(t)
            targets.append(t)
        yield targets
    finally:
        for t in reversed(started):
            t.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="intentgate bench", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--targets", default="direct,nginx,passthrough,intentgate")
    ap.add_argument("--no-micro", action="store_true", help="skip in-process micro-benchmarks")
    ap.add_argument("--micro-only", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    report: dict[str, Any] = {}
    if not args.micro_only:
        for tool in ("wrk", "taskset"):
            if shutil.which(tool) is None:
                print(f"intentgate bench: {tool} not found (make bench installs it)",
                      file=sys.stderr)
                return 2
        with tempfile.TemporaryDirectory(prefix="intentgate-bench-") as tmp:
            work = Path(tmp)
            lua = _lua(work)
            with _stack(args, work) as targets:
                report["proxy"] = measure(targets, args.rounds, args.duration,
                                          args.connections, lua)
        report["config"] = {"rounds": args.rounds, "duration_s": args.duration,
                            "connections": args.connections, "workers": args.workers,
                            "cpus": os.cpu_count()}
    if not args.no_micro:
        from proxy.bench_micro import run_all

        report["micro"] = run_all()
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return 0
    if "proxy" in report:
        print(f"\nproxy bench: median of {args.rounds} rounds x {args.duration:g} s, "
              f"{args.connections} connections, wrk on core 1, servers on core 0")
        print(_table(report["proxy"]))
    if "micro" in report:
        print("\nin-process micro-benchmarks (µs)")
        for name, row in report["micro"].items():
            if "p50_us" in row:
                print(f"  {name:34s} p50 {row['p50_us']:7.2f}   p99 {row['p99_us']:7.2f}")
            else:
                print(f"  {name:34s} {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
