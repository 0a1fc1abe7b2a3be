"""Many workers, one picture: real ``intentgate serve --workers 2`` processes on loopback.

Shoppers open a new connection for every request, so the kernel spreads them over the workers;
every assertion reads what the proxy answers over HTTP (metrics, admin API) or what it left on
disk after it stopped.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from classifiers.artifact import load_model, seal
from proxy.models import bundled_model_bytes
from tests.redisproc import ADMIN_TOKEN, BROWSER, proxy_process, redis_server

BUNDLED_VERSION = load_model(bundled_model_bytes()).version

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
PAGES = ["/products/p1", "/pages/compare?products=p1,p2", "/products/p2", "/collections/c1",
         "/pages/compare?products=p2,p3", "/products/p3", "/search?q=tee"]


def scrape(url: str) -> str:
    r = httpx.get(url + "/_intentgate/metrics", headers=AUTH, timeout=10)
    assert r.status_code == 200
    return r.text


def family_total(text: str, name: str) -> float:
    """Sum of every sample of ``name`` (all label values)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def samples(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name):].rsplit(" ", 1)
            out[labels] = float(value)
    return out


def shop(url: str, n: int, cookies: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """One shopper, ``n`` page views, a new connection each; returns (classified, cookies)."""
    jar = dict(cookies or {})
    classified = 0
    for i in range(n):
        r = httpx.get(url + PAGES[i % len(PAGES)], headers={**BROWSER, "connection": "close"},
                      cookies=jar, timeout=10)
        assert r.status_code == 200, r.text
        jar.update({k: v for k, v in r.cookies.items()})
        classified += "x-intent-class" in r.headers
    return classified, jar


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def test_one_scrape_of_either_worker_counts_the_whole_instance(
    origin: str, tmp_path: Path,
) -> None:
    settings = {"workers": 2, "admin_token": ADMIN_TOKEN, "audit_sample_rate": 1.0,
                "record_events": True}
    with proxy_process(origin, tmp_path, **settings) as p:
        with ThreadPoolExecutor(max_workers=4) as pool:
            jobs = [pool.submit(shop, p.url, 12) for _ in range(16)]
            seen: list[float] = []
            while not all(j.done() for j in jobs) or len(seen) < 10:
                seen.append(family_total(scrape(p.url), "intentgate_requests_total"))
            classified = sum(j.result()[0] for j in jobs)
        assert classified > 0  # (a request over the time budget goes out unclassified)
        # Counters never go backwards, whichever worker answers.
        assert all(a <= b for a, b in zip(seen, seen[1:], strict=False)), seen
        # After the load stops, every scrape equals the instance's total exactly: the requests
        # that carried a class (one sent unclassified for the time budget counts under none).
        def settled() -> bool:
            return family_total(scrape(p.url), "intentgate_requests_total") == classified

        wait_for(settled, what="the merged total")
        final = [scrape(p.url) for _ in range(10)]
        total = family_total(final[0], "intentgate_requests_total")
        assert [family_total(t, "intentgate_requests_total") for t in final] == [total] * 10
        # Histograms are merged bucket by bucket: the +Inf bucket counts every classified one.
        assert all(f'intentgate_classify_seconds_bucket{{le="+Inf"}} {classified}' in t
                   for t in final)
        # Both workers served shoppers and both are in the answer (gauges are per worker).
        booked = samples(final[0], "intentgate_governance")
        workers = {m.group(1) for k, v in booked.items() if 'stat="booked"' in k and v > 0
                   for m in [re.search(r'worker="(\d+)"', k)] if m}
        assert len(workers) == 2, booked
        assert re.search(r'intentgate_build_info\{model="[^"]+",version="[^"]+"\} 1', final[0])
        events = family_total(final[0], "intentgate_events_total")
        reverted = family_total(final[0], "intentgate_reverted_events_total")
        # Every page is an event; one sent unclassified (over the budget) is not recorded.
        over = total - classified

        # Every audit record, written by two workers, read back through the API exactly once.
        def all_records() -> list[str] | None:
            ids: list[str] = []
            cursor = None
            while True:
                q = {"limit": "50", **({"cursor": cursor} if cursor else {})}
                r = httpx.get(p.url + "/_intentgate/api/decisions", params=q, headers=AUTH,
                              timeout=10)
                assert r.status_code == 200, r.text
                body = r.json()
                ids += [d["id"] for d in body["decisions"]]
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            return ids if len(ids) >= classified else None

        ids = wait_for(all_records, what="every audit record")
        assert len(ids) == classified and len(set(ids)) == classified
        assert len({i.rsplit("-", 1)[1] for i in ids}) == 2  # both workers wrote records
        # The memory store with two workers: the views say plainly they are one worker's.
        body = admin(p.url, "GET", "live").json()
        assert body["scope"] == "worker" and "--store redis" in body["note"]
        page = httpx.get(p.url + "/_intentgate/ui/", timeout=5).text
        script = httpx.get(p.url + "/_intentgate/ui/scope.js", timeout=5)
        assert 'src="scope.js"' in page and 'id="scope-note"' in page
        assert script.status_code == 200 and "body.note" in script.text
    # The recorded events: one file per worker, every line whole, none lost.
    lines = []
    for path in sorted((tmp_path / "data" / "events").glob("events*.jsonl*")):
        lines += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(list((tmp_path / "data" / "events").glob("events-*.jsonl"))) == 2
    assert len(lines) == events - reverted - over and all("kind" in rec for rec in lines)


# -- one active model everywhere ----------------------------------------------------------------


def candidate(tag: str) -> bytes:
    content = orjson.loads(bundled_model_bytes())
    for card in content["classes"]:
        card["display_name"] += f" ({tag})"
    return seal(content)


def admin(url: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{url}/_intentgate/api/{path}", headers=AUTH, timeout=30,
                         **kw)


def models_on_new_connections(urls: list[str], n: int) -> list[str]:
    """X-Intent-Model of ``n`` requests, each on a new connection, spread over ``urls``."""
    out = []
    for i in range(n):
        r = httpx.get(urls[i % len(urls)] + "/products/p1",
                      headers={**BROWSER, "connection": "close"}, timeout=10)
        out.append(r.headers.get("x-intent-model", "-"))
    return out


def all_serve(urls: list[str], version: str, n: int = 200) -> None:
    """Poll (no wall-clock assert) until ``n`` requests on new connections all carry it."""
    wait_for(lambda: set(models_on_new_connections(urls, n)) == {version}, timeout=60,
             what=f"every worker on {version}")


def test_activate_and_rollback_reach_every_worker(origin: str, tmp_path: Path) -> None:
    with proxy_process(origin, tmp_path, workers=2, admin_token=ADMIN_TOKEN,
                       budget_ms=500) as p:
        bundled = BUNDLED_VERSION
        assert set(models_on_new_connections([p.url], 20)) == {bundled}
        version = admin(p.url, "POST", "models", content=candidate("new")).json()["version"]
        r = admin(p.url, "POST", f"models/{version}/activate")
        assert r.status_code == 200 and r.json()["active"] == version
        # The answer lists the workers and what each serves: both, once they follow.
        workers = r.json()["workers"]
        assert len(workers) == 2 and {w["active"] for w in workers} == {version}
        all_serve([p.url], version)
        listed = admin(p.url, "GET", "models").json()
        assert [w["active"] for w in listed["workers"]] == [version, version]
        r = admin(p.url, "POST", "models/rollback")
        assert r.status_code == 200 and r.json()["active"] == bundled
        all_serve([p.url], bundled)
        # A version a worker cannot load: every worker keeps serving the one it has and says so.
        broken = tmp_path / "data" / "models" / "2026-01-01.abcdef.json"
        broken.write_text("{not json")
        history = tmp_path / "data" / "models" / "ACTIVE"
        history.write_text(history.read_text() + "2026-01-01.abcdef\n")

        def both_behind() -> bool:
            texts = [scrape(p.url) for _ in range(4)]
            return all(re.search(r'intentgate_model_sync\{stat="behind",worker="\d+"\} 1\.0'
                                 r'(.|\n)*stat="behind",worker="\d+"\} 1\.0', t) is not None
                       for t in texts)

        wait_for(both_behind, what="both workers reporting they are behind")
        health = httpx.get(p.url + "/_intentgate/health", timeout=5).json()
        assert health["model"] == bundled and health["model_wanted"] == "2026-01-01.abcdef"
        assert "cannot load 2026-01-01.abcdef" in health["model_error"]
        assert set(models_on_new_connections([p.url], 40)) == {bundled}


def test_sighup_to_the_supervisor_reloads_every_worker(origin: str, tmp_path: Path) -> None:
    model_file = tmp_path / "model.json"
    model_file.write_bytes(bundled_model_bytes())
    with proxy_process(origin, tmp_path, workers=2, admin_token=ADMIN_TOKEN,
                       model=str(model_file), budget_ms=500) as p:
        assert set(models_on_new_connections([p.url], 20)) == {BUNDLED_VERSION}
        fresh = candidate("reloaded")
        model_file.write_bytes(fresh)
        p.proc.send_signal(signal.SIGHUP)
        all_serve([p.url], load_model(fresh).version)


# -- two instances x two workers on one Redis ----------------------------------------------------


def live_total(url: str) -> tuple[int, str]:
    r = admin(url, "GET", "live")
    assert r.status_code == 200, r.text
    body = r.json()
    return int(body["mix"]["decisions"]), body["scope"]


@pytest.mark.redis
def test_two_instances_of_two_workers_on_one_redis_give_one_picture(
    origin: str, tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # Redis keeps its data across the restart below (append-only file, synced on every write),
    # so the test can tell whether anything flushed before the outage was lost.
    with redis_server(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always") as rs:
        s = {"workers": 2, "store": "redis", "redis_url": rs.url, "redis_prefix": "igmany",
             "admin_token": ADMIN_TOKEN, "budget_ms": 500}
        with proxy_process(origin, tmp_path / "a", **s) as a, \
                proxy_process(origin, tmp_path / "b", **s) as b:
            with ThreadPoolExecutor(max_workers=4) as pool:
                on_a = [pool.submit(shop, a.url, 10) for _ in range(6)]
                on_b = [pool.submit(shop, b.url, 10) for _ in range(6)]
                seen: list[float] = []
                while not all(j.done() for j in on_a + on_b) or len(seen) < 10:
                    seen.append(family_total(scrape(a.url), "intentgate_requests_total"))
                classified_a = sum(j.result()[0] for j in on_a)
                classified_b = sum(j.result()[0] for j in on_b)
            assert classified_a == classified_b == 60  # (a budget of 500 ms: none sent bare)
            # One instance's scrapes never go backwards and end at that instance's total.
            assert all(x <= y for x, y in zip(seen, seen[1:], strict=False)), seen
            wait_for(lambda: family_total(scrape(a.url), "intentgate_requests_total")
                     == classified_a, what="instance a's total")
            assert {family_total(scrape(a.url), "intentgate_requests_total")
                    for _ in range(10)} == {classified_a}

            # api/live from any worker of either instance: the same, deployment-wide totals.
            both = classified_a + classified_b
            answers: list[set[tuple[int, str]]] = []

            def same_everywhere() -> bool:
                answers.append({live_total(u) for u in [a.url, b.url] * 4})
                return answers[-1] == {(both, "global")}

            try:
                wait_for(same_everywhere, what="the same live totals everywhere")
            except AssertionError:
                raise AssertionError(f"live totals: {answers[-3:]}, expected {both}") from None

            # A shopper served only by instance b, looked up through instance a.
            _, jar = on_b[0].result()
            r = admin(a.url, "GET", f"sessions/{jar['ig_sid']}")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["scope"] == "global" and body["decisions"] == 10
            assert [step["kind"] for step in body["timeline"]][:2] == ["product_view", "compare"]
            assert len(body["timeline"]) == 10 and body["class"] == "comparison-shopper"

            # Activate through instance a (the model was uploaded there only): every worker
            # of both instances follows; rollback through b likewise.
            version = admin(a.url, "POST", "models", content=candidate("fleet")).json()["version"]
            r = admin(a.url, "POST", f"models/{version}/activate")
            assert r.status_code == 200, r.text
            all_serve([a.url, b.url], version)
            listed = admin(b.url, "GET", "models").json()["workers"]
            assert len(listed) == 4 and {w["active"] for w in listed} == {version}
            r = admin(b.url, "POST", "models/rollback")
            assert r.status_code == 200 and r.json()["active"] == BUNDLED_VERSION
            all_serve([a.url, b.url], BUNDLED_VERSION)

            # What the deployment has counted so far, once every worker has written it behind.
            settled: list[set[tuple[int, str]]] = []

            def one_total() -> bool:
                settled.append({live_total(u) for u in [a.url, b.url] * 4})
                return len(settled) > 1 and settled[-1] == settled[-2] and len(settled[-1]) == 1

            wait_for(one_total, what="one settled total")
            (before, _scope), = settled[-1]
            # Redis stops: shoppers see no failure; admin answers say they are local only.
            rs.stop()
            for url in (a.url, b.url):
                classified, _ = shop(url, 7)
                assert classified == 7
            wait_for(lambda: all(live_total(u)[1] == "local only" for u in [a.url, b.url] * 2),
                     what="answers marked local only")
            r = admin(a.url, "GET", "drift")
            assert r.status_code == 200 and r.json()["scope"] == "local only"
            assert "redis is unreachable" in r.json()["note"]
            # Redis returns: the answers are global again.
            rs.start()
            wait_for(lambda: all(live_total(u)[1] == "global" for u in [a.url, b.url] * 2),
                     what="answers global again")
            # Nothing is lost or counted twice: what was flushed before the outage and the 14
            # requests counted locally during it, from any worker of either instance.
            after: list[set[tuple[int, str]]] = []

            def counted_once() -> bool:
                after.append({live_total(u) for u in [a.url, b.url] * 4})
                return after[-1] == {(before + 14, "global")}

            try:
                wait_for(counted_once, what="every request counted once")
            except AssertionError:
                raise AssertionError(f"after the outage: {after[-3:]}, expected "
                                     f"{before + 14}") from None
