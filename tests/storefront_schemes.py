"""Access logs of seven public storefront URL schemes (Shopify, Magento 2, Shopware 6,
WooCommerce, OpenCart, PrestaShop, django-oscar), each line labelled with the kind a careful owner
would give it, plus scanner noise. ``routes suggest`` is checked against these labels: its
heuristics must hold on schemes it was not written for (none is tests/altshop.py's)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable

W = ["red", "blue", "oak", "steel", "mini", "pro", "eco", "classic", "soft", "smart", "linen",
     "wool"]
N = ["chair", "lamp", "shirt", "kettle", "table", "sofa", "jacket", "boots", "mug", "rug", "bag",
     "hat"]
CATS = ["women", "men", "home", "kitchen", "garden", "sport", "kids", "lighting", "outdoor"]

Row = tuple[str, str, int, str | None]  # method, URL, status, expected kind (None: no event)


def _hex(r: random.Random, n: int = 32) -> str:
    return hashlib.md5(str(r.random()).encode()).hexdigest()[:n]


def shopify(r: random.Random, buy: bool) -> list[Row]:
    c = r.choice(CATS)
    out: list[Row] = [("GET", "/", 200, None)]
    for _ in range(r.randint(2, 6)):
        out.append(("GET", f"/collections/{c}", 200, "category_view"))
        if r.random() < .3:
            out.append(("GET", f"/collections/{c}?sort_by=price-ascending", 200,
                        "price_sort_or_filter"))
        out.append(("GET", f"/products/{r.choice(W)}-{r.choice(N)}", 200, "product_view"))
        if r.random() < .3:
            out.append(("GET", f"/search?q={r.choice(N)}&type=product", 200, "search"))
    if buy:
        out += [("POST", "/cart/add", 302, "cart_add"), ("GET", "/cart", 200, None),
                ("GET", f"/checkouts/cn/{_hex(r, 24)}", 200, "checkout_step"),
                ("POST", "/checkouts/cn/x/submit", 302, "checkout_step"),
                ("GET", f"/checkouts/cn/{_hex(r, 24)}/thank-you", 200, "purchase")]
    out.append(("GET", "/cdn/shop/files/logo.png", 200, None))
    return out


def magento(r: random.Random, buy: bool) -> list[Row]:
    c = r.choice(CATS)
    out: list[Row] = [("GET", "/", 200, None)]
    for _ in range(r.randint(2, 6)):
        out.append(("GET", f"/{c}/{r.choice(N)}s.html", 200, "category_view"))
        if r.random() < .3:
            out.append(("GET", f"/{c}/{r.choice(N)}s.html?product_list_order=price", 200,
                        "price_sort_or_filter"))
        out.append(("GET", f"/{r.choice(W)}-{r.choice(W)}-{r.choice(N)}.html", 200,
                    "product_view"))
        if r.random() < .3:
            out.append(("GET", f"/catalogsearch/result/?q={r.choice(N)}", 200, "search"))
    if buy:
        pid = r.randint(1, 2000)
        out += [("POST", f"/checkout/cart/add/uenc/aHR0cHM6Ly9leGFtcGxlLmNvbS8,/product/{pid}/",
                 302, "cart_add"),
                ("GET", "/checkout/cart/", 200, None), ("GET", "/checkout/", 200, "checkout_step"),
                ("POST", "/rest/default/V1/carts/mine/payment-information", 200,
                 "checkout_step"),
                ("GET", "/checkout/onepage/success/", 200, "purchase")]
    out.append(("GET", "/customer/section/load/?sections=cart", 200, None))
    return out


def shopware(r: random.Random, buy: bool) -> list[Row]:
    c = r.choice(CATS).capitalize()
    out: list[Row] = [("GET", "/", 200, None)]
    for _ in range(r.randint(2, 6)):
        sub = r.choice(N).capitalize()
        out.append(("GET", f"/{c}/{sub}s/", 200, "category_view"))
        if r.random() < .3:
            out.append(("GET", f"/{c}/{sub}s/?order=price-asc", 200, "price_sort_or_filter"))
        name = f"{r.choice(W).capitalize()}-{r.choice(N).capitalize()}"
        out.append(("GET", f"/{name}/{_hex(r)}", 200, "product_view"))
        if r.random() < .3:
            out.append(("GET", f"/search?search={r.choice(N)}", 200, "search"))
    if buy:
        out += [("POST", "/checkout/line-item/add", 302, "cart_add"),
                ("GET", "/checkout/cart", 200, None),
                ("GET", "/checkout/confirm", 200, "checkout_step"),
                ("POST", "/checkout/order", 302, "checkout_step"),
                ("GET", f"/checkout/finish?orderId={_hex(r)}", 200, "purchase")]
    out.append(("GET", "/widgets/checkout/info", 200, None))
    return out


def woocommerce(r: random.Random, buy: bool) -> list[Row]:
    c = r.choice(CATS)
    out: list[Row] = [("GET", "/", 200, None)]
    for _ in range(r.randint(2, 6)):
        out.append(("GET", f"/product-category/{c}/", 200, "category_view"))
        if r.random() < .3:
            out.append(("GET", f"/product-category/{c}/?orderby=price", 200,
                        "price_sort_or_filter"))
        out.append(("GET", f"/product/{r.choice(W)}-{r.choice(N)}/", 200, "product_view"))
        if r.random() < .3:
            out.append(("GET", f"/?s={r.choice(N)}&post_type=product", 200, "search"))
    if buy:
        oid = r.randint(100, 9999)
        out += [("POST", "/?wc-ajax=add_to_cart", 200, "cart_add"), ("GET", "/cart/", 200, None),
                ("GET", "/checkout/", 200, "checkout_step"),
                ("POST", "/?wc-ajax=checkout", 200, "checkout_step"),
                ("GET", f"/checkout/order-received/{oid}/?key=wc_order_{_hex(r, 12)}", 200,
                 "purchase")]
    out.append(("GET", "/wp-admin/admin-ajax.php?action=heartbeat", 200, None))
    return out


def opencart(r: random.Random, buy: bool) -> list[Row]:
    base = "/index.php?route="
    out: list[Row] = [("GET", base + "common/home", 200, None)]
    for _ in range(r.randint(2, 6)):
        cat = f"{r.randint(18, 40)}_{r.randint(41, 60)}"
        out.append(("GET", f"{base}product/category&path={cat}", 200, "category_view"))
        if r.random() < .3:
            out.append(("GET", f"{base}product/category&path={cat}&sort=p.price&order=ASC", 200,
                        "price_sort_or_filter"))
        out.append(("GET", f"{base}product/product&product_id={r.randint(28, 300)}", 200,
                    "product_view"))
        if r.random() < .3:
            out.append(("GET", f"{base}product/search&search={r.choice(N)}", 200, "search"))
    if buy:
        out += [("POST", base + "checkout/cart/add", 200, "cart_add"),
                ("GET", base + "checkout/cart", 200, None),
                ("GET", base + "checkout/checkout", 200, "checkout_step"),
                ("POST", base + "checkout/confirm", 200, "checkout_step"),
                ("GET", base + "checkout/success", 200, "purchase")]
    return out


def prestashop(r: random.Random, buy: bool) -> list[Row]:
    out: list[Row] = [("GET", "/", 200, None)]
    for _ in range(r.randint(2, 6)):
        c = f"{r.randint(3, 12)}-{r.choice(CATS)}"
        out.append(("GET", f"/{c}", 200, "category_view"))
        if r.random() < .3:
            out.append(("GET", f"/{c}?order=product.price.asc", 200, "price_sort_or_filter"))
        pid = r.randint(1, 400)
        out.append(("GET", f"/{r.choice(CATS)}/{pid}-{r.choice(W)}-{r.choice(N)}.html", 200,
                    "product_view"))
        if r.random() < .3:
            out.append(("GET", f"/search?controller=search&s={r.choice(N)}", 200, "search"))
    if buy:
        out += [("POST", "/cart", 200, "cart_add"), ("GET", "/cart?action=show", 200, None),
                ("GET", "/order", 200, "checkout_step"),
                ("POST", "/order", 302, "checkout_step"),
                ("GET", f"/order-confirmation?id_cart={r.randint(1, 999)}&id_module=3"
                 f"&id_order={r.randint(1, 999)}&key={_hex(r)}", 200, "purchase")]
    return out


def oscar(r: random.Random, buy: bool) -> list[Row]:
    """django-oscar's default URLs (the framework shop of the issue that asked for this)."""
    out: list[Row] = [("GET", "/", 302, None), ("GET", "/en-gb/", 200, None)]
    for _ in range(r.randint(2, 6)):
        cat = f"{r.choice(CATS)}_{r.randint(2, 9)}"
        out.append(("GET", f"/en-gb/catalogue/category/{cat}/", 200, "category_view"))
        if r.random() < .3:
            out.append(("GET", f"/en-gb/catalogue/category/{cat}/?sort_by=price-asc", 200,
                        "price_sort_or_filter"))
        pid = r.randint(1, 300)
        product = f"/en-gb/catalogue/{r.choice(W)}-{r.choice(N)}_{pid}/"
        out.append(("GET", product, 200, "product_view"))
        if r.random() < .2:
            out.append(("GET", f"/en-gb/catalogue/{r.choice(W)}-{r.choice(N)}_{pid}/reviews/",
                        200, "review_view"))
        if r.random() < .3:
            out.append(("GET", f"/en-gb/search/?q={r.choice(N)}", 200, "search"))
        if r.random() < .1:
            out.append(("GET", "/en-gb/offers/", 200, "deal_view"))
    if buy:
        pid = r.randint(1, 300)
        out += [("POST", f"/en-gb/basket/add/{pid}/", 302, "cart_add"),
                ("GET", f"/en-gb/catalogue/x_{pid}/", 200, "product_view"),
                ("POST", f"/en-gb/accounts/wishlists/add/{pid}/", 302, "wishlist_add"),
                ("GET", "/en-gb/basket/", 200, None),
                ("GET", "/en-gb/checkout/", 302, None),
                ("GET", "/en-gb/checkout/shipping-address/", 200, "checkout_step"),
                ("POST", "/en-gb/checkout/shipping-address/", 302, "checkout_step"),
                ("GET", "/en-gb/checkout/preview/", 200, "checkout_step"),
                ("POST", "/en-gb/checkout/preview/", 302, "checkout_step"),
                ("GET", "/en-gb/checkout/thank-you/", 200, "purchase")]
    out.append(("GET", "/en-gb/accounts/login/", 200, None))
    return out


def noise(r: random.Random) -> list[Row]:
    """What scanners and broken links add to every shop's log."""
    probe = r.choice(["/wp-login.php", "/.env", "/admin/config.php", "/xmlrpc.php",
                      f"/{_hex(r, 8)}", "/old-page", "/phpmyadmin/index.php"])
    return [("GET", probe, 404, None), ("GET", "/robots.txt", 200, None),
            ("GET", "/favicon.ico", 200, None)]


SCHEMES: dict[str, Callable[[random.Random, bool], list[Row]]] = {
    "shopify": shopify, "magento": magento, "shopware": shopware, "woocommerce": woocommerce,
    "opencart": opencart, "prestashop": prestashop, "oscar": oscar,
}


def generate(name: str, shoppers: int = 300, seed: int = 1) -> list[tuple[str, str | None]]:
    """(combined + session log line, expected kind) for ``shoppers`` visits, one in four buying."""
    r = random.Random(seed)
    rows: list[tuple[str, str | None]] = []
    t0 = 1795341600.0
    for s in range(shoppers):
        ts = t0 + s * 37
        visit = SCHEMES[name](r, s % 4 == 0)
        if s % 5 == 0:
            visit += noise(r)
        for method, url, status, kind in visit:
            ts += r.uniform(1, 20)
            when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
            rows.append((f'10.0.{s // 250}.{s % 250} - - [{when}] "{method} {url} HTTP/1.1" '
                         f'{status} 100 "-" "Mozilla/5.0" "ig_sid=sid{s}"', kind))
    return rows
