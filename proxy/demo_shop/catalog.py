"""The demo storefront's catalog: a few dozen products across six collections, built once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Product:
    handle: str
    title: str
    collection: str
    price: Decimal
    compare_at: Decimal | None  # the old price when on sale
    description: str
    rating: float
    reviews: tuple[tuple[str, int, str], ...]  # (author, stars, text)

    @property
    def on_sale(self) -> bool:
        return self.compare_at is not None


COLLECTIONS: dict[str, str] = {
    "audio": "Audio",
    "laptops": "Laptops",
    "phones": "Phones",
    "cameras": "Cameras",
    "home": "Home",
    "wearables": "Wearables",
}

_RAW = [
    # handle, title, collection, price, compare_at, description
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
     "Folds into a tablet; comes with a pen."),
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
]

_AUTHORS = ("Sam", "Alex", "Priya", "Jonas", "Mei", "Ola", "Rui", "Ada")


def _reviews(i: int) -> tuple[tuple[str, int, str], ...]:
    texts = ("Does what it says.", "Great value for the price.", "Arrived quickly, works well.",
             "Better than I expected.", "Good, but the manual is thin.")
    return tuple((_AUTHORS[(i + j) % len(_AUTHORS)], 3 + (i + j) % 3, texts[(i + 2 * j) % 5])
                 for j in range(3))


PRODUCTS: dict[str, Product] = {
    handle: Product(handle, title, coll, Decimal(price), Decimal(old) if old else None, desc,
                    round(3.6 + (i % 14) / 10, 1), _reviews(i))
    for i, (handle, title, coll, price, old, desc) in enumerate(_RAW)
}
BY_COLLECTION: dict[str, tuple[Product, ...]] = {
    c: tuple(p for p in PRODUCTS.values() if p.collection == c) for c in COLLECTIONS
}
ON_SALE: tuple[Product, ...] = tuple(p for p in PRODUCTS.values() if p.on_sale)


def search(query: str) -> list[Product]:
    words = [w for w in query.lower().split() if w]
    if not words:
        return []
    return [p for p in PRODUCTS.values()
            if all(w in (p.title + " " + p.description + " " + p.collection).lower()
                   for w in words)]
