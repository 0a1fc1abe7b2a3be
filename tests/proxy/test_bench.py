"""Smoke runs of the benchmark harness: the numbers are the bench's business, not the tests';
these only check that the harness measures what it says it measures."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from proxy.bench.micro import run_all
from proxy.bench.run import Target, TargetError, main, parse_metrics, parse_wrk, table
from tests.servers import free_port

WRK_OUT = """Running 1s test @ http://127.0.0.1:18999/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    51.33us   56.37us   1.65ms   99.30%
    Req/Sec    37.68k     2.56k   40.10k    81.82%
  Latency Distribution
     50%   50.00us
     75%   58.00us
     90%   62.00us
     99%    1.20ms
  41151 requests in 1.10s, 598.13MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  37431.54
Transfer/sec:    544.07MB
"""


def test_parse_wrk_reads_rate_latency_in_us_and_errors() -> None:
    r = parse_wrk(WRK_OUT)
    assert r["requests"] == 41151 and r["rps"] == 37431.54
    assert r["p50_us"] == 50.0 and r["p99_us"] == 1200.0
    assert r["errors"] == 7  # 2 read + 1 timeout + 4 non-2xx


def test_parse_wrk_refuses_output_without_totals() -> None:
    with pytest.raises(ValueError, match="unexpected wrk output"):
        parse_wrk("unable to connect to 127.0.0.1:9 Connection refused\n")


def test_parse_metrics_sums_classified_bot_and_fail_open_counters() -> None:
    text = (
        '# TYPE intentgate_requests_total counter\n'
        'intentgate_requests_total{class="casual-browser"} 10\n'
        'intentgate_requests_total{class="undetermined"} 5\n'
        'intentgate_bots_total{reason="automation"} 3\n'
        'intentgate_fail_open_total{reason="budget"} 2\n'
        'intentgate_events_total{kind="search"} 99\n'
    )
    assert parse_metrics(text) == {"classified": 15.0, "bots": 3.0, "fail_open": 2.0}


def test_table_gives_ratios_to_nginx_passthrough_and_direct() -> None:
    row = {"rps": 1000.0, "p50_us": 100.0, "p99_us": 200.0, "p50_1conn_us": 50.0}
    results = {
        "direct": dict(row, cpu_us_per_req=10.0, p50_1conn_us=40.0),
        "nginx": dict(row, cpu_us_per_req=20.0, rps=2000.0),
        "passthrough": dict(row, cpu_us_per_req=100.0),
        "intentgate": dict(row, cpu_us_per_req=150.0, p50_1conn_us=140.0,
                           classified_share=0.97),
    }
    last = table(results).splitlines()[-1].split()
    # name rps p50 p99 cpu +p50@1c cpu/nginx cpu/pass rps/nginx classified
    assert last == ["intentgate", "1000", "100", "200", "150.0", "100", "7.50", "1.50", "0.50",
                    "97%"]


def test_target_that_exits_fails_fast_with_its_log_tail(tmp_path: Path) -> None:
    t = Target("broken", [sys.executable, "-c", "import sys; sys.exit('no such upstream')"],
               free_port(), pin=None, log=tmp_path / "broken.log")
    with pytest.raises(TargetError, match=r"broken: exited with status 1.*no such upstream"):
        t.start(seconds=20)
    assert t.proc is None


def test_bench_rejects_unknown_target_before_starting_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Checked before the tools, so it says the same on a machine without wrk or nginx.
    assert main(["--targets", "direct,envoy", "--no-micro"]) == 2
    assert "unknown target 'envoy'" in capsys.readouterr().err


def test_bench_micro_reports_every_step() -> None:
    out = run_all(n=2000)
    for name in ("route match (auto preset)", "identity (signed cookies)", "state update",
                 "feature extraction", "kernel incl. Python call", "signals header value",
                 "whole classification step", "step + governance bookkeeping"):
        assert "skipped" not in out[name], (name, out[name])
        assert 0.0 < out[name]["p50_us"] <= out[name]["p99_us"], name
    assert 100 < out["memory store"]["bytes_per_session"] < 4096


@pytest.mark.skipif(not (shutil.which("wrk") and shutil.which("nginx")),
                    reason="wrk and nginx are needed (make bench installs them)")
def test_bench_proxy_round_measures_targets_and_classifies_the_load() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "proxy.commands.cli", "bench", "--rounds", "1", "--duration", "1",
         "--targets", "direct,own-client,passthrough,intentgate,protocol", "--no-micro",
         "--json"],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = orjson.loads(proc.stdout)
    assert report["config"]["mix"] == "shop"  # cart POSTs included
    for name in ("direct", "own-client", "passthrough", "intentgate", "protocol"):
        row = report["proxy"][name]
        assert row["rps"] > 0 and row["requests"] > 0 and row["errors"] == 0, (name, row)
        assert row["cpu_us_per_req"] > 0 and row["p99_us"] >= row["p50_us"] > 0, (name, row)
        assert row["p50_1conn_us"] > 0, (name, row)
    # The wrk script looks like shoppers: intentgate classified the load, gated none as bots.
    ig = report["proxy"]["intentgate"]
    assert ig["classified_share"] >= 0.9 and ig["bots_share"] == 0, ig
    assert ig["fail_open_share"] < 0.05, ig
    assert "classified_share" not in report["proxy"]["passthrough"]


def test_table_shows_a_dash_for_ratios_to_targets_not_in_the_run() -> None:
    row = {"rps": 1000.0, "p50_us": 100.0, "p99_us": 200.0, "p50_1conn_us": 50.0,
           "cpu_us_per_req": 90.0}
    last = table({"aiohttp": row}).splitlines()[-1].split()
    assert last == ["aiohttp", "1000", "100", "200", "90.0", "-", "-", "-", "-", "-"]
