"""Route rules mined from traffic: URL templates, an event kind per template, and the evidence.

Pure: observations in (method, path, query, status, who), a TOML rules file out. Used by
``intentgate routes suggest`` on access logs and by the merchandiser page on the proxy's sample of
unmatched requests.

How templates are mined (segment by segment, on the distinct paths seen):

1. A segment is typed: a number (``123``), an id-slug or slug-id (``12-blue-shirt``,
   ``blue-shirt_12``), a token (UUIDs, hex, random letters+digits of 10+ characters) or a word.
   A known page extension is kept as a literal suffix (``{product}.html``).
2. Numbers, id-slugs and tokens are always captures. Words stay literal unless, under one parent,
   at least ``MIN_DISTINCT`` different words that are not in the vocabulary below appear: then they
   are one capture (a category slug, a product handle). At the root, words merge only when there
   are many (``ROOT_DISTINCT``) and none carries more than 5 % of the traffic.
3. A first segment that is a locale (``en``, ``de-de``, ``fr_FR``) is set aside; rules for templates
   seen with one accept any first segment before them (``/**/...``).

How a template gets a kind (the first that holds; each names its evidence):

- ignore: first segment is an API, admin, static-files or account word (``api``, ``graphql``,
  ``admin``, ``static``, ``account``, ``login``...).
- purchase: a GET answered 2xx whose path has a confirmation word (thank-you, success,
  confirmation, order-received, complete, danke, merci...) *and* strong evidence: at least half of
  its hits come within 30 s of the same visitor's POST to a checkout/order/payment path (the
  place-order redirect), or the path also names an order/checkout and carries an order id.
  Otherwise it is only listed, never proposed.
- cart_remove / cart_add: POST (or DELETE for removal) to a path with a cart word (cart, basket,
  bag, trolley, panier, warenkorb, carrito, carrello, winkelwagen, koszyk); removal needs a
  remove/delete word or the DELETE method. A GET of a cart page is a page view, not an add.
- wishlist_add: POST to a wishlist/favorites/merkliste/favoris path.
- checkout_step: checkout/kasse/caisse/payment/shipping words.
- compare, review_view, deal_view: compare/vergleich; review(s)/bewertungen/avis/ratings;
  offer(s)/sale/deal(s)/promo/angebote/soldes/outlet/clearance.
- search: a search word (search, suche, recherche, buscar, find) or a search key (q, query, s,
  search, term, keyword, suche...) present in at least 80 % of the template's hits; the key's
  value is captured.
- price_sort_or_filter: a rule on the same path whose query has a sort/order key with a price
  value (price-asc, preis...) or a price key (min_price, price_from, price[...]...).
- product_view vs category_view: scored by product words (p, product, item, artikel, produit, dp)
  or category words (c, category, collections, catalog, kategorie, shop); an id-like last segment
  (number, id-slug, token) for products, word-only and nested captures for categories; many
  distinct values. The higher score wins when it is at least 2.

Confidence is a number in 0..1 from the evidence: words in the path, the share of hits with the
expected method and status, and the number of distinct values; ``high`` >= 0.8, ``medium`` >= 0.5.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from signals.routes import _is_static

MIN_DISTINCT = 3  # different words under one parent that become one capture
ROOT_DISTINCT = 20
SEARCH_KEY_SHARE = 0.8
SEARCH_MIN_HITS = 5
PRG_WINDOW = 30.0  # seconds: a GET this soon after the visitor's ordering POST "follows" it
MAX_VALUES_PER_KEY = 16  # query values kept per key per path (for sort/price evidence)
MAX_KEYS_PER_PATH = 64  # query keys counted per path (hostile URLs invent keys)
MAX_ACTORS = 200_000
EXAMPLES = 3

_NUM = re.compile(r"^\d+$")
_IDSLUG = re.compile(r"^\d+[-_][A-Za-z0-9][\w.-]*$")
_SLUGID = re.compile(r"^[A-Za-z][\w-]*?[-_]\d+$")
_TOKEN = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{12,}|(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{10,})$"
)
_EXT = re.compile(r"^(?P<stem>.+)\.(?P<ext>html?|php|aspx?|jsp|htm)$")
_LOCALE = re.compile(r"^(?:[a-z]{2})(?:[-_][A-Za-z]{2})?$")
LOCALES = frozenset(
    "en de fr es it nl pt pl sv da fi no nb nn cs sk hu ro el tr ru uk ja zh ko ar he bg hr sl "
    "sr et lv lt is ga ca eu gl".split()
)

NUM, IDSLUG, TOKEN, VAR = "<num>", "<id-slug>", "<token>", "<var>"
_IDLIKE = (NUM, IDSLUG, TOKEN)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CART = _words("cart carts basket bag trolley panier warenkorb carrito carrello winkelwagen koszyk "
              "warenkorb kosik cesta sacola minicart line-item line-items lineitem lineitems")
ADD = _words("add add-item additem add-to-cart addtocart items item lines line entries products "
             "hinzufuegen ajouter")
REMOVE = _words("remove delete remove-item removeitem entfernen supprimer loeschen del")
CHECKOUT = _words("checkout checkouts order kasse caisse commande pay payment payments shipping "
                  "delivery bezahlen versand onepage order-review place-order placeorder confirm")
PURCHASE = _words("thank-you thankyou thanks success successful confirmation confirmed "
                  "order-received order-confirmation complete completed done danke merci "
                  "bestellbestaetigung finish finished receipt gracias grazie")
ORDERWORDS = _words("order orders checkout commande bestellung pedido ordine")
WISHLIST = _words("wishlist wish-list wishlists favorites favourites favorite favourite "
                  "wunschliste merkliste favoris liste-de-souhaits save-for-later saved")
COMPARE = _words("compare comparison vergleich vergleichen comparer comparar confronta")
REVIEW = _words("review reviews ratings rating bewertungen bewertung avis opiniones recensioni")
DEAL = _words("offer offers sale sales deal deals promo promos promotion promotions angebote "
              "angebot soldes outlet clearance discount discounts specials special-offers rebajas")
SEARCH = _words("search suche recherche buscar busca find zoeken cerca catalogsearch "
                "searchresults")
SEARCH_KEYS = ("q", "query", "s", "search", "term", "keyword", "keywords", "k", "text",
               "searchterm", "search_query", "suche", "w", "qs", "sSearch")
PRODUCT = _words("p product products produkt produkte item items artikel produit produits "
                 "prodotto producto dp pd detail")
CATEGORY = _words("c category categories collections collection kategorie "
                  "kategorien categorie categoria department departments dept cat cats "
                  "browse l list listing range")
# Store-root words: neither products nor categories (Oscar's /catalogue/<product>/ and
# /catalogue/category/<slug>/), but kept literal.
NEUTRAL = _words("catalog catalogue shop store")
IGNORE_FIRST = _words(
    "api apis graphql ajax xhr rest wp-json v1 v2 v3 admin wp-admin backend administrator "
    "static assets media images img css js fonts _next build dist cdn-cgi _nuxt "
    "account accounts login logout signin sign-in signout signup sign-up register profile "
    "password my-account customer customers konto compte anmelden user users auth oauth "
    "session sessions")
# Query keys that dispatch to a page or an action (``index.php?route=checkout/cart/add``,
# ``?controller=product``, ``?wc-ajax=add_to_cart``): each word value is its own template.
DISPATCH_KEYS = frozenset(("route", "controller", "action", "wc-ajax", "fc", "module", "task",
                           "act", "do", "cmd", "rt", "page_type", "pagetype"))
_ID_KEY = re.compile(r"(?i)(?:^|_)(?:product|item|article|artikel|pid|sku|prod)(?:_?id)?$"
                     r"|^id_?(?:product|item|article)$|^id$")
_CAT_KEY = re.compile(r"(?i)^(?:cat|cid|category|categories|path|id_?category|category_?id"
                      r"|collection)$")
_SORTISH = re.compile(r"sort|order")
SORT_KEYS = ("sort", "order", "orderby", "order_by", "sort_by", "sortby", "sorting", "dir",
             "srule", "sortierung", "tri", "orden")
PRICE_WORDS = ("price", "preis", "prix", "precio", "prezzo", "cheap", "low", "high")
PRICE_KEYS = re.compile(r"(?i)(?:^|[_.\[\-])(?:min|max)?_?(?:price|preis|prix)|^p(?:min|max)$"
                        r"|^price")
VOCAB = CART | ADD | REMOVE | CHECKOUT | PURCHASE | ORDERWORDS | WISHLIST | COMPARE | REVIEW | \
    DEAL | SEARCH | PRODUCT | CATEGORY | IGNORE_FIRST | NEUTRAL


# -- collecting ------------------------------------------------------------------------------


@dataclass(slots=True)
class _PathStats:
    count: int = 0
    ok: int = 0  # 2xx
    redirect: int = 0  # 3xx
    error: int = 0  # 4xx/5xx
    after_post: int = 0  # GETs soon after the same visitor's checkout/order POST
    keys: dict[str, set[str]] = field(default_factory=dict)  # query key -> some values
    key_hits: dict[str, int] = field(default_factory=dict)  # query key -> requests with it
    example: str = ""
    markup: dict[str, int] | None = None  # page kind read from sniffed HTML -> responses


class Miner:
    """Collects requests, then mines templates (``suggest``). Memory grows with the number of
    distinct (method, path) pairs, not with the number of requests."""

    def __init__(self) -> None:
        self.paths: dict[tuple[str, str], _PathStats] = {}
        self.requests = 0
        self.skipped = 0  # static, admin, not a path
        self._last_post: dict[str, float] = {}

    def add(self, method: str, path: str, query: str = "", status: int = 200,
            actor: str | None = None, ts: float = 0.0, count: int = 1) -> None:
        """One request (or ``count`` identical ones). ``query`` is the raw query string."""
        self.requests += count
        if not path.startswith("/") or path.startswith("/_intentgate/") or _is_static(path):
            self.skipped += count
            return
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        example = path + ("?" + query if query else "")
        if query and "=" in query:
            for pair in query.split("&", 32)[:32]:
                k, _, v = pair.partition("=")
                if k in DISPATCH_KEYS and v and len(v) <= 40 and any(c.isalpha() for c in v):
                    path = f"{path}?{k}={v}"
                    break
        key = (method, path)
        st = self.paths.get(key)
        if st is None:
            st = self.paths[key] = _PathStats()
            st.example = example
        st.count += count
        if status < 300:
            st.ok += count
        elif status < 400:
            st.redirect += count
        else:
            st.error += count
        if query:
            for n, pair in enumerate(query.split("&")):
                if n >= 32:
                    break
                k, _, v = pair.partition("=")
                if not k or (k not in st.key_hits and len(st.key_hits) >= MAX_KEYS_PER_PATH):
                    continue
                st.key_hits[k] = st.key_hits.get(k, 0) + count
                vals = st.keys.get(k)
                if vals is None:
                    vals = st.keys[k] = set()
                if len(vals) < MAX_VALUES_PER_KEY:
                    vals.add(v[:40])
        if actor is not None:
            if method == "POST":
                if _ordering(example):
                    if len(self._last_post) >= MAX_ACTORS:
                        self._last_post.clear()
                    self._last_post[actor] = ts
            elif method == "GET":
                t = self._last_post.get(actor)
                if t is not None and 0.0 <= ts - t <= PRG_WINDOW:
                    st.after_post += count

    def markup(self, method: str, path: str, kind: str) -> None:
        """Evidence from a response's HTML (``signals.pagetype``): this path is a ``kind`` page.
        Counted only for a path already seen."""
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        st = self.paths.get((method, path))
        if st is None:
            return
        if st.markup is None:
            st.markup = {}
        st.markup[kind] = st.markup.get(kind, 0) + 1

    def suggest(self) -> list[Suggestion]:
        return mine(self.paths, self.requests)


def _ordering(url: str) -> bool:
    """A POST that may place an order: a checkout, order or payment word in its path or query
    (``/checkout/place``, ``?wc-ajax=checkout``, ``/carts/mine/payment-information``)."""
    words = re.split(r"[/?&=_.\-]+", url.lower())
    return any(w in CHECKOUT or w in ORDERWORDS for w in words)


# -- templates -------------------------------------------------------------------------------


def _ext(seg: str) -> tuple[str, str]:
    m = _EXT.match(seg)
    return (m["stem"], "." + m["ext"]) if m else (seg, "")


def token_type(seg: str) -> str | None:
    """The placeholder a segment is always captured as, or ``None`` for a word."""
    stem, _ = _ext(seg)
    if _NUM.match(stem):
        return NUM
    if _IDSLUG.match(stem) or _SLUGID.match(stem):
        return IDSLUG
    if _TOKEN.match(stem):
        return TOKEN
    return None


def _build(items: list[tuple[tuple[str, ...], tuple[str, str], bool]], depth: int,
           prefix: tuple[str, ...], out: dict[tuple[str, ...], list[Any]],
           counts: dict[tuple[str, str], int]) -> None:
    ends = [it for it in items if len(it[0]) == depth]
    if ends:
        out.setdefault(prefix, []).extend(ends)
    rest = [it for it in items if len(it[0]) > depth]
    if not rest:
        return
    groups: dict[str, list[Any]] = {}
    words: dict[str, list[Any]] = {}
    for it in rest:
        seg = it[0][depth]
        typ = token_type(seg)
        if typ is not None:
            groups.setdefault(typ + _ext(seg)[1], []).append(it)
        else:
            words.setdefault(seg, []).append(it)
    # Words outside the vocabulary merge into one capture when there are enough of them.
    plain = {w: v for w, v in words.items()
             if _ext(w)[0].lower() not in VOCAB and not w.startswith("?")}
    merged: set[str] = set()
    # Words always followed by an id are names in a name/id form (/Blue-Shirt/4f2a...c9).
    named = {w for w, v in plain.items()
             if all(len(it[0]) > depth + 1 and token_type(it[0][depth + 1]) is not None
                    for it in v)}
    # At the root many are needed, unless each leads only to id-slug pages (/men/1-shirt.html).
    slugged = all(len(it[0]) == depth + 2 and token_type(it[0][depth + 1]) == IDSLUG
                  for w in named for it in plain[w])
    if len(named) >= (MIN_DISTINCT if depth > 0 or slugged else ROOT_DISTINCT):
        merged |= named
    if depth > 0:
        if len({_ext(w)[0] for w in plain}) >= MIN_DISTINCT:
            merged = set(plain)
    else:
        # At the root: pages with an extension that end there (/blue-shirt.html) merge like
        # any level's; directories only when there are many, none with 5 % of the traffic.
        leaves = {w for w, v in plain.items()
                  if w not in merged and _ext(w)[1] and all(len(it[0]) == 1 for it in v)}
        if len(leaves) >= MIN_DISTINCT:
            merged |= leaves
        dirs = {w: v for w, v in plain.items() if w not in leaves and w not in merged}
        if len(dirs) >= ROOT_DISTINCT:
            total = sum(counts[it[1]] for v in dirs.values() for it in v)
            top = max(sum(counts[it[1]] for it in v) for v in dirs.values())
            if total > 0 and top / total < 0.05:
                merged |= set(dirs)
    for w, v in words.items():
        if w in merged:
            groups.setdefault(VAR + _ext(w)[1], []).extend(v)
        else:
            groups.setdefault(w, []).extend(v)
    for tok, v in groups.items():
        _build(v, depth + 1, (*prefix, tok), out, counts)


# -- suggestions -----------------------------------------------------------------------------


@dataclass
class Suggestion:
    kind: str  # an event slug, "ignore", or "page" (no rule: counted as a page view)
    path: str  # rule path pattern
    method: str | tuple[str, ...]
    confidence: float
    why: list[str]
    count: int
    share: float
    distinct: int
    examples: list[str]
    query: dict[str, str] = field(default_factory=dict)
    capture: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    template: str = ""
    proposed: bool = True  # False: listed for the owner, never written as a rule
    tokens: tuple[str, ...] = ()
    locale: bool = False
    word: str | None = None  # the vocabulary word the kind rests on, if any

    @property
    def level(self) -> str:
        return "high" if self.confidence >= 0.8 else "medium" if self.confidence >= 0.5 else "low"

    def rule(self) -> dict[str, Any]:
        """The rule as a dict in the ``RuleSpec`` shape."""
        out: dict[str, Any] = {"kind": self.kind, "path": self.path}
        if self.method != "GET":
            out["method"] = list(self.method) if isinstance(self.method, tuple) else self.method
        if self.query:
            out["query"] = dict(self.query)
        if self.capture:
            out["capture"] = dict(self.capture)
        if self.priority:
            out["priority"] = self.priority
        return out


def _lower_words(tokens: Sequence[str]) -> list[str]:
    out: list[str] = []
    for t in tokens:
        if t.startswith("<"):
            continue
        if t.startswith("?"):
            value = t.partition("=")[2].lower()
            out.append(value)
            out.extend(p for p in re.split(r"[-_./]", value) if p)
            continue
        stem = _ext(t)[0].lower()
        out.append(stem)
        out.extend(p for p in re.split(r"[-_.]", stem) if p and p != stem)
    return out


def _has(words: Sequence[str], vocab: frozenset[str]) -> str | None:
    for w in words:
        if w in vocab:
            return w
    return None


def _pattern(tokens: Sequence[str], kind: str, locale: bool) -> tuple[str, dict[str, str]]:
    """Rule path for a template; captures named by kind."""
    segs: list[str] = []
    slots = [i for i, t in enumerate(tokens) if t.startswith("<")]
    product_at = category_from = category_one = None
    if kind in ("product_view", "review_view", "wishlist_add", "cart_add", "cart_remove") and slots:
        idlike = [i for i in slots if tokens[i].split(">")[0] + ">" in _IDLIKE]
        product_at = idlike[-1] if idlike else (slots[-1] if kind == "product_view" else None)
    if kind in ("category_view", "price_sort_or_filter") and slots and slots[-1] == len(tokens) - 1:
        start = slots[-1]
        while start - 1 in slots and tokens[start - 1].startswith(VAR):
            start -= 1
        if all(tokens[i].startswith(VAR) for i in range(start, len(tokens))):
            category_from = start
        elif kind == "category_view":
            category_one = slots[-1]
    conds: dict[str, str] = {}
    for i, t in enumerate(tokens):
        if t.startswith("?"):
            k, _, v = t[1:].partition("=")
            conds[k] = v
            continue
        if not t.startswith("<"):
            segs.append(t)
            continue
        ext = t.split(">", 1)[1]
        if i == product_at:
            segs.append("{product}" + ext)
        elif i == category_one:
            segs.append("{category}" + ext)
        elif category_from is not None and i == category_from:
            multi = i < len(tokens) - 1 or kind == "category_view"
            segs.append("{category+}" if multi and not ext else "{category}" + ext)
            break
        else:
            segs.append("*" + ext)
    path = "/" + "/".join(segs)
    if locale and segs and not segs[0].startswith(("*", "{")):
        path = "/**" + path
    return path, conds


def mine(paths: dict[tuple[str, str], _PathStats], requests: int) -> list[Suggestion]:
    """Templates and their kinds from collected path statistics (see the module docstring)."""
    counts = {k: st.count for k, st in paths.items()}
    by_method: dict[str, list[tuple[tuple[str, ...], tuple[str, str], bool]]] = {}
    for key in paths:
        method, path = key
        path, qmark, dispatch = path.partition("?")
        segs = tuple(s for s in path.split("/") if s)
        locale = False
        if len(segs) > 1 and _LOCALE.match(segs[0]) and segs[0][:2].lower() in LOCALES:
            segs, locale = segs[1:], True
        if qmark:
            segs = (*segs, "?" + dispatch)
        by_method.setdefault(method, []).append((segs, key, locale))
    total = max(requests, 1)
    out: list[Suggestion] = []
    for method, items in by_method.items():
        leaves: dict[tuple[str, ...], list[Any]] = {}
        _build(items, 0, (), leaves, counts)
        for tokens, members in leaves.items():
            sugg = _classify(method, tokens, members, paths, total)
            if sugg is not None:
                out.extend(sugg)
    return _merge(_categories_by_shape(out))


def _categories_by_shape(items: list[Suggestion]) -> list[Suggestion]:
    """Two id-shaped page templates without a product or category word (PrestaShop's
    ``/3-clothes`` and ``/men/1-hummingbird-shirt.html``): the one with far fewer distinct
    values, each seen far more often, lists products: a category page."""
    pages = [s for s in items if s.kind == "product_view" and s.word is None and s.proposed]
    if len(pages) < 2:
        return items
    ref = max(pages, key=lambda s: s.distinct)
    ref_rate = ref.count / max(ref.distinct, 1)
    for s in pages:
        rate = s.count / max(s.distinct, 1)
        if s is not ref and s.distinct * 2 <= ref.distinct and rate >= 3 * ref_rate:
            s.kind = "category_view"
            s.path, _ = _pattern(s.tokens, s.kind, s.locale)
            s.why[0] = (f"id-shaped like {ref.template} but {s.distinct} values seen {rate:.1f} "
                        f"times each against {ref.distinct} seen {ref_rate:.1f} times: a listing")
            s.confidence = 0.6
    return items


def _merge(items: list[Suggestion]) -> list[Suggestion]:
    """One suggestion per (kind, path, method, query): evidence added up."""
    seen: dict[tuple[Any, ...], Suggestion] = {}
    for s in items:
        key = (s.kind, s.path, s.method, tuple(sorted(s.query.items())))
        got = seen.get(key)
        if got is None:
            seen[key] = s
            continue
        got.count += s.count
        got.share += s.share
        got.distinct += s.distinct
        got.examples = (got.examples + s.examples)[:EXAMPLES]
        got.confidence = max(got.confidence, s.confidence)
        if s.template not in got.template:
            got.template += ", " + s.template
    order = {"purchase": 0, "checkout_step": 1, "cart_add": 2, "cart_remove": 3}
    return sorted(seen.values(), key=lambda s: (s.kind == "ignore", s.kind == "page",
                                                not s.proposed, order.get(s.kind, 9), -s.count))


def _classify(method: str, tokens: tuple[str, ...], members: list[Any],
              paths: dict[tuple[str, str], _PathStats], total: int) -> list[Suggestion] | None:
    stats = [paths[m[1]] for m in members]
    count = sum(s.count for s in stats)
    ok = sum(s.ok for s in stats)
    redirect = sum(s.redirect for s in stats)
    error = sum(s.error for s in stats)
    after_post = sum(s.after_post for s in stats)
    locale = any(m[2] for m in members)
    good = ok + redirect
    if count == 0 or good == 0:
        return None
    distinct = len(members)
    examples = [s.example for s in sorted(stats, key=lambda s: -s.count)[:EXAMPLES]]
    share = count / total
    words = _lower_words(tokens)
    template = "/" + "/".join(tokens) + (" (locale prefix seen)" if locale else "")
    slots = [t for t in tokens if t.startswith("<")]
    key_hits: dict[str, int] = {}
    key_vals: dict[str, set[str]] = {}
    for s in stats:
        for k, n in s.key_hits.items():
            key_hits[k] = key_hits.get(k, 0) + n
        for k, vals in s.keys.items():
            key_vals.setdefault(k, set()).update(vals)
    why: list[str] = [f"{count} requests ({share * 100:.1f} %)", f"{distinct} distinct paths"]
    if slots:
        why.append(f"captures {', '.join(slots)}")
    if key_hits:
        top = sorted(key_hits.items(), key=lambda kv: -kv[1])[:4]
        why.append("query keys " + ", ".join(f"{k} ({n * 100 // count} %)" for k, n in top))
    if error:
        why.append(f"{error} answered 4xx/5xx")

    def make(kind: str, conf: float, reason: str, *, meth: str | tuple[str, ...] = method,
             proposed: bool = True, query: dict[str, str] | None = None,
             capture: dict[str, str] | None = None, priority: int = 0) -> Suggestion:
        path, conds = _pattern(tokens, kind, locale)
        return Suggestion(kind, path, meth, round(min(conf, 1.0), 2), [reason, *why], count,
                          share, distinct, examples, {**conds, **(query or {})}, capture or {},
                          priority, template, proposed, tokens, locale,
                          _has(words, PRODUCT) or _has(words, CATEGORY))

    first = (_ext(tokens[0])[0].lower()
             if tokens and not tokens[0].startswith(("<", "?")) else "")
    def ignore() -> list[Suggestion]:
        ign = make("ignore", 0.9, f"first segment {first!r} is an API/admin/static/account path",
                   meth="*")
        ign.path = "/" + tokens[0] + "/**" if len(tokens) > 1 else "/" + tokens[0]
        if locale:
            ign.path = "/**" + ign.path
        return [ign]

    is_get = method in ("GET", "HEAD")
    # Pages under an API/account path are not page types; actions there still are (a cart add
    # through /api/cart, a wishlist add under /accounts/): those are read first.
    if first in IGNORE_FIRST and is_get:
        return ignore()
    ok_share = good / count
    cart = _has(words, CART)
    purchase = _has(words, PURCHASE)
    if purchase and is_get:
        order = _has(words, ORDERWORDS)
        prg = after_post / count
        strong = prg >= 0.5 or (order is not None and any(t in _IDLIKE for t in
                                                          (x.split(">")[0] + ">" for x in slots)))
        reason = (f"confirmation word {purchase!r}; {after_post} of {count} hits right after "
                  f"the visitor's checkout POST"
                  + (f"; order word {order!r} with an id" if order else ""))
        if strong and ok / count >= 0.8:
            conf = 0.6 + 0.3 * min(prg / 0.8, 1.0) + (0.1 if order else 0.0)
            return [make("purchase", conf, reason)]
        return [make("purchase", 0.3, reason + "; not proposed: evidence too weak",
                     proposed=False)]
    if method in ("POST", "PUT", "DELETE", "PATCH"):
        remove = _has(words, REMOVE)
        if cart and (remove or method == "DELETE"):
            return [make("cart_remove", 0.8 if remove else 0.7,
                         f"{method} to a cart path ({cart!r}"
                         + (f", {remove!r})" if remove else ")"))]
        add = _has(words, ADD)
        chk = _has(words, CHECKOUT)
        if cart and chk and not add and method == "POST":
            # /carts/mine/payment-information: a checkout step on the cart, not an add.
            return [make("checkout_step", 0.7 * ok_share,
                         f"POST to a checkout path ({chk!r}) of the cart ({cart!r})")]
        if cart and method in ("POST", "PUT"):
            conf = 0.9 if add else 0.75
            return [make("cart_add", conf * ok_share, f"{method} to a cart path ({cart!r}"
                         + (f", {add!r})" if add else ")"))]
        wish = _has(words, WISHLIST)
        if wish and method in ("POST", "PUT") and not remove:
            return [make("wishlist_add", 0.85 * ok_share,
                         f"{method} to a wishlist path ({wish!r})")]
        chk = _has(words, CHECKOUT)
        if chk and method == "POST":
            return [make("checkout_step", 0.8 * ok_share, f"POST to a checkout path ({chk!r})")]
        # Unmatched non-GET requests make no event anyway.
        return ignore() if first in IGNORE_FIRST else None
    if not is_get:
        return None
    add_q = next((k for k in key_hits if k.lower().replace("_", "-") in ("add-to-cart",
                                                                        "addtocart")), None)
    if add_q and key_hits[add_q] / count >= 0.8:
        return [make("cart_add", 0.8, f"GET with query key {add_q!r}",
                     query={add_q: "*"}, capture={"product": add_q})]
    chk = _has(words, CHECKOUT)
    if chk and not cart:
        return [make("checkout_step", 0.75, f"checkout word {chk!r}")]
    if cart:
        return [make("page", 0.5, f"cart page ({cart!r}): a page view, not an add",
                     proposed=False)]
    for kind, vocab, what in (("compare", COMPARE, "comparison"), ("review_view", REVIEW, "review"),
                              ("deal_view", DEAL, "offer/sale")):
        w = _has(words, vocab)
        if w:
            listed = next((k for k, vals in key_vals.items()
                           if key_hits[k] / count >= 0.8 and any("," in v or "%2C" in v.upper()
                                                                for v in vals)), None)
            if kind == "compare" and listed:
                return [make(kind, 0.85, f"{what} word {w!r}; list key {listed!r}",
                             query={listed: "*"}, capture={"items": listed})]
            return [make(kind, 0.8, f"{what} word {w!r}")]
    results: list[Suggestion] = []
    search_word = _has(words, SEARCH)
    skey = next((k for k in SEARCH_KEYS if key_hits.get(k, 0) / count >= SEARCH_KEY_SHARE), None)
    if skey is None and search_word:
        skey = next((k for k in SEARCH_KEYS if k in key_hits), None)
    if skey is None:
        # A search key on a page that is not only a search page (``/?s=``): the rule needs the
        # key, so it only decides requests that carry it; the values must be words.
        skey = next((k for k in SEARCH_KEYS if key_hits.get(k, 0) >= SEARCH_MIN_HITS and len(
            [v for v in key_vals.get(k, ()) if any(c.isalpha() for c in v)]) >= 3), None)
    if search_word or skey:
        conf = (0.5 if search_word else 0.0) + (0.4 if skey else 0.0) + 0.1
        reason = " and ".join(x for x in (f"search word {search_word!r}" if search_word else "",
                                          f"search key {skey!r}" if skey else "") if x)
        kw: dict[str, Any] = {}
        if skey:
            kw = {"query": {skey: "*"}, "capture": {"query": skey}}
        results.append(make("search", conf, reason, **kw))
    else:
        page, conf, reason = _page_kind(tokens, words, distinct, count)
        marked: dict[str, int] = {}
        for st in stats:
            for k, n in (st.markup or {}).items():
                marked[k] = marked.get(k, 0) + n
        said = max(marked, key=lambda k: marked[k]) if marked else None
        if said is not None:
            seen = f"page markup says {said} in {marked[said]} of {sum(marked.values())} " \
                   "sniffed responses"
            if page is None:
                page, conf, reason = said, 0.6 if marked[said] >= 2 else 0.45, seen
            elif page == said:
                conf, reason = conf + 0.1, f"{reason}; {seen}"
            else:
                reason = f"{reason}; but {seen}"
        if page is not None:
            results.append(make(page, conf, reason))
        else:
            results.extend(_query_page(words, key_hits, key_vals, count, make))
    results.extend(_price_rules(tokens, locale, key_hits, key_vals, count, make))
    return results or [make("page", 0.0, "no kind recognised: counted as a page view",
                            proposed=False)]


def _query_page(words: list[str], key_hits: dict[str, int], key_vals: dict[str, set[str]],
                count: int, make: Any) -> list[Suggestion]:
    """Product or category pages addressed by query keys (``product.php?id=12``,
    ``index.php?route=product/product&product_id=42``): a product or category word in the path
    or dispatch value, and an id key present in at least 80 % of the hits."""
    def key(pattern: re.Pattern[str]) -> str | None:
        for k, n in sorted(key_hits.items(), key=lambda kv: -kv[1]):
            if n / count >= 0.8 and pattern.search(k) and all(
                    v[:1].isalnum() for v in key_vals.get(k, ())):
                return k
        return None

    pw = _has(words, PRODUCT)
    cw = _has(words, CATEGORY)
    if pw and not cw:
        k = key(_ID_KEY)
        if k is not None:
            return [make("product_view", 0.75, f"product word {pw!r}; id key {k!r}",
                         query={k: "*"}, capture={"product": k})]
    if cw:
        k = key(_CAT_KEY) or key(_ID_KEY)
        if k is not None:
            return [make("category_view", 0.7, f"category word {cw!r}; key {k!r}",
                         query={k: "*"}, capture={"category": k})]
    return []


def _page_kind(tokens: tuple[str, ...], words: list[str],
               distinct: int, count: int) -> tuple[str | None, float, str]:
    slots = [t.split(">")[0] + ">" for t in tokens if t.startswith("<")]
    if not slots:
        return None, 0.0, ""
    pw = _has(words, PRODUCT)
    cw = _has(words, CATEGORY)
    last = tokens[-1].split(">")[0] + ">" if tokens[-1].startswith("<") else None
    product = category = 0.0
    reasons_p: list[str] = []
    reasons_c: list[str] = []
    if pw:
        product += 2
        reasons_p.append(f"product word {pw!r}")
    if cw:
        category += 2
        reasons_c.append(f"category word {cw!r}")
    # The word right before the capture says most (/catalogue/category/<slug_12>).
    parent = _ext(tokens[-2])[0].lower() if len(tokens) > 1 and tokens[-1].startswith("<") \
        and not tokens[-2].startswith(("<", "?")) else ""
    if parent in PRODUCT:
        product += 1.5
    elif parent in CATEGORY:
        category += 1.5
    if last in _IDLIKE:
        product += 2
        reasons_p.append(f"last segment is an id ({last})")
    elif last == VAR:
        per_value = count / max(distinct, 1)
        if distinct >= 20 and per_value <= 3.0:
            # Long tail: many values, each seen a few times, as product pages are.
            product += 2
            reasons_p.append(f"{distinct} values seen {per_value:.1f} times each (long tail)")
        else:
            category += 1.5
            reasons_c.append("last segment is a word slug")
        if len(slots) > 1 and all(s == VAR for s in slots):
            category += 1
            reasons_c.append("nested word slugs")
    if tokens[-1].endswith((".html", ".htm")) and last in _IDLIKE:
        product += 0.5
    if distinct >= 10:
        if product >= category:
            product += 1
        else:
            category += 0.5
        (reasons_p if product >= category else reasons_c).append(f"{distinct} distinct values")
    if max(product, category) < 2:
        return None, 0.0, ""
    if product >= category:
        return "product_view", min(0.4 + 0.1 * product, 0.95), "; ".join(reasons_p)
    return "category_view", min(0.4 + 0.1 * category, 0.95), "; ".join(reasons_c)


def _price_rules(tokens: tuple[str, ...], locale: bool, key_hits: dict[str, int],
                 key_vals: dict[str, set[str]], count: int, make: Any) -> list[Suggestion]:
    out = []
    for key, vals in key_vals.items():
        low = key.lower()
        if low in SORT_KEYS or _SORTISH.search(low):
            price_vals = sorted(v for v in vals if any(w in v.lower() for w in PRICE_WORDS[:4]))
            if price_vals:
                out.append(make("price_sort_or_filter", 0.85,
                                f"sort key {key!r} with price values {', '.join(price_vals)}",
                                query={key: "|".join(price_vals)}, priority=1))
        elif PRICE_KEYS.search(key):
            out.append(make("price_sort_or_filter", 0.8, f"price key {key!r}",
                            query={key: "*"}, priority=1))
    return out


# -- output ----------------------------------------------------------------------------------


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return str(v)


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_str(k)


def _clip(text: str, n: int = 100) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= n else text[: n - 1] + "…"


def render_toml(suggestions: Sequence[Suggestion], *, header: Iterable[str] = (),
                preset: str | None = "none") -> str:
    """A ready config file: one ``[[rules]]`` table per proposed rule, each with its evidence."""
    lines = [f"# {h}" for h in header]
    lines += [
        "# Review every rule: delete what is wrong, rename captures, then check requests with",
        "#   intentgate routes test --config THIS_FILE GET /some/url",
    ]
    if preset is not None:
        lines += ["# No preset: only these rules (set a platform preset if one fits your shop).",
                  f"preset = {_toml_str(preset)}"]
    lines.append("")
    used: dict[str, int] = {}
    rules = [s for s in suggestions if s.proposed and s.kind not in ("page",)]
    events = [s for s in rules if s.kind != "ignore"]
    ignores = [s for s in rules if s.kind == "ignore"]
    for title, group in (("event rules", events), ("ignore candidates: not page types "
                                                   "(delete a rule to count those as page views)",
                                                   ignores)):
        if not group:
            continue
        lines.append(f"# --- {title} ---")
        for s in group:
            base = s.kind.replace("_view", "").replace("_", "-")
            used[base] = used.get(base, 0) + 1
            name = base if used[base] == 1 else f"{base}-{used[base]}"
            lines.append(f"# {s.kind}, confidence {s.level} ({s.confidence:.2f}): {s.count} "
                         f"requests ({s.share * 100:.1f} %), {s.distinct} distinct paths")
            lines.append("# why: " + _clip("; ".join(s.why[:1] + s.why[3:]), 200))
            lines.append("# e.g. " + _clip(", ".join(s.examples), 200))
            lines.append("[[rules]]")
            lines.append(f"name = {_toml_str(name)}")
            for k, v in s.rule().items():
                lines.append(f"{k} = {_toml_value(v)}")
            lines.append("")
    listed = [s for s in suggestions if not s.proposed]
    if listed:
        lines.append("# --- not proposed (no rule written; each is counted as a page view) ---")
        for s in listed[:30]:
            lines.append(f"# {s.template} [{s.method}] {s.count} requests: {_clip(s.why[0], 120)}"
                         f"; e.g. {_clip(s.examples[0], 80)}")
    return "\n".join(lines) + "\n"


def suggestions_json(suggestions: Sequence[Suggestion]) -> list[dict[str, Any]]:
    """The suggestions as plain data (the admin API and the merchandiser page)."""
    return [{"kind": s.kind, "path": s.path, "method": s.method, "confidence": s.confidence,
             "level": s.level, "count": s.count, "distinct": s.distinct, "why": s.why,
             "examples": s.examples, "proposed": s.proposed, "template": s.template,
             "rule": s.rule() if s.proposed and s.kind != "page" else None}
            for s in suggestions]
