"""The offline commands end to end: import, fit (events and access logs), evaluate, fit-bundled."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from classifiers.artifact import Model, load_model
from classifiers.kernels import Scorer
from proxy.commands.cli import main
from signals.events import EventKind as K
from signals.events import ShopperEvent
from signals.features import FeatureExtractor
from signals.records import dumps, event_to_record
from signals.replay import replay_states
from tests.factories import event

T = 1_700_000_000.0


def _write_sessions(path: Path, n: int = 120, seed: int = 0) -> None:
    """Three kinds of shopper with clearly different behaviour."""
    rng = random.Random(seed)
    lines = []
    for s in range(n):
        kind = s % 3
        t = T + s * 5000
        evs = []
        for i in range(5):
            k = (K.COMPARE, K.SEARCH, K.CART_ADD)[kind]
            jitter = rng.uniform(0.0, 2.0)
            evs.append(event(K.PRODUCT_VIEW, t + 20 * i + jitter, f"p{i}"))
            evs.append(event(k, t + 20 * i + 5 + jitter))
        if kind == 2 and s % 2:
            evs.append(event(K.PURCHASE, t + 500))
        lines += [dumps(event_to_record(f"s{s}", ev)) for ev in evs]
    path.write_bytes(b"".join(lines) + b"not json\n")


def test_fit_writes_a_model_and_report_and_is_deterministic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    _write_sessions(events)
    out1, out2 = tmp_path / "m1.json", tmp_path / "m2.json"
    assert main(["fit", str(events), "--out", str(out1), "--max-k", "5"]) == 0
    printed = capsys.readouterr().out
    assert "silhouette" in printed and "1 malformed lines skipped" in printed
    assert main(["fit", str(events), "--out", str(out2), "--max-k", "5"]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    model = load_model(out1.read_bytes())
    cards = model.artifact.classes
    # Three behaviours, three fitted classes; each behaviour named by a class that rests on it
    # (a rule-based archetype for one that no fitted class's name rests on).
    assert len([c for c in cards if "Rule-based archetype" not in c.description]) == 3
    assert {r.signal for c in cards for r in c.requires} >= {"comparisons", "searches",
                                                             "cart_adds"}
    assert out1.with_suffix(".html").read_text().startswith("<!doctype html>")


def test_fit_labels_rename_classes(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _write_sessions(events)
    first = tmp_path / "m.json"
    main(["fit", str(events), "--out", str(first), "--max-k", "4"])
    slug = load_model(first.read_bytes()).slugs[0]
    labels = tmp_path / "labels.toml"
    labels.write_text(f'"{slug}" = "Our favourite shoppers"\n')
    renamed = tmp_path / "r.json"
    assert main(["fit", str(events), "--out", str(renamed), "--max-k", "4",
                 "--labels", str(labels)]) == 0
    cards = orjson.loads(renamed.read_bytes())["classes"]
    assert "Our favourite shoppers" in {c["display_name"] for c in cards}


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "no valid events"),
    (dumps(event_to_record("only", event(K.SEARCH, T))), "too little data"),
])
def test_fit_refuses_empty_or_tiny_input(tmp_path: Path, content: bytes, needle: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(content)
    assert main(["fit", str(events), "--out", str(tmp_path / "m.json")]) == 2
    assert needle in capsys.readouterr().err


def test_fit_reads_access_logs_through_a_preset(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "access.log"
    rows = []
    for s in range(90):
        ip = f"10.1.{s // 200}.{s % 200}"
        for i in range(5):
            minute = f"{(s * 7 + i) % 60:02d}"
            path = ("/pages/compare?products=a,b" if s % 3 == 0 else
                    "/search?q=tv" if s % 3 == 1 else "/products/p" + str(i))
            rows.append(f'{ip} - - [22/Nov/2026:1{s % 10}:{minute}:00 +0000] "GET {path} '
                        f'HTTP/1.1" 200 10 "-" "Mozilla/5.0"')
    rows.append("broken line")
    log.write_text("\n".join(rows) + "\n")
    out = tmp_path / "m.json"
    assert main(["fit", str(log), "--input", "access-log", "--preset", "demo", "--out",
                 str(out), "--max-k", "4"]) == 0
    report = orjson.loads(out.read_bytes())["report"]
    notes = " ".join(report["notes"])
    assert "approximated by client address + user agent" in notes
    assert "1 malformed lines skipped" in notes


def test_evaluate_prints_purchase_rate_by_class(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    _write_sessions(events)
    model = tmp_path / "m.json"
    main(["fit", str(events), "--out", str(model), "--max-k", "4"])
    capsys.readouterr()
    assert main(["evaluate", str(model), str(events)]) == 0
    out = capsys.readouterr().out
    assert "before their first purchase" in out and "lift" in out.lower()


def test_import_writes_event_jsonl(shared_data: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "otto.jsonl"
    src = shared_data / "otto-recsys-test-sample" / "train.jsonl"
    assert main(["import", "--format", "otto", str(src), "--out", str(out)]) == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 862 and orjson.loads(lines[0])["kind"] == "product_view"
    assert "lacks:" in capsys.readouterr().err


def test_fit_bundled_rebuilds_the_shipped_model_byte_for_byte(shared_data: Path,
                                                              tmp_path: Path) -> None:
    from proxy.commands.offline import BUNDLED_PATH

    out = tmp_path / "model.json"
    assert main(["fit-bundled", "--data-dir", str(shared_data), "--out", str(out)]) == 0
    assert out.read_bytes() == BUNDLED_PATH.read_bytes()


# -- evaluate on access logs, early sessions, requirements ---------------------------------


def _shopify_shoppers(n: int = 150) -> tuple[list[str], list[bytes]]:
    """The same shoppers as a Shopify access log and as event JSONL: browsers (collections
    only), researchers (many products, a search) and buyers (products, then an order)."""
    log, jsonl = [], []
    for s in range(n):
        ip, start = f"10.2.{s // 200}.{s % 200}", T + s * 7200
        kind = s % 3
        steps: list[tuple[str, str, dict[str, object]]] = []
        pages = 2 + s % 4 if kind == 0 else 4 + s % 9
        for i in range(pages):
            if kind == 0:
                steps.append((f"/collections/c{i % 3}", "category_view",
                              {"category": f"c{i % 3}"}))
            else:
                steps.append((f"/products/p{(s + i) % 40}", "product_view",
                              {"product": f"p{(s + i) % 40}"}))
        if kind == 1:
            steps.insert(1, ("/search?q=lamp", "search", {"query": "lamp"}))
        if kind == 2 and s % 2:
            steps.append(("/checkouts/c1/thank_you", "purchase", {}))
        for i, (path, ev_kind, fields) in enumerate(steps):
            ts = start + 45 * i + (s % 7)
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
            log.append(f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" 200 10 "-" "Mozilla/5.0"')
            rec = {"session": f"s{s}", "ts": float(ts), "kind": ev_kind, "product": None,
                   "category": None, "query": None, "value": 0.0, **fields}
            jsonl.append(orjson.dumps(rec) + b"\n")
    return log, jsonl


def test_evaluate_reads_access_logs_with_the_same_numbers_as_event_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_lines, jsonl = _shopify_shoppers()
    log = tmp_path / "access.log"
    log.write_text("\n".join(log_lines) + "\n")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(jsonl))
    model = tmp_path / "m.json"
    assert main(["fit", str(events), "--out", str(model), "--max-k", "4"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model), str(events)]) == 0
    from_jsonl = capsys.readouterr().out
    assert main(["evaluate", str(model), str(log), "--input", "access-log",
                 "--preset", "shopify"]) == 0
    from_log = capsys.readouterr().out
    # Same table (the access log adds notes about how it was replayed first).
    table = from_jsonl[from_jsonl.index("sessions classified"):]
    assert table in from_log and "access logs replayed through preset 'shopify'" in from_log
    assert "150 sessions classified" in table or "sessions classified" in table
    assert "after 3" in table and "after 10" in table
    assert "requirement violations in the scorer's output: 0" in table


def test_evaluate_access_log_with_a_config_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    log_lines, jsonl = _shopify_shoppers(60)
    log = tmp_path / "access.log"
    log.write_text("\n".join(log_lines) + "\n")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(jsonl))
    config = tmp_path / "shop.toml"
    config.write_text('preset = "shopify"\nhalf_life = 600.0\n')
    model = tmp_path / "m.json"
    assert main(["fit", str(log), "--input", "access-log", "--config", str(config),
                 "--out", str(model), "--max-k", "3"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model), str(log), "--input", "access-log",
                 "--config", str(config)]) == 0
    assert "lift" in capsys.readouterr().out
    config.write_text('preset = "no-such-shop"\n')
    assert main(["evaluate", str(model), str(log), "--input", "access-log",
                 "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_fit_k_and_features_choose_what_is_clustered(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    _write_sessions(events)
    out = tmp_path / "m.json"
    assert main(["fit", str(events), "--out", str(out), "--k", "4", "--features",
                 "product_views,comparisons,searches,cart_adds,session_minutes"]) == 0
    content = orjson.loads(out.read_bytes())
    assert len(content["classes"]) == 4
    assert [f["name"] for f in content["features"]] == [
        "product_views", "comparisons", "searches", "cart_adds", "session_minutes"]
    assert "forced" in content["report"]["k_rule"]
    printed = capsys.readouterr().out
    assert "stability" in printed and "purchase separation" in printed
    assert main(["fit", str(events), "--out", str(out), "--features", "nope"]) == 2
    assert "unknown or repeated signals nope" in capsys.readouterr().err


def test_fitted_names_make_no_claim_the_data_cannot_show(tmp_path: Path) -> None:
    """A log with product and collection pages only: no class or card speaks of carts."""
    _, jsonl = _shopify_shoppers()
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(jsonl))
    out = tmp_path / "m.json"
    assert main(["fit", str(events), "--out", str(out)]) == 0
    for card in orjson.loads(out.read_bytes())["classes"]:
        text = " ".join([card["slug"], card["display_name"], card["description"]]).lower()
        for absent in ("cart", "wishlist", "comparison", "compares", "checkout", "review", "deal"):
            assert absent not in text, (absent, card["display_name"], card["description"])
        assert not card["slug"].startswith(("more-", "fewer-"))


def test_fit_without_scikit_learn_says_what_to_install_in_one_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _write_sessions(events, n=30)
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "from proxy.commands.cli import main\n"
            f"raise SystemExit(main(['fit', {str(events)!r}, '--out', "
            f"{str(tmp_path / 'm.json')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "pip install 'intentgate[fit]'" in proc.stderr


# -- rule-based archetypes in a store's own fit ----------------------------------------------


def _write_savers(path: Path, savers: int, n: int = 900, seed: int = 0) -> None:
    """Quick browsers, long careful readers and cart adders; ``savers`` of the browsers also
    save a product to the wishlist: too few states for a fitted class of their own. Every view
    is a new product, so nobody revisits one."""
    rng = random.Random(seed)
    lines = []
    saving = set(range(0, 3 * savers, 3))  # the first browsers
    for s in range(n):
        kind = s % 3
        t = T + s * 5000
        gap = 10.0 if kind == 0 else 120.0 if kind == 1 else 30.0
        views = rng.randint(1, 3) if kind == 0 else rng.randint(4, 7)
        if s in saving:
            views = 4
        evs = [event(K.PRODUCT_VIEW, t + gap * i + rng.uniform(0.0, 2.0), f"p{s}-{i}")
               for i in range(views)]
        end = evs[-1].ts
        if kind == 2:
            evs.append(event(K.CART_ADD, end + 5, f"p{s}-0"))
            if s % 2:
                evs.append(event(K.PURCHASE, end + 60))
        if s in saving:  # after the second product page, then two more
            evs.insert(2, event(K.WISHLIST_ADD, evs[1].ts + 3, f"p{s}-0"))
        lines += [dumps(event_to_record(f"s{s}", ev)) for ev in evs]
    path.write_bytes(b"".join(lines))


def _state(model: Model, *evs: ShopperEvent) -> tuple[int, np.ndarray]:
    """A session's event count and its state after its last event, as the model reads it."""
    rows = replay_states({"new": list(evs)}, FeatureExtractor(model.feature_names,
                                                              model.transforms))
    return len(evs), np.ascontiguousarray(rows.X[-1])


def test_own_fit_names_a_behaviour_no_fitted_class_rests_on(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _write_savers(events, savers=12)  # 1.3 % of the sessions save a product
    out = tmp_path / "m.json"
    assert main(["fit", str(events), "--out", str(out)]) == 0
    model = load_model(out.read_bytes())
    cards = {c.slug: c for c in model.artifact.classes}
    saver = cards["wishlist-saver"]
    assert [(r.signal, r.min) for r in saver.requires] == [("wishlist_adds", 0.5)]
    assert "Rule-based archetype: no fitted class rests on this signal, though 1.3% of the " \
           "training sessions show it" in saver.description
    # Measured on the training states like every class: its size and its persistence.
    assert saver.size > 0 and saver.persistence is not None
    # No fitted class rests on wishlist adds; every rule-based class names a behaviour the
    # sessions show (the k rule may leave cart adds to one too).
    assert [c.slug for c in model.artifact.classes
            if any(r.signal == "wishlist_adds" for r in c.requires)] == ["wishlist-saver"]
    assert {r.signal for c in model.artifact.classes if "Rule-based" in c.description
            for r in c.requires} <= {"wishlist_adds", "cart_adds"}
    # A quick visit that saves a product is given the class that names it, not undetermined.
    n, x = _state(model, event(K.PRODUCT_VIEW, T, "a"), event(K.PRODUCT_VIEW, T + 10, "b"),
                  event(K.WISHLIST_ADD, T + 15, "a"))
    scorer = Scorer(model)
    assert scorer.slug(scorer.label(n, x)[0]) == "wishlist-saver"


def test_own_fit_adds_no_archetype_for_a_behaviour_the_data_lacks(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _write_savers(events, savers=0)
    out = tmp_path / "m.json"
    assert main(["fit", str(events), "--out", str(out)]) == 0
    content = orjson.loads(out.read_bytes())
    shown = {"product_views", "cart_adds", "dwell_per_product_s", "distinct_products",
             "distinct_categories", "session_minutes"}
    for card in content["classes"]:
        assert {r["signal"] for r in card.get("requires", [])} <= shown, card["slug"]
        text = " ".join([card["slug"], card["display_name"], card["description"]]).lower()
        for absent in ("wishlist", "comparison", "compares", "search", "review", "deal",
                       "price", "revisit", "returning"):
            assert absent not in text, (absent, card["slug"])


def test_own_fit_labels_rename_an_archetype_and_keep_names_unique(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[
                                                                     str]) -> None:
    events = tmp_path / "events.jsonl"
    _write_savers(events, savers=12)
    labels = tmp_path / "labels.toml"
    labels.write_text('wishlist-saver = { slug = "savers", display_name = "Savers" }\n')
    out = tmp_path / "m.json"
    assert main(["fit", str(events), "--out", str(out), "--labels", str(labels)]) == 0
    model = load_model(out.read_bytes())
    assert "savers" in model.slugs and "wishlist-saver" not in model.slugs
    assert model.requirements[model.slugs.index("savers")] == (("wishlist_adds", 0.5),)
    other = next(s for s in model.slugs if s != "savers")
    labels.write_text(f'"{other}" = {{ slug = "wishlist-saver" }}\n')
    capsys.readouterr()
    assert main(["fit", str(events), "--out", str(out), "--labels", str(labels)]) == 2
    err = capsys.readouterr().err
    assert "'wishlist-saver' is used by more than one class" in err and err.count("\n") == 1


# -- leave one dataset out, the bundled model ----------------------------------------------


def _taobao_lines(n_users: int, seed: int, t0: int) -> str:
    """Generated Taobao-format rows: browsers view, carters add to cart and often buy."""
    rng = random.Random(seed)
    rows = []
    for u in range(n_users):
        t = t0 + u * 4000
        kind = u % 3
        for i in range(rng.randint(1, 4) if kind == 0 else rng.randint(3, 8)):
            rows.append(f"{seed}{u},{u * 10 + i},{u % 5},pv,{t + 60 * i}")
        if kind >= 1:
            rows.append(f"{seed}{u},{u * 10},{u % 5},cart,{t + 600}")
            if kind == 2 or rng.random() < 0.3:
                rows.append(f"{seed}{u},{u * 10},{u % 5},buy,{t + 700}")
        if kind == 0 and rng.random() < 0.05:
            rows.append(f"{seed}{u},{u * 10},{u % 5},buy,{t + 900}")
    return "\n".join(rows) + "\n"


@pytest.fixture
def generated_data(tmp_path: Path) -> Path:
    """A small generated stand-in for ../shared/data: two Taobao-format folders and OTTO."""
    root = tmp_path / "data"
    for i, folder in enumerate(("taobao-userbehavior-flink-2h-slice",
                                "taobao-userbehavior-hotitems-sample")):
        (root / folder).mkdir(parents=True)
        (root / folder / "UserBehavior.csv").write_text(
            _taobao_lines(150, seed=i + 1, t0=1_511_600_000 + i * 10_000_000))
    otto = root / "otto-recsys-test-sample"
    otto.mkdir()
    lines = []
    for s in range(40):
        evs = [{"aid": s * 10 + i, "ts": (1_659_304_800 + s * 9000 + 50 * i) * 1000,
                "type": "clicks"} for i in range(2 + s % 5)]
        if s % 2:
            evs.append({"aid": s, "ts": evs[-1]["ts"] + 30_000, "type": "carts"})
        lines.append(orjson.dumps({"session": s, "events": evs}).decode())
    (otto / "train.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_lodo_fits_on_all_but_one_dataset_and_reports_each(
    generated_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["lodo", "--data-dir", str(generated_data)])
    out = capsys.readouterr().out
    assert code in (0, 1)  # 1 = a held-out dataset with >= 300 buyers missed the target
    for folder in ("taobao-userbehavior-flink-2h-slice", "taobao-userbehavior-hotitems-sample",
                   "otto-recsys-test-sample"):
        assert f"=== held out: {folder}" in out
        assert "model fitted on the other 2 datasets" in out
    summary = out[out.index("summary"):]
    assert summary.count(", bottom ") == 2  # the two Taobao folders have purchases
    assert "otto-recsys-test-sample" in summary and "no purchases" in summary
    assert "after 3" in out and "violations 0" in summary


def test_bundled_model_is_byte_for_byte_reproducible(generated_data: Path,
                                                     tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["fit-bundled", "--data-dir", str(generated_data), "--out", str(a)]) == 0
    assert main(["fit-bundled", "--data-dir", str(generated_data), "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    content = orjson.loads(a.read_bytes())
    assert "each session weighted once" in " ".join(content["report"]["notes"])
    archetypes = [c for c in content["classes"] if c["size"] == 0]
    assert archetypes and all(c["requires"] for c in archetypes)
