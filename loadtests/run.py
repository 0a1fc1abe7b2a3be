"""``make loadtest``: demo storefront + proxy on loopback, locust personas headless for a bounded
time, then the error rate, latency percentiles and the persona × class table.

    python -m loadtests.run [--users 40] [--seconds 60]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status < 500:
                    return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def table(observed: dict[str, list[list]]) -> str:
    """Persona × class: share of each class among a persona's classified responses after its
    fifth step, and the median step at which the persona's most common class first appeared."""
    lines = []
    classes = sorted({c for obs in observed.values() for _, c in obs})
    header = f"{'persona':28s} {'n':>6s} " + " ".join(f"{c[:22]:>22s}" for c in classes)
    lines.append(header + f" {'1st step':>9s}")
    for persona in sorted(observed):
        obs = [(s, c) for s, c in observed[persona] if s >= 5 or persona == "bot"]
        counts = Counter(c for _, c in obs)
        n = sum(counts.values()) or 1
        row = f"{persona:28s} {n:6d} " + " ".join(
            f"{100 * counts.get(c, 0) / n:21.1f}%" for c in classes
        )
        top = counts.most_common(1)[0][0] if counts else None
        firsts = []
        if top:
            per_user_first: dict[int, int] = {}
            # steps restart at 1 per user: a drop in step marks a new user
            user, last = 0, 0
            for s, c in observed[persona]:
                if s <= last:
                    user += 1
                last = s
                if c == top and user not in per_user_first:
                    per_user_first[user] = s
            firsts = sorted(per_user_first.values())
        med = firsts[len(firsts) // 2] if firsts else 0
        lines.append(row + f" {med:9d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="loadtest")
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--store", choices=("memory", "redis"), default="memory")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    prefix = f"igload{os.getpid()}"
    bindir = Path(sys.executable).parent
    shop_port, proxy_port = _free_port(), _free_port()
    work = Path(tempfile.mkdtemp(prefix="intentgate-loadtest-"))
    env = dict(os.environ, INTENTGATE_SECRET="loadtest-secret-0123456789",
               INTENTGATE_DATA_DIR=str(work), INTENTGATE_LOADTEST_OUT=str(work / "observed.json"),
               INTENTGATE_STORE=args.store, INTENTGATE_REDIS_URL=args.redis_url,
               INTENTGATE_REDIS_PREFIX=prefix, INTENTGATE_WORKERS=str(args.workers),
               INTENTGATE_ADMIN_LISTEN="127.0.0.1:0")  # a free port, not the shared default
    procs = [
        subprocess.Popen([str(bindir / "intentgate"), "demo-shop", "--port", str(shop_port)],
                         env=env),
        subprocess.Popen([str(bindir / "intentgate"), "serve", "--upstream",
                          f"http://127.0.0.1:{shop_port}", "--port", str(proxy_port),
                          "--expose-headers", "--log-level", "warning"], env=env),
    ]
    try:
        _wait(f"http://127.0.0.1:{shop_port}/")
        _wait(f"http://127.0.0.1:{proxy_port}/_intentgate/health")
        cmd = [str(bindir / "locust"), "-f", str(HERE / "locustfile.py"), "--headless",
               "-u", str(args.users), "-r", str(max(1, args.users // 5)),
               "-t", f"{args.seconds}s", "--host", f"http://127.0.0.1:{proxy_port}",
               "--csv", str(work / "stats"), "--only-summary", "--stop-timeout", "5",
               "--loglevel", "WARNING"]
        rc = subprocess.run(cmd, env=env, timeout=args.seconds + 120).returncode
        with open(work / "stats_stats.csv") as fh:
            rows = list(csv.DictReader(fh))
        agg = next(r for r in rows if r["Name"] == "Aggregated")
        total, failures = int(agg["Request Count"]), int(agg["Failure Count"])
        print(f"\nrequests {total}, failures {failures} "
              f"({100 * failures / max(total, 1):.2f} %), {float(agg['Requests/s']):.0f} req/s")
        print(f"latency ms: p50 {agg['50%']}, p90 {agg['90%']}, p99 {agg['99%']}, "
              f"max {float(agg['Max Response Time']):.0f}")
        observed = json.loads((work / "observed.json").read_text())
        print("\npersona × class (share of classified responses after step 5; "
              "median step the top class first appeared)")
        print(table(observed))
        return 0 if rc == 0 and failures == 0 else 1
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.store == "redis":  # the run's profiles go with it
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.delete(key)
            client.close()


if __name__ == "__main__":
    raise SystemExit(main())
