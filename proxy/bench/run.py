"""``intentgate bench``: the one place speed is measured, always beside nginx and a bare
passthrough measured in the same run.

An nginx upstream serves a fixed ~15 KB page at every demo-storefront URL. Each target — nginx
itself (``direct``), nginx as a reverse proxy (``nginx``), the proxy's own upstream client on
the same server stack with nothing around it (``own-client``), intentgate's server stack without
classification (``passthrough``) and the full proxy (``intentgate``) — runs pinned to core 0
beside the upstream; wrk (one thread) runs on core 1. Targets alternate over rounds; per target
we print the median over rounds of req/s, p50, p99, and the CPU µs per request of the target's
own processes (from /proc, so the figure survives a noisy machine), then ratios to nginx and to
the passthrough. For targets running the engine, the share of the measured requests it classified
(scraped from ``/_intentgate/metrics``) proves the load was treated as shoppers, not bots.
In-process micro-benchmarks of the classification step follow.
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
ADMIN_TOKEN = "bench-admin-token-0123456789"
PATHS = (
    "/products/phone-pro", "/products/smartwatch", "/collections/audio",
    "/collections/laptops?sort_by=price-ascending", "/search?q=camera",
    "/pages/compare?products=phone-pro,phone-lite", "/products/tripod/reviews", "/pages/sale",
    "/", "/products/ultrabook-13",
)
# Cart POSTs mixed into the "shop" mix (one request in len(PATHS) + 1), as a storefront's
# add-to-cart button sends them. The client-comparison targets (httpx, aiohttp) do not forward
# request bodies, so a run that includes them uses the GET-only "browse" mix for every target.
POSTS = (("/cart/add.js", "id=phone-pro&quantity=1"), ("/wishlist/add", "id=smartwatch"))
KNOWN_TARGETS = ("direct", "nginx", "passthrough", "intentgate", "own-client", "httpx", "aiohttp",
                 "intentgate-noaudit", "intentgate-experiment", "intentgate-redis", "protocol")
GET_ONLY_TARGETS = frozenset({"httpx", "aiohttp"})
N_SESSIONS = 2000
# Targets that run intentgate's engine, whose /_intentgate/metrics tell how much of the bench
# traffic was classified (rather than gated as bots or failed open).
ENGINE_TARGETS = frozenset({"intentgate", "intentgate-noaudit", "intentgate-redis",
                            "intentgate-experiment"})


class TargetError(RuntimeError):
    """A target did not come up; the message carries the tail of its log."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes] | None = None,
               seconds: float = 30.0) -> None:
    """Poll ``url`` until it answers; give up early when ``proc`` has exited."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise TargetError(f"exited with status {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                r.read()
                return
        except Exception:
            time.sleep(0.1)
    raise TargetError(f"{url} did not answer in {seconds:.0f} s")


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
    """One server process (group) under test; its output goes to ``log`` for diagnostics."""

    def __init__(self, name: str, cmd: list[str], port: int, env: dict[str, str] | None = None,
                 pin: str | None = "0", log: Path | None = None,
                 admin_port: int | None = None) -> None:
        self.name = name
        self.cmd = (["taskset", "-c", pin] if pin else []) + cmd
        self.port = port
        self.admin_port = admin_port  # intentgate's admin listener (metrics), when it has one
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port or self.port}"

    def start(self, seconds: float = 30.0) -> None:
        """Start and wait until it answers; ``TargetError`` (with its log's tail) otherwise."""
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out, stderr=out,
                                         start_new_session=True)
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        try:
            _wait_http(self.url + "/", self.proc, seconds)
        except TargetError as exc:
            self.stop()
            tail = ""
            if self.log and self.log.exists():
                lines = self.log.read_text(errors="replace").strip().splitlines()[-5:]
                tail = "; ".join(line.strip() for line in lines)
            raise TargetError(f"{self.name}: {exc}" + (f" ({tail})" if tail else "")) from None

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
    # error_page 405: nginx's static handler refuses POST; answer cart POSTs with the page too.
    body = (f"location / {{ root {root}; default_type text/html; try_files /page.html =404;"
            " error_page 405 =200 /page.html; }"
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


def _lua(work: Path, *, posts: bool = True) -> Path:
    """A wrk script that looks like many shoppers: browser headers, validly signed session and
    device cookies rotated over ``N_SESSIONS`` sessions, demo-storefront URLs (and cart POSTs
    when ``posts``), so intentgate classifies the traffic rather than gating it as a bot."""
    from signals.identity import IdentityCodec

    codec = IdentityCodec(SECRET.encode())
    cookies = [f"ig_sid={codec.new_token()}; ig_did={codec.new_token()}"
               for _ in range(N_SESSIONS)]
    script = work / ("shoppers.lua" if posts else "browsers.lua")
    reqs = [f'{{"GET", "{p}", nil}}' for p in PATHS]
    if posts:
        reqs += [f'{{"POST", "{p}", "{b}"}}' for p, b in POSTS]
    jar = ",".join(f'"{c}"' for c in cookies)
    script.write_text(f"""
local reqs = {{{",".join(reqs)}}}
local jar = {{{jar}}}
local i = 0
request = function()
  i = i + 1
  local r = reqs[(i % #reqs) + 1]
  local headers = {{}}
  headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
  headers["Accept"] = "text/html,application/xhtml+xml"
  headers["Accept-Language"] = "en-GB,en;q=0.9"
  -- each session makes #reqs consecutive requests, one of every kind (a rich session)
  headers["Cookie"] = jar[math.floor(i / #reqs) % #jar + 1]
  if r[3] then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  return wrk.format(r[1], r[2], headers, r[3])
end
""")
    return script


_LAT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 1.0, "ms": 1000.0, "s": 1e6}


def parse_wrk(out: str) -> dict[str, float]:
    """requests, req/s, p50/p99 in µs and errors (socket errors + non-2xx/3xx) from wrk's
    ``--latency`` output."""
    lat = {m.group(1): float(m.group(2)) * _UNIT[m.group(3)] for m in _LAT.finditer(out)}
    reqs = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if reqs is None or rps is None:
        raise ValueError(f"unexpected wrk output: {out[-300:]!r}")
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": float(reqs.group(1)), "rps": float(rps.group(1)),
            "p50_us": lat.get("50", 0.0), "p99_us": lat.get("99", 0.0),
            "errors": float(errors + (int(non2xx.group(1)) if non2xx else 0))}


def _wrk(url: str, conns: int, seconds: float, lua: Path) -> dict[str, float]:
    done = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s",
         "--latency", "-s", str(lua), url],
        capture_output=True, text=True, timeout=seconds + 30,
    )
    # wrk reports a broken script on stderr and then sends its default requests anyway.
    if done.returncode != 0 or done.stderr.strip():
        raise RuntimeError(f"wrk against {url} failed: {done.stderr.strip()[-300:]}")
    return parse_wrk(done.stdout)


_METRIC = re.compile(r"^(intentgate_(?:requests|bots|fail_open)_total)\{[^}]*\} ([\d.e+]+)$",
                     re.M)


def parse_metrics(text: str) -> dict[str, float]:
    """Sums of the classified, bot and fail-open request counters of a Prometheus page."""
    sums = {"classified": 0.0, "bots": 0.0, "fail_open": 0.0}
    key = {"intentgate_requests_total": "classified", "intentgate_bots_total": "bots",
           "intentgate_fail_open_total": "fail_open"}
    for m in _METRIC.finditer(text):
        sums[key[m.group(1)]] += float(m.group(2))
    # Redis store: requests that awaited a round trip, and the write-behind script calls.
    for name, pattern in (("fetches", _FETCHES), ("flushes", _FLUSHES)):
        found = pattern.search(text)
        if found:
            sums[name] = float(found.group(1))
    return sums


_FETCHES = re.compile(r"^intentgate_store_fetches_total ([\d.e+]+)$", re.M)
_FLUSHES = re.compile(r'^intentgate_redis\{stat="flushes"\} ([\d.e+]+)$', re.M)


def _scrape(url: str) -> dict[str, float]:
    req = urllib.request.Request(url + "/_intentgate/metrics",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return parse_metrics(r.read().decode())


def measure(targets: list[Target], rounds: int, seconds: float, conns: int, lua: Path,
            *, shares: bool = True) -> dict[str, dict[str, float]]:
    """Medians over ``rounds`` interleaved rounds per target. With ``shares``, engine targets
    also report which share of the measured requests was classified / gated as bots."""
    per: dict[str, list[dict[str, float]]] = {t.name: [] for t in targets}
    for r in range(rounds):
        order = targets if r % 2 == 0 else list(reversed(targets))
        for t in order:
            _wrk(t.url, conns, 1.0, lua)  # warm-up
            scrape = shares and t.name in ENGINE_TARGETS
            m0 = _scrape(t.admin_url) if scrape else {}
            pids = t.pids()
            c0 = _cpu_seconds(pids)
            res = _wrk(t.url, conns, seconds, lua)
            cpu = _cpu_seconds(pids) - c0
            res["cpu_us_per_req"] = cpu * 1e6 / max(res["requests"], 1)
            if scrape:
                m1 = _scrape(t.admin_url)
                # Requests still in flight when wrk stops are counted by the proxy but not by
                # wrk (at most one per connection): shares are capped at 1.
                n = max(res["requests"], 1)
                for key in ("classified", "bots", "fail_open"):
                    res[f"{key}_share"] = min(1.0, (m1[key] - m0[key]) / n)
                if "flushes" in m1:
                    # At most one awaited round trip per request by construction (the
                    # middleware awaits one fetch at most); this is how many did.
                    res["redis_rt_per_req"] = (m1["fetches"] - m0["fetches"]) / n
                    res["redis_flushes_per_req"] = (m1["flushes"] - m0["flushes"]) / n
            one = _wrk(t.url, 1, max(1.0, seconds / 2), lua)
            res["p50_1conn_us"] = one["p50_us"]
            per[t.name].append(res)
            print(f"  round {r + 1} {t.name:12s} {res['rps']:9.0f} req/s  p50 {res['p50_us']:7.0f}"
                  f" us  p99 {res['p99_us']:7.0f} us  cpu {res['cpu_us_per_req']:6.1f} us/req",
                  file=sys.stderr)
    return {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]}
            for name, rs in per.items() if rs}


def table(results: dict[str, dict[str, float]]) -> str:
    """The per-target medians and the ratios to nginx, the passthrough and ``direct``."""
    nginx = results.get("nginx")
    passthrough = results.get("passthrough")
    direct = results.get("direct")
    lines = [f"{'target':18s} {'req/s':>9s} {'p50 µs':>8s} {'p99 µs':>8s} {'CPU µs/req':>11s}"
             f" {'+p50@1c µs':>11s} {'CPU/nginx':>10s} {'CPU/pass':>9s} {'rps/nginx':>10s}"
             f" {'classified':>10s}"]

    def ratio(value: float, ref: dict[str, float] | None, key: str) -> str:
        return f"{value / ref[key]:.2f}" if ref and ref[key] else "-"  # "-": not in this run

    for name, r in results.items():
        added = f"{r['p50_1conn_us'] - direct['p50_1conn_us']:.0f}" if direct else "-"
        cn = ratio(r["cpu_us_per_req"], nginx, "cpu_us_per_req")
        cp = ratio(r["cpu_us_per_req"], passthrough, "cpu_us_per_req")
        rn = ratio(r["rps"], nginx, "rps")
        share = f"{r['classified_share']:.0%}" if "classified_share" in r else "-"
        lines.append(f"{name:18s} {r['rps']:9.0f} {r['p50_us']:8.0f} {r['p99_us']:8.0f} "
                     f"{r['cpu_us_per_req']:11.1f} {added:>11s} {cn:>10s} {cp:>9s} {rn:>10s}"
                     f" {share:>10s}")
    return "\n".join(lines)


@contextlib.contextmanager
def _stack(args: argparse.Namespace, work: Path,
           skipped: dict[str, str]) -> Iterator[list[Target]]:
    """The upstream and every requested target, started fresh; a target that does not come up
    is left out and its reason put in ``skipped``. Every process is stopped on the way out."""
    root = work / "www"
    root.mkdir()
    page = b"<!doctype html><html><body>" + b"<p>product text</p>" * 800 + b"</body></html>"
    (root / "page.html").write_bytes(page[:15 * 1024])
    for d in ("cb", "pt", "ft", "ut", "st"):
        (work / d).mkdir()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    up_port = _free_port()
    upstream = Target("upstream", [nginx, "-c", str(_nginx_conf(work, up_port, root=root))],
                      up_port, log=work / "upstream.log")
    env = dict(os.environ, INTENTGATE_SECRET=SECRET, INTENTGATE_DATA_DIR=str(work / "data"),
               INTENTGATE_BOT_MAX_RATE="1e9", INTENTGATE_LOG_LEVEL="warning",
               INTENTGATE_ADMIN_TOKEN=ADMIN_TOKEN)
    py = [sys.executable, "-m", "proxy.commands.cli", "serve", "--upstream", upstream.url]
    redis_prefix = f"igbench{os.getpid()}"
    pin = None if args.workers > 1 else "0"
    workers = ["--workers", str(args.workers)] if args.workers > 1 else []

    def proxy(extra: list[str], target_env: dict[str, str] = env) -> Any:
        def make(name: str, port: int, log: Path) -> Target:
            admin = _free_port()  # each target its own admin listener (the default shape)
            return Target(name, py + ["--port", str(port), "--admin-listen",
                                      f"127.0.0.1:{admin}", *extra, *workers],
                          port, target_env, pin, log, admin_port=admin)
        return make

    def client(kind: str) -> Any:
        return lambda name, port, log: Target(
            name, [sys.executable, "-m", "proxy.bench.clients", kind, upstream.url, str(port)],
            port, env, pin, log)

    factories: dict[str, Any] = {
        "nginx": lambda name, port, log: Target(
            name, [nginx, "-c", str(_nginx_conf(work, port, upstream=up_port))], port, log=log),
        "passthrough": proxy(["--passthrough"]),
        "intentgate": proxy([]),
        "own-client": client("own"),
        # Not ASGI: the own client behind an asyncio.Protocol server, callbacks only.
        "protocol": client("protocol"),
        "httpx": client("httpx"),
        "aiohttp": client("aiohttp"),
        "intentgate-noaudit": proxy([], dict(env, INTENTGATE_AUDIT="false")),
        # A holdout experiment running (groups, headers, outcome counters): its cost beside
        # "intentgate" in the same run (docs/experiments.md).
        "intentgate-experiment": proxy([], dict(env, INTENTGATE_EXPERIMENT="bench",
                                                INTENTGATE_HOLDOUT_SHARE="0.1")),
        "intentgate-redis": proxy(["--store", "redis", "--redis-url", REDIS_URL],
                                  dict(env, INTENTGATE_REDIS_PREFIX=redis_prefix)),
    }
    names = args.targets.split(",")
    assert set(factories) | {"direct"} == set(KNOWN_TARGETS)
    started: list[Target] = []
    try:
        upstream.start()
        started.append(upstream)
        targets = []
        for name in names:
            if name == "direct":
                targets.append(Target("direct", [], up_port))
                continue
            t = factories[name](name, _free_port(), work / f"{name}.log")
            try:
                t.start()
            except TargetError as exc:
                skipped[name] = str(exc).removeprefix(f"{name}: ")
                print(f"intentgate bench: skipping {exc}", file=sys.stderr)
                continue
            started.append(t)
            targets.append(t)
        direct = next((t for t in targets if t.name == "direct"), None)
        if direct is not None:
            direct.proc = upstream.proc  # CPU of the upstream itself
        yield targets
    finally:
        for t in reversed(started):
            t.stop()
        if "intentgate-redis" in names:
            _delete_redis_prefix(redis_prefix)


REDIS_URL = "redis://127.0.0.1:6379/15"


def _delete_redis_prefix(prefix: str) -> None:
    """The Redis target's keys go when the bench ends (a unique prefix per run)."""
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()
    except Exception as exc:  # the figures are printed anyway; say what was left behind
        print(f"intentgate bench: could not delete {prefix}:* from Redis: {exc}",
              file=sys.stderr)


def _raise_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # every server was already stopped on the way out
        print("intentgate bench: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    from proxy.commands.parse import Parser

    ap = Parser(prog="intentgate bench", description="Measure the proxy's throughput, latency "
                "and CPU per request beside nginx and a bare passthrough, in the same run.")
    ap.add_argument("--rounds", type=int, default=5,
                    help="rounds; the targets alternate within each, figures are medians")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections")
    ap.add_argument("--workers", type=int, default=1, help="proxy worker processes")
    ap.add_argument("--targets", default="direct,nginx,own-client,passthrough,intentgate",
                    help="comma-separated: direct, nginx, own-client (the proxy's own upstream "
                         "client with nothing around it), passthrough, intentgate, httpx, "
                         "aiohttp, intentgate-noaudit, intentgate-redis, intentgate-experiment, "
                         "protocol (the own client behind a protocol-level server, no ASGI)")
    ap.add_argument("--no-micro", action="store_true", help="skip in-process micro-benchmarks")
    ap.add_argument("--micro-only", action="store_true",
                    help="only the in-process micro-benchmarks (no nginx or wrk needed)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    report: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in args.targets.split(","):
        if name not in KNOWN_TARGETS:
            print(f"intentgate bench: error: unknown target {name!r}; known: "
                  + ", ".join(KNOWN_TARGETS), file=sys.stderr)
            return 2
    if not args.micro_only:
        for tool in ("wrk", "taskset"):
            if shutil.which(tool) is None:
                print(f"intentgate bench: {tool} not found (make bench installs it)",
                      file=sys.stderr)
                return 2
        # Ctrl-C raises KeyboardInterrupt; make SIGTERM unwind the same way, so every server
        # started below is stopped by _stack's finally.
        previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
        try:
            with tempfile.TemporaryDirectory(prefix="intentgate-bench-") as tmp:
                work = Path(tmp)
                posts = not GET_ONLY_TARGETS & set(args.targets.split(","))
                lua = _lua(work, posts=posts)
                with _stack(args, work, skipped) as targets:
                    report["proxy"] = measure(targets, args.rounds, args.duration,
                                              args.connections, lua,
                                              shares=args.workers == 1)
        finally:
            signal.signal(signal.SIGTERM, previous)
        report["config"] = {"rounds": args.rounds, "duration_s": args.duration,
                            "connections": args.connections, "workers": args.workers,
                            "mix": "shop" if posts else "browse", "cpus": os.cpu_count()}
        if skipped:
            report["skipped"] = skipped
    if not args.no_micro:
        from proxy.bench.micro import run_all

        report["micro"] = run_all()
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return 1 if skipped else 0
    if "proxy" in report:
        mix = report["config"]["mix"]
        print(f"\nproxy bench: median of {args.rounds} rounds x {args.duration:g} s, "
              f"{args.connections} connections, {mix} mix, wrk on core 1, "
              + ("servers on core 0" if args.workers == 1 else f"{args.workers} workers"))
        print(table(report["proxy"]))
        for name, reason in skipped.items():
            print(f"  skipped {name}: {reason}")
        for name, r in report["proxy"].items():
            if "redis_rt_per_req" in r:
                print(f"  {name}: Redis round trips awaited per request: mean "
                      f"{r['redis_rt_per_req']:.4f}, max 1 (one fetch at most, by construction);"
                      f" write-behind pipelines per request {r['redis_flushes_per_req']:.3f}")
        for name, r in report["proxy"].items():
            if r.get("classified_share", 1.0) < 0.9:
                print(f"  warning: only {r['classified_share']:.0%} of {name}'s requests were "
                      f"classified (bots {r['bots_share']:.0%}, fail-open "
                      f"{r['fail_open_share']:.0%}): its figures do not measure classification")
    if "micro" in report:
        print("\nin-process micro-benchmarks (µs)")
        for name, row in report["micro"].items():
            if "p50_us" in row:
                print(f"  {name:34s} p50 {row['p50_us']:7.2f}   p99 {row['p99_us']:7.2f}")
            elif "skipped" in row:
                print(f"  {name:34s} skipped: {row['skipped']}")
            else:
                print(f"  {name:34s} " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return 1 if skipped else 0


if __name__ == "__main__":
    raise SystemExit(main())
