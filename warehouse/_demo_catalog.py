"""The demo shop's catalog: categories, brands, titled items with power-law popularity and quality."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Category:
    """One product category: what it sells, who makes it, what reviewers talk about."""

    name: str
    weight: float
    median_price: float
    nouns: tuple[str, ...]
    brands: tuple[str, ...]
    aspects: tuple[str, ...]
    defects: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "audio",
        1.3,
        79.0,
        ("Wireless Headphones", "Earbuds", "Bluetooth Speaker", "Soundbar", "Noise-Cancelling Headphones"),
        ("Acme", "Sonora", "BassLine", "Veltro"),
        ("sound", "battery", "comfort", "connectivity"),
        ("battery", "connectivity"),
    ),
    Category(
        "kitchen",
        1.1,
        59.0,
        ("Blender", "Coffee Grinder", "Toaster", "Electric Kettle", "Air Fryer", "Knife Set", "Stand Mixer"),
        ("Kitchenly", "ChefMate", "Brava", "HomeCraft"),
        ("performance", "cleaning", "noise", "build"),
        ("leak", "motor"),
    ),
    Category(
        "apparel",
        1.4,
        45.0,
        ("Running Jacket", "Hoodie", "Slim Jeans", "Cotton T-Shirt", "Trail Sneakers", "Rain Coat"),
        ("Northline", "UrbanFox", "Trailhead", "Loomwell"),
        ("fit", "fabric", "color"),
        ("fit", "seams"),
    ),
    Category(
        "electronics",
        1.0,
        49.0,
        ("Smartwatch", "Power Bank", "USB-C Charger", "HD Webcam", "Fitness Tracker", "Wireless Mouse"),
        ("Voltix", "Acme", "Nexa", "Pulse"),
        ("battery", "connectivity", "build", "setup"),
        ("battery", "charging"),
    ),
    Category(
        "home",
        0.9,
        35.0,
        ("Desk Lamp", "Throw Blanket", "Storage Bins", "Wall Clock", "Pillow Set", "Scented Candle"),
        ("Hearth", "Nestwell", "Lumo", "CasaBella"),
        ("look", "build", "comfort"),
        ("broken_on_arrival",),
    ),
    Category(
        "beauty",
        0.8,
        24.0,
        ("Face Serum", "Herbal Shampoo", "Daily Moisturizer", "Ionic Hair Dryer", "Lip Balm Set"),
        ("Glowa", "PureLeaf", "Velvetine", "Aura"),
        ("scent", "skin", "packaging"),
        ("irritation",),
    ),
    Category(
        "sports",
        0.8,
        39.0,
        ("Yoga Mat", "Dumbbell Set", "Insulated Water Bottle", "Resistance Bands", "Cycling Gloves"),
        ("Peakform", "Trailhead", "Stride", "Iron&Oak"),
        ("build", "grip", "size"),
        ("seams", "broken_on_arrival"),
    ),
    Category(
        "toys",
        0.6,
        29.0,
        ("Building Blocks", "Jigsaw Puzzle", "RC Car", "Board Game", "Plush Bear"),
        ("Playbox", "Tinker", "Wonderly", "Kiddo"),
        ("fun", "build", "age_fit"),
        ("missing_parts",),
    ),
)

# Items the demo questions ask about: (category, brand, model, noun, popularity rank, mean rating, defect).
FEATURED: tuple[tuple[str, str, str, str, int, float, str], ...] = (
    ("audio", "Acme", "X200", "Wireless Headphones", 1, 2.6, "battery"),
    ("kitchen", "Kitchenly", "BlendPro 500", "Blender", 4, 2.4, "leak"),
    ("apparel", "Northline", "Storm", "Rain Coat", 2, 4.4, ""),
)

_MODEL_PREFIXES = ("X", "Z", "Q", "S", "M", "Pro ", "Air ", "Max ", "Go ", "Ultra ")
_MODEL_NUMBERS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 300, 500, 700, 900)
_ADJECTIVES = ("", "", "", "Classic ", "Compact ", "Premium ", "Everyday ", "Eco ", "Deluxe ")


@dataclass(frozen=True)
class Catalog:
    """Items ordered by category, with the columns the tables need and what the simulation needs."""

    titles: list[str]
    nouns: list[str]
    category: np.ndarray  # index into CATEGORIES, non-decreasing
    brands: list[str]
    price: np.ndarray  # float64, dollars and cents
    popularity: np.ndarray  # float64, sums to 1
    mean_rating: np.ndarray  # float64, 1..5
    defect: list[str]  # "" for items without a recurring problem

    @property
    def size(self) -> int:
        """Number of items."""
        return len(self.titles)

    def category_bounds(self) -> np.ndarray:
        """``bounds[c], bounds[c+1]``: the slice of items in category ``c``."""
        return np.searchsorted(self.category, np.arange(len(CATEGORIES) + 1))


def item_count(users: int) -> int:
    """Catalog size for a shop of ``users`` users: a few hundred to about two thousand."""
    return int(np.clip(users // 12, 160, 2000))


def build_catalog(n_items: int, rng: np.random.Generator) -> Catalog:
    """A catalog of ``n_items`` items: titles, brands, prices, Zipf popularity, quality."""
    weights = np.array([c.weight for c in CATEGORIES])
    per_category = np.maximum(np.floor(weights / weights.sum() * n_items).astype(int), 4)
    per_category[0] += n_items - per_category.sum()
    titles: list[str] = []
    nouns: list[str] = []
    brands: list[str] = []
    category: list[int] = []
    defect: list[str] = []
    prices: list[float] = []
    featured_at: dict[int, tuple] = {}
    seen: set[str] = set()
    for c_index, cat in enumerate(CATEGORIES):
        category_start = len(titles)
        for feature in FEATURED:
            if feature[0] == cat.name:
                title = f"{feature[1]} {feature[2]} {feature[3]}"
                featured_at[len(titles)] = feature
                seen.add(title)
                titles.append(title)
                nouns.append(feature[3])
                brands.append(feature[1])
                category.append(c_index)
                defect.append(feature[6])
                prices.append(_price(cat.median_price * 1.3, rng))
        while len(titles) - category_start < per_category[c_index]:
            brand = cat.brands[rng.integers(len(cat.brands))]
            model = f"{_MODEL_PREFIXES[rng.integers(len(_MODEL_PREFIXES))]}{_MODEL_NUMBERS[rng.integers(len(_MODEL_NUMBERS))]}"
            noun = cat.nouns[rng.integers(len(cat.nouns))]
            title = f"{brand} {model} {_ADJECTIVES[rng.integers(len(_ADJECTIVES))]}{noun}"
            if title in seen:
                continue
            seen.add(title)
            titles.append(title)
            nouns.append(noun)
            brands.append(brand)
            category.append(c_index)
            defect.append("")
            prices.append(_price(cat.median_price, rng))
    n = len(titles)
    rank = rng.permutation(n) + 1 + len(FEATURED)
    mean_rating = np.clip(rng.normal(4.2, 0.35, n), 3.0, 4.9)
    bad = rng.random(n) < 0.12
    mean_rating[bad] = np.clip(rng.normal(2.4, 0.4, bad.sum()), 1.4, 3.2)
    for i in np.flatnonzero(bad):
        options = CATEGORIES[category[i]].defects
        defect[i] = options[rng.integers(len(options))]
    for at, feature in featured_at.items():
        rank[at] = feature[4]
        mean_rating[at] = feature[5]
    popularity = 1.0 / (rank.astype(float) + 5.0)
    popularity /= popularity.sum()
    return Catalog(
        titles, nouns, np.array(category, dtype=np.int16), brands, np.array(prices), popularity, mean_rating, defect
    )


def _price(median: float, rng: np.random.Generator) -> float:
    """A shop price: log-normal around ``median``, ending in .99."""
    return max(float(np.round(median * np.exp(rng.normal(0.0, 0.5)))) - 0.01, 4.99)
