"""Smoke runs of the benchmark harness: the numbers are the bench's business, not the tests';
these only check that the harness measures what it says it measures."""

from __future__ import annotations

import shutil
import subprocess
import sys

import orjson
import pytest

from proxy.bench_micro import run_all


def test_bench_micro_reports_every_step() -> None:
    out = run_all(n=2000)
    for name in ("route match (auto preset)", "state update", "feature extraction",
                 "kernel incl. Python call", "whole classification step"):
        assert 0.0 < out[name]["p50_us"] <= out[name]["p99_us"], name
    assert 100 < out["memory store"]["bytes_per_session"] < 4096


@pytest.mark.skipif(not (shutil.which("wrk") and shutil.which("nginx")),
                    reason="wrk and nginx are needed (make bench installs them)")
def test_bench_proxy_round_measures_targets() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "bench", "--rounds", "1", "--duration", "1",
         "--targets", "direct,passthrough", "--no-micro", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    report = orjson.loads(proc.stdout)
    for name in ("direct", "passthrough"):
        row = report["proxy"][name]
        assert row["rps"] > 0 and row["requests"] > 0 and row["errors"] == 0
        assert row["cpu_us_per_req"] > 0 and row["p99_us"] >= row["p50_us"] > 0
