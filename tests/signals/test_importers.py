"""Importers on small slices of each real dataset (read from ../shared/data, never copied)."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from signals.importers import IMPORTERS, MISSING, Counts
from signals.records import record_to_event

FILES = {
    "taobao": ("taobao-userbehavior-hotitems-sample/UserBehavior.csv", 500),
    "yoochoose": ("yoochoose-rsc15-clicks-100k/yoochoose-clicks-100k_train_full.txt", 500),
    "diginetica": ("diginetica-cikm2016-srgnn-sample/sample_train-item-views.csv", 500),
    "rees46": ("rees46-multicategory-2019oct-head/2019-Oct-sample.csv", 1001),
    "otto": ("otto-recsys-test-sample/train.jsonl", 20),
    "ga": ("ga-merchstore-all-sessions/all_sessions.csv", 2000),
}


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_importer_reads_a_real_slice(shared_data: Path, fmt: str) -> None:
    rel, n = FILES[fmt]
    counts = Counts()
    with (shared_data / rel).open(newline="", encoding="utf-8") as fh:
        records = list(IMPORTERS[fmt](islice(fh, n), counts))
    assert records and counts.skipped == 0
    events = [record_to_event(r) for r in records]  # every record is valid
    assert len({s for s, _ in events}) >= 2
    kinds = {e.kind.slug for _, e in events}
    assert "product_view" in kinds or fmt == "ga"
    assert fmt in MISSING and "comparisons" in MISSING[fmt]


def test_importer_taobao_maps_behaviours_and_sessionizes_on_a_gap() -> None:
    lines = ["1,10,100,pv,1000", "1,11,100,cart,1100", "1,11,100,buy,1200",
             "1,12,100,fav,9000", "garbage", "2,13,101,pv,1000"]
    counts = Counts()
    recs = list(IMPORTERS["taobao"](lines, counts))
    assert [r["kind"] for r in recs] == ["product_view", "cart_add", "purchase",
                                         "wishlist_add", "product_view"]
    assert recs[0]["session"] == recs[2]["session"] != recs[3]["session"]
    assert counts.skipped == 1 and counts.reasons == {"malformed": 1}


def test_importer_otto_splits_histories_and_skips_bad_events() -> None:
    line = ('{"session": 7, "events": [{"aid": 1, "ts": 1000000, "type": "clicks"},'
            '{"aid": 1, "ts": 1010000, "type": "carts"},'
            '{"aid": 2, "ts": 9000000, "type": "orders"},'
            '{"aid": 3, "type": "clicks"}]}')
    counts = Counts()
    recs = list(IMPORTERS["otto"]([line, "{broken"], counts))
    assert [r["kind"] for r in recs] == ["product_view", "cart_add", "purchase"]
    assert recs[0]["session"] == recs[1]["session"] != recs[2]["session"]
    assert counts.skipped == 2


def _ga_rows(*rows: dict[str, str]) -> list[str]:
    cols = ["fullVisitorId", "visitId", "time", "type", "pagePathLevel1", "eCommerceAction_type",
            "v2ProductCategory", "productSKU", "transactions", "timeOnSite"]
    lines = [",".join(cols)]
    for r in rows:
        base = {"fullVisitorId": "9", "visitId": "1500000000", "time": "0", "type": "PAGE",
                "pagePathLevel1": "/google+redesign/", "eCommerceAction_type": "0",
                "v2ProductCategory": "Home/Apparel/", "productSKU": "GGOE1",
                "transactions": "", "timeOnSite": "60"}
        base.update(r)
        lines.append(",".join(base[c] for c in cols))
    return [line + "\n" for line in lines]


def test_importer_ga_counts_listing_pages_as_category_views_not_product_views() -> None:
    """Every GA hit carries a productSKU; on a listing page that is a product shown in it,
    so only action 2 (product detail) is a product view."""
    lines = _ga_rows(
        {"time": "0"},  # a category listing that happens to carry a SKU
        {"time": "1000", "pagePathLevel1": "/store.html", "v2ProductCategory": ""},
        {"time": "2000", "eCommerceAction_type": "2", "productSKU": "GGOE2"},
        {"time": "3000", "pagePathLevel1": "/asearch.html"},
        {"time": "4000", "type": "EVENT", "eCommerceAction_type": "3"},
        {"time": "5000", "v2ProductCategory": "", "pagePathLevel1": "/home"},
    )
    counts = Counts()
    recs = list(IMPORTERS["ga"](lines, counts))
    assert [r["kind"] for r in recs] == ["category_view", "category_view", "product_view",
                                         "search", "cart_add", "page_view"]
    assert recs[0]["product"] is None and recs[0]["category"] == "Home/Apparel"
    assert recs[2]["product"] == "GGOE2"
    assert "category_views" not in MISSING["ga"]


def test_importer_ga_on_the_real_file_has_few_product_views(shared_data: Path) -> None:
    counts = Counts()
    path = shared_data / "ga-merchstore-all-sessions" / "all_sessions.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        kinds = [r["kind"] for r in IMPORTERS["ga"](fh, counts)]
    # The README: 137 hits have eCommerceAction_type 2 (product detail); the rest of the
    # ~14,000 page hits with a SKU are listings.
    assert kinds.count("product_view") == 137
    assert kinds.count("category_view") > 10_000
