"""The demo storefront's catalog: 36 products in six collections with prices, sale prices, ratings
and reviews, built once at import as immutable data. It knows nothing about HTTP or HTML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple


class Review(NamedTuple):
    author: str
    stars: int  # 1..5
    text: str


@dataclass(frozen=True, slots=True)
class Product:
    handle: str
    title: str
    collection: str
    price: Decimal
    compare_at: Decimal | None  # the previous price when the product is on sale
    description: str
    reviews: tuple[Review, ...]
    rating: Decimal  # mean of the review stars, one decimal
    search_text: str  # lowercase title, description and collection title, for search

    @property
    def on_sale(self) -> bool:
        return self.compare_at is not None


COLLECTIONS: Mapping[str, str] = MappingProxyType({
    "audio": "Audio",
    "laptops": "Laptops",
    "phones": "Phones",
    "cameras": "Cameras",
    "home": "Home",
    "wearables": "Wearables",
})

_RAW: tuple[tuple[str, str, str, str, str | None, str], ...] = (
    # handle, title, collection, price, compare_at (on sale), description
    ("studio-headphones", "Studio Headphones", "audio", "149.00", "199.00",
     "Closed-back over-ear headphones with a flat response for mixing."),
    ("wireless-earbuds", "Wireless Earbuds", "audio", "89.00", None,
     "Pocketable earbuds with eight hours of battery and a charging case."),
    ("bookshelf-speakers", "Bookshelf Speakers", "audio", "229.00", None,
     "A pair of passive two-way speakers in walnut veneer."),
    ("portable-speaker", "Portable Speaker", "audio", "59.00", "79.00",
     "Splash-proof Bluetooth speaker for the park and the shower."),
    ("noise-cancelling-headphones", "Noise-Cancelling Headphones", "audio", "279.00", None,
     "Adaptive noise cancelling, thirty hours of battery, folding design."),
    ("turntable", "Belt-Drive Turntable", "audio", "319.00", None,
     "Two-speed turntable with a built-in phono preamp."),
    ("ultrabook-13", "Ultrabook 13", "laptops", "999.00", None,
     "A 1.1 kg thirteen-inch laptop with an all-day battery."),
    ("workstation-16", "Workstation 16", "laptops", "2199.00", None,
     "Sixteen-inch laptop with a discrete GPU for rendering and builds."),
    ("chromebook-14", "Chromebook 14", "laptops", "329.00", "399.00",
     "Simple, fast and cheap: a laptop for the browser and homework."),
    ("gaming-laptop-15", "Gaming Laptop 15", "laptops", "1499.00", None,
     "144 Hz screen, RGB keyboard and a cooling system that keeps up."),
    ("convertible-14", "Convertible 14", "laptops", "849.00", None,
     "A laptop that folds into a tablet; comes with a pen."),
    ("laptop-stand", "Aluminium Laptop Stand", "laptops", "39.00", None,
     "Raises the screen to eye level; folds flat."),
    ("phone-pro", "Phone Pro", "phones", "1099.00", None,
     "Triple camera, titanium frame, the fastest chip we sell."),
    ("phone-lite", "Phone Lite", "phones", "399.00", "449.00",
     "Everything you need in a phone and nothing you don't."),
    ("phone-fold", "Phone Fold", "phones", "1799.00", None,
     "A phone that opens into a small tablet."),
    ("rugged-phone", "Rugged Phone", "phones", "549.00", None,
     "Drop-proof and waterproof, with a battery that lasts three days."),
    ("phone-case", "Leather Phone Case", "phones", "45.00", None,
     "Full-grain leather case that ages well."),
    ("fast-charger", "65 W Fast Charger", "phones", "35.00", "49.00",
     "Charges a phone and a laptop at once."),
    ("mirrorless-camera", "Mirrorless Camera", "cameras", "1299.00", None,
     "24 MP full-frame sensor, in-body stabilisation, weather sealing."),
    ("compact-camera", "Compact Camera", "cameras", "649.00", "749.00",
     "One-inch sensor in a camera that fits a jacket pocket."),
    ("action-camera", "Action Camera", "cameras", "349.00", None,
     "4K at 120 fps, waterproof to ten metres."),
    ("instant-camera", "Instant Camera", "cameras", "99.00", None,
     "Prints a photo in ninety seconds."),
    ("prime-lens-50", "50 mm f/1.8 Lens", "cameras", "199.00", None,
     "A sharp, light prime lens for portraits."),
    ("tripod", "Travel Tripod", "cameras", "129.00", "159.00",
     "Carbon-fibre tripod that folds to 40 cm."),
    ("smart-lamp", "Smart Lamp", "home", "49.00", None,
     "Dimmable, tunable white light controlled from your phone."),
    ("robot-vacuum", "Robot Vacuum", "home", "399.00", "499.00",
     "Maps your flat and empties itself."),
    ("air-purifier", "Air Purifier", "home", "229.00", None,
     "HEPA filter for rooms up to 40 square metres."),
    ("espresso-machine", "Espresso Machine", "home", "549.00", None,
     "Dual boiler, PID temperature control, steam wand."),
    ("smart-thermostat", "Smart Thermostat", "home", "179.00", None,
     "Learns your schedule and saves energy."),
    ("video-doorbell", "Video Doorbell", "home", "129.00", "149.00",
     "See who is at the door from anywhere."),
    ("smartwatch", "Smartwatch", "wearables", "299.00", None,
     "Heart rate, GPS, sleep tracking and a week of battery."),
    ("fitness-band", "Fitness Band", "wearables", "59.00", "79.00",
     "A light band that counts steps and sleep."),
    ("smart-ring", "Smart Ring", "wearables", "349.00", None,
     "Sleep and readiness tracking in a titanium ring."),
    ("running-watch", "Running Watch", "wearables", "449.00", None,
     "Dual-band GPS and training plans."),
    ("kids-watch", "Kids' Watch", "wearables", "119.00", None,
     "Calls, location and no apps."),
    ("watch-strap", "Sport Watch Strap", "wearables", "25.00", None,
     "Breathable strap that fits most watches."),
)

_AUTHORS = ("Sam", "Alex", "Priya", "Jonas", "Mei", "Ola", "Rui", "Ada", "Kofi", "Lena")
# (stars, text): deterministic, so pages and tests are stable across runs.
_REVIEW_TEXTS = (
    (5, "Exactly what I was looking for. Would buy again."),
    (4, "Great value for the price."),
    (4, "Arrived quickly and works well."),
    (3, "Does the job, but the manual is thin."),
    (5, "Better than I expected, and it looks good too."),
    (2, "Fine, though I returned my first one with a fault."),
    (4, "Solid build; setup took five minutes."),
)


def _reviews(i: int) -> tuple[Review, ...]:
    count = 2 + i % 4  # two to five reviews each
    return tuple(
        Review(_AUTHORS[(i + 3 * j) % len(_AUTHORS)], *_REVIEW_TEXTS[(i + 2 * j) % 7])
        for j in range(count)
    )


def _product(i: int, raw: tuple[str, str, str, str, str | None, str]) -> Product:
    handle, title, collection, price, old, description = raw
    reviews = _reviews(i)
    rating = (Decimal(sum(r.stars for r in reviews)) / len(reviews)).quantize(Decimal("0.1"))
    text = f"{title} {description} {COLLECTIONS[collection]}".lower()
    return Product(handle, title, collection, Decimal(price), Decimal(old) if old else None,
                   description, reviews, rating, text)


PRODUCTS: Mapping[str, Product] = MappingProxyType(
    {raw[0]: _product(i, raw) for i, raw in enumerate(_RAW)}
)
BY_COLLECTION: Mapping[str, tuple[Product, ...]] = MappingProxyType(
    {c: tuple(p for p in PRODUCTS.values() if p.collection == c) for c in COLLECTIONS}
)
ON_SALE: tuple[Product, ...] = tuple(p for p in PRODUCTS.values() if p.on_sale)

_WORD = re.compile(r"[\w'./-]+")
MAX_QUERY_WORDS = 10


def search(query: str) -> list[Product]:
    """Products whose title, description or collection contain every word of ``query``
    (case-insensitive substrings), title matches first; an empty query finds nothing."""
    words = _WORD.findall(query.lower())[:MAX_QUERY_WORDS]
    if not words:
        return []
    found = [p for p in PRODUCTS.values() if all(w in p.search_text for w in words)]
    found.sort(key=lambda p: not all(w in p.title.lower() for w in words))  # stable
    return found
