"""Static ingredients of the demo shop: products, countries, regions and daily rhythms.

Everything here is fixed: it does not depend on the user's seed, so every demo data set sells the
same ~500 products in the same countries. The catalogue is built once from word lists with a
private, constant random generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# --------------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------------

#: (item, lowest price, highest price). Prices of a product are drawn log-uniformly in its band.
_ITEMS: tuple[tuple[str, float, float], ...] = (
    ("T-LIGHT HOLDER", 0.85, 3.75),
    ("LUNCH BAG", 1.45, 2.10),
    ("JUMBO SHOPPER BAG", 1.65, 2.50),
    ("CAKE CASES", 0.42, 0.65),
    ("PAPER NAPKINS", 0.65, 0.95),
    ("GIFT WRAP", 0.39, 0.55),
    ("GREETING CARD", 0.39, 0.65),
    ("BIRTHDAY CARD", 0.42, 0.65),
    ("MUG", 1.25, 2.95),
    ("TEACUP AND SAUCER", 2.55, 4.95),
    ("CAKE STAND", 8.50, 14.95),
    ("HOT WATER BOTTLE", 3.75, 5.95),
    ("DOORMAT", 6.75, 8.95),
    ("CUSHION COVER", 3.35, 4.95),
    ("WALL CLOCK", 6.95, 9.95),
    ("ALARM CLOCK", 3.75, 4.25),
    ("PHOTO FRAME", 1.95, 4.95),
    ("STORAGE JAR", 1.25, 4.25),
    ("BUNTING", 2.95, 4.95),
    ("NOTEBOOK", 0.85, 1.65),
    ("PENCILS SET OF 6", 0.42, 0.65),
    ("STICKER SHEET", 0.29, 0.85),
    ("PARTY BAG", 0.55, 1.25),
    ("TEA TOWEL", 1.25, 2.95),
    ("OVEN GLOVE", 1.45, 2.55),
    ("APRON", 4.95, 5.95),
    ("KEY RING", 0.42, 1.25),
    ("HANGING DECORATION", 0.65, 1.95),
    ("CHRISTMAS BAUBLE", 0.42, 1.65),
    ("LANTERN", 3.75, 8.50),
    ("MIRROR", 2.55, 9.95),
    ("COAT RACK", 4.95, 12.75),
    ("SHOPPING BASKET", 5.95, 9.95),
    ("PICNIC HAMPER", 12.75, 24.95),
    ("DRAWER KNOB", 1.25, 1.65),
    ("SOAP DISH", 1.65, 2.95),
    ("CANDLE", 0.79, 2.95),
    ("TRINKET BOX", 1.25, 2.55),
    ("JEWELLERY STAND", 4.25, 12.75),
    ("CHILDRENS APRON", 1.95, 2.10),
    ("FELTCRAFT DOLL", 2.95, 4.25),
    ("WOODEN SIGN", 1.25, 3.75),
    ("BIRD HOUSE", 3.75, 7.95),
    ("WATERING CAN", 5.95, 7.95),
    ("SEWING KIT", 3.95, 5.95),
    ("WASHBAG", 2.10, 3.25),
    ("PASSPORT COVER", 2.10, 2.55),
    ("PARASOL", 2.95, 5.95),
)

#: Rare big-ticket items that make the long price tail (up to ~100).
_LUXURY_ITEMS: tuple[tuple[str, float, float], ...] = (
    ("WOODEN CABINET", 45.0, 99.95),
    ("CHEST OF DRAWERS", 39.95, 95.0),
    ("DRESSER", 29.95, 85.0),
    ("GARDEN BENCH", 24.95, 65.0),
    ("ROCKING HORSE", 19.95, 49.95),
    ("CHANDELIER", 14.95, 39.95),
)

_MOTIFS: tuple[str, ...] = (
    "WHITE HANGING HEART",
    "RED SPOTTY",
    "PINK POLKADOT",
    "VINTAGE",
    "REGENCY",
    "JUMBO",
    "RETROSPOT",
    "SKULL",
    "DOLLY GIRL",
    "SPACEBOY",
    "WOODLAND",
    "OWL",
    "BIRDIE",
    "PAISLEY PARK",
    "ENGLISH ROSE",
    "CHARLOTTE",
    "STRAWBERRY",
    "ALPHABET",
    "CHRISTMAS",
    "SCANDINAVIAN",
    "LOVE BIRD",
    "SWALLOW",
    "ANTIQUE SILVER",
    "BLUE PAISLEY",
    "GREEN REGENCY",
    "ROSES",
    "TRADITIONAL",
    "FAIRY TALE",
    "PANTRY",
    "HOMEMADE JAM",
    "RABBIT",
    "DINOSAUR",
    "PARIS",
    "GINGHAM",
    "RED TOADSTOOL",
    "SWEETHEART",
    "WILD FLOWER",
    "CREAM",
    "KNITTED UNION FLAG",
)

#: A few products with Chinese descriptions: (name, lowest price, highest price).
_CHINESE_ITEMS: tuple[tuple[str, float, float], ...] = (
    ("红色爱心蜡烛台", 1.25, 2.95),
    ("复古陶瓷茶杯套装", 4.95, 8.50),
    ("熊猫图案午餐袋", 1.65, 2.10),
    ("中国结挂饰", 0.85, 1.65),
    ("青花瓷收纳罐", 2.95, 5.95),
    ("节日彩灯串", 3.75, 6.75),
    ("手绘团扇", 1.25, 2.55),
    ("生肖钥匙扣", 0.42, 0.85),
    ("剪纸贺卡套装", 0.85, 1.65),
    ("竹制餐具套装", 2.95, 4.95),
    ("丝绸首饰盒", 4.95, 9.95),
    ("福字门贴", 0.39, 0.65),
)

#: Fixed products, mimicking some well-known gift-shop lines (two contain a comma on purpose, so
#: CSV readers meet a quoted field).
_FIXED_PRODUCTS: tuple[tuple[str, float], ...] = (
    ("WHITE HANGING HEART T-LIGHT HOLDER", 2.55),
    ("REGENCY CAKESTAND 3 TIER", 12.75),
    ("PAPER CRAFT , LITTLE BIRDIE", 2.08),
    ("MEDIUM CERAMIC TOP STORAGE JAR", 1.04),
    ("JUMBO BAG RED RETROSPOT", 2.08),
    ("PARTY BUNTING", 4.95),
    ("ASSORTED COLOUR BIRD ORNAMENT", 1.69),
    ("SET OF 3 CAKE TINS PANTRY DESIGN", 4.95),
    ("LUNCH BAG , BLACK SKULL", 1.65),
    ("PACK OF 72 RETROSPOT CAKE CASES", 0.55),
    ("VINTAGE RED KITCHEN CABINET", 99.95),
)

N_PRODUCTS = 500
_CATALOGUE_SEED = 20_111_209  # fixed: the shop is the same for every user seed
_ZIPF_EXPONENT = 1.05
_ZIPF_OFFSET = 8  # Zipf-Mandelbrot offset: the top product gets ~3 % of lines, not 20 %
_PRICE_ENDINGS = np.array([0.04, 0.08, 0.25, 0.29, 0.39, 0.42, 0.45, 0.55, 0.65, 0.69, 0.75, 0.79, 0.85, 0.95])


@dataclass(frozen=True)
class Catalogue:
    """The shop's products, indexed 0..n-1 by popularity draw order.

    Attributes
    ----------
    product_id, name
        Stock codes (``"85123A"`` style) and descriptions, as Python lists.
    price
        List price per unit, 0.39 to ~100.
    cumulative_popularity
        Cumulative Zipf popularity, for ``searchsorted`` draws.
    cheap
        Indices of the products priced at most 2.10, the stock of bulk "super orders".
    companion
        For the most popular products, the product often bought with it (the same item in
        another motif, like UCI's GREEN and PINK REGENCY TEACUP AND SAUCER); -1 for the rest.
    """

    product_id: list[str]
    name: list[str]
    price: np.ndarray
    cumulative_popularity: np.ndarray
    cheap: np.ndarray
    companion: np.ndarray

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` product indices by popularity."""
        u = rng.random(n)
        idx = np.searchsorted(self.cumulative_popularity, u, side="right")
        return np.minimum(idx, len(self.price) - 1)


def _snap_price(raw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round raw prices to shop-like endings (1.65, 2.95, 12.75 ...)."""
    whole = np.floor(raw)
    endings = _PRICE_ENDINGS[rng.integers(0, len(_PRICE_ENDINGS), size=len(raw))]
    snapped = np.where(whole >= 1, whole + endings, np.maximum(0.39, np.round(raw, 2)))
    return np.round(snapped, 2)


def _stock_codes(rng: np.random.Generator, n: int) -> list[str]:
    """Unique 5-digit stock codes, a fifth of them with a letter suffix."""
    numbers = rng.choice(np.arange(20_000, 90_000), size=n, replace=False)
    suffix = rng.random(n) < 0.2
    letters = rng.choice(list("ABCDEFGHKLMNPRSW"), size=n)
    return [f"{k}{ch if s else ''}" for k, ch, s in zip(numbers, letters, suffix, strict=True)]


@lru_cache(maxsize=1)
def build_catalogue() -> Catalogue:
    """Build the fixed ~500-product catalogue (cached)."""
    rng = np.random.default_rng(_CATALOGUE_SEED)
    names: list[str] = [name for name, _ in _FIXED_PRODUCTS]
    prices: list[float] = [price for _, price in _FIXED_PRODUCTS]

    bands = _ITEMS + _LUXURY_ITEMS
    combos = [
        (m, i)
        for m in range(len(_MOTIFS))
        for i in range(len(bands))
        if not set(_MOTIFS[m].split()) & set(bands[i][0].split())  # no "CHRISTMAS CHRISTMAS ..."
    ]
    n_generated = N_PRODUCTS - len(_FIXED_PRODUCTS) - len(_CHINESE_ITEMS)
    # luxury items are rare: keep at most ~20 of them
    weights = np.array([0.15 if i >= len(_ITEMS) else 1.0 for _, i in combos])
    picks = rng.choice(len(combos), size=n_generated, replace=False, p=weights / weights.sum())
    lows = np.empty(n_generated)
    highs = np.empty(n_generated)
    for k, c in enumerate(picks):
        m, i = combos[c]
        item, lows[k], highs[k] = bands[i]
        names.append(f"{_MOTIFS[m]} {item}")
    raw = np.exp(rng.uniform(np.log(lows), np.log(highs)))
    prices.extend(_snap_price(raw, rng).tolist())

    for name, low, high in _CHINESE_ITEMS:
        names.append(name)
        prices.append(float(_snap_price(np.array([rng.uniform(low, high)]), rng)[0]))

    price = np.asarray(prices)
    # Zipf popularity over a random ranking, damped for expensive products.
    rank = rng.permutation(len(price)) + 1
    popularity = (rank + _ZIPF_OFFSET).astype(float) ** -_ZIPF_EXPONENT * price**-0.35
    cumulative = np.cumsum(popularity / popularity.sum())
    cumulative[-1] = 1.0
    return Catalogue(
        product_id=_stock_codes(rng, len(price)),
        name=names,
        price=price,
        cumulative_popularity=cumulative,
        cheap=np.flatnonzero(price <= 2.10),
        companion=_companions(names, popularity),
    )


N_COMPANIONS = 24  # the most popular products that have a companion


def _companions(names: list[str], popularity: np.ndarray) -> np.ndarray:
    """Pair each of the most popular products with a product of the same item in another motif
    (its 'colour'), or failing that the next most popular product; deterministic."""
    companion = np.full(len(names), -1, dtype=np.int64)
    by_popularity = np.argsort(-popularity, kind="stable")
    for product in by_popularity[:N_COMPANIONS]:
        item = next((m for m in _MOTIFS if names[product].startswith(m + " ")), None)
        suffix = names[product][len(item) + 1 :] if item else None
        same_item = [int(p) for p in by_popularity if p != product and suffix and names[p].endswith(" " + suffix)]
        fallback = [int(p) for p in by_popularity if p != product]
        companion[product] = same_item[0] if same_item else fallback[0]
    return companion


# --------------------------------------------------------------------------------------------
# Countries and regions
# --------------------------------------------------------------------------------------------

#: (country, share of customers, world region)
COUNTRIES: tuple[tuple[str, float, str], ...] = (
    ("United Kingdom", 0.850, "United Kingdom"),
    ("Germany", 0.024, "Europe"),
    ("France", 0.021, "Europe"),
    ("EIRE", 0.017, "Europe"),
    ("Spain", 0.009, "Europe"),
    ("Netherlands", 0.009, "Europe"),
    ("Belgium", 0.007, "Europe"),
    ("Switzerland", 0.006, "Europe"),
    ("中国", 0.006, "Asia Pacific"),
    ("Portugal", 0.005, "Europe"),
    ("Australia", 0.004, "Asia Pacific"),
    ("Italy", 0.004, "Europe"),
    ("Norway", 0.003, "Europe"),
    ("Sweden", 0.003, "Europe"),
    ("Denmark", 0.002, "Europe"),
    ("Finland", 0.002, "Europe"),
    ("Austria", 0.002, "Europe"),
    ("Channel Islands", 0.002, "Europe"),
    ("Japan", 0.002, "Asia Pacific"),
    ("Singapore", 0.001, "Asia Pacific"),
    ("USA", 0.002, "Americas"),
    ("Canada", 0.001, "Americas"),
    ("Brazil", 0.001, "Americas"),
    ("Israel", 0.001, "Middle East"),
    ("United Arab Emirates", 0.001, "Middle East"),
)

#: Regions of United Kingdom members, with shares.
UK_REGIONS: tuple[tuple[str, float], ...] = (
    ("London", 0.18),
    ("South East", 0.15),
    ("Midlands", 0.14),
    ("North West", 0.11),
    ("East of England", 0.09),
    ("South West", 0.09),
    ("Yorkshire", 0.08),
    ("Scotland", 0.08),
    ("Wales", 0.05),
    ("Northern Ireland", 0.03),
)


def country_names() -> list[str]:
    """Country names in the order of :data:`COUNTRIES`."""
    return [c for c, _, _ in COUNTRIES]


def country_shares() -> np.ndarray:
    """Customer shares of :data:`COUNTRIES`, normalised to sum to 1."""
    w = np.array([s for _, s, _ in COUNTRIES])
    return w / w.sum()


def region_names() -> list[str]:
    """All region labels: the UK regions, then the world regions of the other countries."""
    world = sorted({r for _, _, r in COUNTRIES if r != "United Kingdom"})
    return [r for r, _ in UK_REGIONS] + world


def region_of_country() -> np.ndarray:
    """Index into :func:`region_names` of each country's world region (-1 for the UK)."""
    names = region_names()
    return np.array([-1 if r == "United Kingdom" else names.index(r) for _, _, r in COUNTRIES])


def uk_region_shares() -> np.ndarray:
    """Shares of :data:`UK_REGIONS`, normalised."""
    w = np.array([s for _, s in UK_REGIONS])
    return w / w.sum()


# --------------------------------------------------------------------------------------------
# Rhythms
# --------------------------------------------------------------------------------------------

#: Relative order intensity by calendar month (Jan..Dec): a Q4 peak, strongest in Nov/Dec.
MONTH_FACTOR = np.array([0.85, 0.80, 0.90, 0.88, 0.90, 0.85, 0.85, 0.88, 1.05, 1.15, 1.55, 1.40])

#: Relative order intensity by weekday (Mon..Sun).
WEEKDAY_FACTOR = np.array([1.05, 1.10, 1.10, 1.20, 0.95, 0.70, 0.90])

#: Share of orders by hour of day (0..23).
ORDER_HOURS = np.array(
    [
        0.2,
        0.1,
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.5,
        3.5,
        6.0,
        8.0,
        8.5,
        9.0,
        8.5,
        8.0,
        7.5,
        6.5,
        5.5,
        5.0,
        5.5,
        5.5,
        4.0,
        2.0,
        0.8,
    ]
)

#: Share of web/app events by hour of day (0..23): more evening browsing than ordering.
EVENT_HOURS = np.array(
    [
        1.0,
        0.5,
        0.3,
        0.2,
        0.2,
        0.3,
        0.8,
        2.0,
        3.5,
        4.5,
        5.0,
        5.5,
        6.0,
        5.5,
        5.0,
        5.0,
        5.0,
        5.5,
        6.5,
        7.5,
        8.0,
        7.0,
        4.5,
        2.0,
    ]
)
