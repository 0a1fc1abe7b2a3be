"""Benchmark of ``intentgate routes suggest`` on a large generated access log (not a test).

    python -m loadtests.suggest_bench [--lines 1000000] [--keep LOG]

Writes a log of public storefront schemes (Shopware 6, Magento 2 and PrestaShop visits mixed, so
most product URLs are distinct), then runs ``intentgate routes suggest`` on it in a child process
and prints its wall time, CPU time and peak memory (``ru_maxrss`` of the child).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.storefront_schemes import generate


def write_log(path: Path, lines: int) -> int:
    n = seed = 0
    names = ("shopware", "magento", "prestashop")
    with path.open("w") as out:
        while n < lines:
            for line, _ in generate(names[seed % 3], shoppers=2000, seed=seed):
                out.write(line + "\n")
                n += 1
            seed += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m loadtests.suggest_bench")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", help="write the log here and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(args.keep or Path(tmp) / "access.log")
        n = write_log(log, args.lines)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "proxy.commands.cli", "routes", "suggest", str(log)],
            capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rules = proc.stdout.count("[[rules]]")
    print(f"routes suggest on {n:,} lines: exit {proc.returncode}, {rules} rules, "
          f"wall {wall:.1f} s, CPU {usage.ru_utime + usage.ru_stime:.1f} s, "
          f"peak RSS {usage.ru_maxrss / 1024:.0f} MiB")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
