"""The demo shop's users: signup curve, attributes, PII emails and behavioral traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = 86_400

COUNTRIES = (
    ("US", 0.34),
    ("GB", 0.1),
    ("DE", 0.1),
    ("FR", 0.08),
    ("CA", 0.06),
    ("ES", 0.05),
    ("IT", 0.05),
    ("NL", 0.04),
    ("PL", 0.04),
    ("SE", 0.03),
    ("BR", 0.05),
    ("IN", 0.04),
    ("JP", 0.02),
)
DEVICES = (("mobile", 0.58), ("desktop", 0.34), ("tablet", 0.08))
DEVICE_CART_FACTOR = np.array([0.85, 1.35, 1.0])  # desktop shoppers convert better than mobile ones
CHANNELS = (
    ("organic", 0.3),
    ("paid_search", 0.2),
    ("social", 0.17),
    ("email", 0.1),
    ("referral", 0.08),
    ("direct", 0.15),
)
CHANNEL_CART_FACTOR = np.array([1.0, 1.1, 0.7, 1.45, 1.2, 1.1])  # email and referrals convert, social browses
FEATURED_USER = 4711
"""User id of the regular shopper that examples ask about ("what will user 4711 do next?")."""
# Purchase propensity segments: (share, add-to-cart probability per view, purchase probability per cart).
SEGMENTS = ((0.64, 0.012, 0.07), (0.28, 0.04, 0.21), (0.08, 0.08, 0.38))

_FIRST = (
    "james",
    "mary",
    "li",
    "sofia",
    "noah",
    "emma",
    "lucas",
    "mia",
    "arjun",
    "olivia",
    "mateo",
    "hana",
    "liam",
    "chloe",
    "yusuf",
    "ava",
    "leon",
    "zoe",
    "omar",
    "ines",
    "ethan",
    "nora",
    "kenji",
    "lea",
    "diego",
    "sara",
    "felix",
    "maya",
    "ivan",
    "julia",
)
_LAST = (
    "smith",
    "garcia",
    "muller",
    "rossi",
    "kim",
    "novak",
    "silva",
    "jones",
    "martin",
    "wang",
    "dubois",
    "jensen",
    "khan",
    "tanaka",
    "brown",
    "lopez",
    "weber",
    "nowak",
    "costa",
    "patel",
)
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")

# Weekly seasonality (Mon..Sun): weekends shop more. Hour-of-day profile: lunch and evening peaks.
DOW_WEIGHT = np.array([0.92, 0.9, 0.92, 0.95, 1.05, 1.3, 1.25])
HOUR_WEIGHT = np.array(
    [
        0.3,
        0.2,
        0.12,
        0.1,
        0.1,
        0.15,
        0.3,
        0.55,
        0.8,
        0.9,
        0.95,
        1.0,
        1.15,
        1.1,
        0.95,
        0.9,
        0.95,
        1.05,
        1.2,
        1.4,
        1.5,
        1.35,
        1.0,
        0.6,
    ]
)


@dataclass(frozen=True)
class Users:
    """Per-user arrays, ordered by signup time (user ``i`` gets id ``u{i+1}``)."""

    signup: np.ndarray  # int64 epoch seconds
    country: np.ndarray  # index into COUNTRIES
    device: np.ndarray
    channel: np.ndarray
    emails: list[str]
    active_from: np.ndarray  # int64 epoch seconds: first moment of activity in the window
    active_to: np.ndarray  # int64 epoch seconds: churn moment or the window's end
    rate: np.ndarray  # float64 sessions per day at the settled level
    cart_p: np.ndarray
    buy_p: np.ndarray
    favorite_category: np.ndarray
    new: np.ndarray  # bool: signed up inside the window

    @property
    def size(self) -> int:
        """Number of users."""
        return len(self.signup)


def _choice(options: tuple[tuple[str, float], ...], n: int, rng: np.random.Generator) -> np.ndarray:
    p = np.array([w for _, w in options])
    return rng.choice(len(options), size=n, p=p / p.sum()).astype(np.int16)


def time_of_day(n: int, rng: np.random.Generator) -> np.ndarray:
    """Seconds after midnight following the hour-of-day profile."""
    hours = rng.choice(24, size=n, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    return hours * 3600 + rng.integers(0, 3600, n)


def build_users(n: int, start: int, end: int, n_categories: int, rng: np.random.Generator) -> Users:
    """``n`` users: ~30% signed up in the year before ``start``, the rest on a growing curve inside it."""
    days = (end - start) // DAY
    new = rng.random(n) >= 0.3
    day_index = np.arange(days)
    dow = ((start // DAY + day_index) + 3) % 7  # 1970-01-01 was a Thursday
    signup_day_p = (1.0 + 1.2 * day_index / max(days, 1)) * DOW_WEIGHT[dow]
    signup_day = rng.choice(days, size=n, p=signup_day_p / signup_day_p.sum())
    signup = np.where(new, start + signup_day * DAY, start - rng.integers(1, 366, n) * DAY)
    signup = signup + time_of_day(n, rng)
    order = np.argsort(signup, kind="stable")
    signup, new = signup[order], new[order]

    segment = rng.choice(len(SEGMENTS), size=n, p=[s[0] for s in SEGMENTS])
    cart_p = np.array([s[1] for s in SEGMENTS])[segment] * np.exp(rng.normal(0, 0.3, n))
    buy_p = np.clip(np.array([s[2] for s in SEGMENTS])[segment] * np.exp(rng.normal(0, 0.2, n)), 0, 0.9)
    rate = np.exp(rng.normal(np.log(0.8), 0.8, n)) * np.where(segment == 2, 1.6, 1.0)

    active_from = np.maximum(signup, start)
    # Most newcomers churn within days; 40% of the older cohort is dormant, a fifth of the rest leaves.
    churner = np.where(new, rng.random(n) < 0.62, rng.random(n) < 0.2)
    lifetime = np.where(new, rng.exponential(4.0, n) + 1.0, rng.random(n) * days) * DAY
    active_to = np.where(churner, active_from + lifetime.astype(np.int64), end)
    active_to = np.where(~new & (rng.random(n) < 0.4), start, active_to)
    active_to = np.minimum(active_to, end)
    if n >= FEATURED_USER:  # the docs' example user: a loyal regular, active to the end
        k = FEATURED_USER - 1
        cart_p[k], buy_p[k], rate[k], active_to[k] = SEGMENTS[2][1] * 1.3, SEGMENTS[2][2], 1.5, end

    first = rng.integers(len(_FIRST), size=n)
    last = rng.integers(len(_LAST), size=n)
    domain = rng.integers(len(_DOMAINS), size=n)
    emails = [f"{_FIRST[f]}.{_LAST[s]}{i + 1}@{_DOMAINS[d]}" for i, (f, s, d) in enumerate(zip(first, last, domain))]
    country, device, channel = _choice(COUNTRIES, n, rng), _choice(DEVICES, n, rng), _choice(CHANNELS, n, rng)
    cart_p = cart_p * DEVICE_CART_FACTOR[device] * CHANNEL_CART_FACTOR[channel]
    return Users(
        signup=signup.astype(np.int64),
        country=country,
        device=device,
        channel=channel,
        emails=emails,
        active_from=active_from.astype(np.int64),
        active_to=active_to.astype(np.int64),
        rate=rate,
        cart_p=cart_p,
        buy_p=buy_p,
        favorite_category=rng.integers(n_categories, size=n).astype(np.int16),
        new=new,
    )
