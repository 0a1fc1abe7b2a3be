"""Real clickstream datasets -> event records (the JSONL that ``intentgate fit`` reads).

Pure: each importer takes an iterable of text lines and yields record dicts; the CLI opens the
files (gzip too). Malformed lines are counted on the ``Counts`` object passed in and skipped,
never fatal. What each dataset lacks is in ``MISSING``, so model cards can say so instead of
inventing data.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from signals.events import EventKind

SESSION_GAP = 1800.0  # a new visit after 30 minutes without events

Record = dict[str, Any]


@dataclass
class Counts:
    lines: int = 0
    events: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


# Signals each dataset cannot show (beyond these, everything comes from its events).
MISSING: dict[str, tuple[str, ...]] = {
    "taobao": ("searches", "comparisons", "price_sorts", "deal_views", "review_views",
               "cart_removes", "checkout_steps", "category_views"),
    "yoochoose": ("searches", "comparisons", "price_sorts", "deal_views", "review_views",
                  "cart_adds", "cart_removes", "checkout_steps", "wishlist_adds",
                  "category_views"),
    "diginetica": ("searches", "comparisons", "price_sorts", "deal_views", "review_views",
                   "cart_adds", "cart_removes", "checkout_steps", "wishlist_adds",
                   "category_views"),
    "rees46": ("searches", "comparisons", "price_sorts", "deal_views", "review_views",
               "checkout_steps", "wishlist_adds", "category_views"),
    "otto": ("searches", "comparisons", "price_sorts", "deal_views", "review_views",
             "cart_removes", "checkout_steps", "wishlist_adds", "category_views"),
    "ga": ("comparisons", "price_sorts", "review_views", "wishlist_adds"),
}


def _rec(session: str, ts: float, kind: EventKind, product: str | None = None,
         category: str | None = None, query: str | None = None, value: float = 0.0) -> Record:
    return {"session": session, "ts": ts, "kind": kind.slug, "product": product,
            "category": category, "query": query, "value": value}


class _Sessionizer:
    """Split one actor's time-ordered events into visits on a 30-minute gap."""

    __slots__ = ("last", "n")

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.n: dict[str, int] = {}

    def session(self, actor: str, ts: float) -> str:
        last = self.last.get(actor)
        if last is None or ts - last > SESSION_GAP or ts < last:
            self.n[actor] = self.n.get(actor, 0) + 1
        self.last[actor] = ts
        return f"{actor}#{self.n[actor]}"


_TAOBAO = {"pv": EventKind.PRODUCT_VIEW, "fav": EventKind.WISHLIST_ADD,
           "cart": EventKind.CART_ADD, "buy": EventKind.PURCHASE}


def taobao(lines: Iterable[str], counts: Counts) -> Iterator[Record]:
    """``user_id,item_id,category_id,behavior_type,timestamp`` (no header); 30-min visits."""
    visits = _Sessionizer()
    for line in lines:
        counts.lines += 1
        parts = line.strip().split(",")
        if len(parts) != 5 or parts[3] not in _TAOBAO or not parts[4].isdigit():
            counts.skip("malformed")
            continue
        ts = float(parts[4])
        counts.events += 1
        yield _rec("tb:" + visits.session(parts[0], ts), ts, _TAOBAO[parts[3]], parts[1],
                   parts[2])


def yoochoose(lines: Iterable[str], counts: Counts) -> Iterator[Record]:
    """Tab-separated ``SessionId ItemId Time`` (header) or the original comma form
    ``session,timestamp-iso,item,category``; every click is a product view."""
    for line in lines:
        counts.lines += 1
        s = line.strip()
        if not s or s.startswith("SessionId"):
            continue
        parts = s.split("\t") if "\t" in s else s.split(",")
        try:
            if len(parts) == 3:
                session, item, ts = parts[0], parts[1], float(parts[2])
                category = None
            elif len(parts) == 4:
                session, item = parts[0], parts[2]
                ts = datetime.fromisoformat(parts[1].replace("Z", "+00:00")).timestamp()
                category = parts[3] if parts[3] not in ("0", "S") else None
            else:
                raise ValueError
        except ValueError:
            counts.skip("malformed")
            continue
        counts.events += 1
        yield _rec("yc:" + session, ts, EventKind.PRODUCT_VIEW, item, category)


def diginetica(lines: Iterable[str], counts: Counts) -> Iterator[Record]:
    """``session_id;user_id;item_id;timeframe;eventdate`` (header); timeframe is ms within the
    session, eventdate the day: ts = day + timeframe."""
    for line in lines:
        counts.lines += 1
        parts = line.strip().split(";")
        if len(parts) != 5 or parts[0] == "session_id":
            if parts[0] != "session_id":
                counts.skip("malformed")
            continue
        try:
            day = datetime.strptime(parts[4], "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
            ts = day + int(parts[3]) / 1000.0
        except ValueError:
            counts.skip("malformed")
            continue
        counts.events += 1
        yield _rec("dg:" + parts[0], ts, EventKind.PRODUCT_VIEW, parts[2])


_REES = {"view": EventKind.PRODUCT_VIEW, "cart": EventKind.CART_ADD,
         "remove_from_cart": EventKind.CART_REMOVE, "purchase": EventKind.PURCHASE}


def rees46(lines: Iterable[str], counts: Counts) -> Iterator[Record]:
    """CSV with header ``event_time,event_type,product_id,category_id,category_code,brand,
    price,user_id,user_session``."""
    for row in csv.reader(lines):
        counts.lines += 1
        if not row or row[0] == "event_time":
            continue
        if len(row) != 9 or row[1] not in _REES or not row[8]:
            counts.skip("malformed")
            continue
        try:
            ts = datetime.strptime(row[0], "%Y-%m-%d %H:%M:%S UTC").replace(
                tzinfo=UTC).timestamp()
        except ValueError:
            counts.skip("malformed")
            continue
        counts.events += 1
        yield _rec("r46:" + row[8], ts, _REES[row[1]], row[2], row[4] or row[3])


_OTTO = {"clicks": EventKind.PRODUCT_VIEW, "carts": EventKind.CART_ADD,
         "orders": EventKind.PURCHASE}


def otto(lines: Iterable[str], counts: Counts) -> Iterator[Record]:
    """JSONL ``{"session": n, "events": [{"aid", "ts" (ms), "type"}]}``: one shopper's four
    weeks, split into visits on a 30-minute gap."""
    for line in lines:
        counts.lines += 1
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            events = obj["events"]
            actor = str(obj["session"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            counts.skip("malformed")
            continue
        visits = _Sessionizer()
        for ev in events:
            try:
                kind = _OTTO[ev["type"]]
                ts = float(ev["ts"]) / 1000.0
                aid = str(ev["aid"])
            except (KeyError, TypeError, ValueError):
                counts.skip("malformed event")
                continue
            counts.events += 1
            yield _rec("otto:" + visits.session(actor, ts), ts, kind, aid)


# GA enhanced-ecommerce action codes.
_GA_ACTION = {"1": EventKind.CATEGORY_VIEW, "2": EventKind.PRODUCT_VIEW,
              "3": EventKind.CART_ADD, "4": EventKind.CART_REMOVE,
              "5": EventKind.CHECKOUT_STEP, "6": EventKind.PURCHASE}


def ga(lines: Iterable[str], counts: Counts) -> Iterator[Record]:
    """Google Merchandise Store ``all_sessions.csv``: usually one sampled hit per visit, with
    the visit's totals. The hit becomes an event by its eCommerceAction_type (2 is the only
    product detail view), else by page: ``/asearch.html`` search, ``/basket.html`` cart, a
    ``sale`` path deals, ``/store.html`` and the category pages a listing (category view: every
    hit carries a productSKU, but on a listing page that is merely a product shown in it), else a
    page view. A visit with ``transactions`` > 0 gets a purchase at its end (``time`` +
    ``timeOnSite``)."""
    reader = csv.DictReader(lines)
    for row in reader:
        counts.lines += 1
        try:
            visit = f"ga:{row['fullVisitorId']}:{row['visitId']}"
            start = float(row["visitId"])
            ts = start + float(row["time"] or 0) / 1000.0
        except (KeyError, TypeError, ValueError):
            counts.skip("malformed")
            continue
        path = (row.get("pagePathLevel1") or "").lower()
        action = row.get("eCommerceAction_type") or "0"
        category = (row.get("v2ProductCategory") or "").strip("/") or None
        product = row.get("productSKU") or None
        if action in _GA_ACTION:
            kind = _GA_ACTION[action]
        elif "asearch" in path or "search" in path:
            kind = EventKind.SEARCH
        elif "basket" in path:
            kind = EventKind.CART_ADD if row.get("type") == "EVENT" else EventKind.PAGE_VIEW
        elif "sale" in path:
            kind = EventKind.DEAL_VIEW
        elif row.get("type") == "PAGE" and (category or "store.html" in path):
            kind = EventKind.CATEGORY_VIEW
        else:
            kind = EventKind.PAGE_VIEW
        counts.events += 1
        yield _rec(visit, ts, kind, product if kind == EventKind.PRODUCT_VIEW else None,
                   category)
        if (row.get("transactions") or "0") not in ("", "0") and kind != EventKind.PURCHASE:
            end = start + float(row.get("timeOnSite") or 0)
            counts.events += 1
            yield _rec(visit, max(end, ts + 1.0), EventKind.PURCHASE)


IMPORTERS: dict[str, Callable[[Iterable[str], Counts], Iterator[Record]]] = {
    "taobao": taobao, "yoochoose": yoochoose, "diginetica": diginetica, "rees46": rees46,
    "otto": otto, "ga": ga,
}
