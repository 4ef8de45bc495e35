"""One fixed palette keyed by name: the same segment, cluster, stage, class or measure has the
same colour in every chart and card of every report.

Names not listed (a user's own segment names) get a colour from a fixed qualitative palette
chosen by a hash of the name, so they too are stable across charts and runs.
"""

from __future__ import annotations

import zlib

COLOURS: dict[str, str] = {
    # RFM segments (grid and the 11-segment table), best to worst
    "champions": "#1a7f37",
    "loyal": "#4daf4a",
    "potential_loyalists": "#a6d96a",
    "new": "#2b83ba",
    "recent": "#2b83ba",
    "promising": "#74add1",
    "need_attention": "#fdae61",
    "about_to_sleep": "#f46d43",
    "at_risk": "#d73027",
    "cant_lose": "#a50026",
    "hibernating": "#8c8c8c",
    "lost": "#525252",
    "other": "#c7c7c7",
    # k-means clusters, named by value rank
    "high value": "#1a7f37",
    "developing": "#e6ab02",
    "developing 1": "#66a61e",
    "developing 2": "#e6ab02",
    "developing 3": "#d95f02",
    "developing 4": "#7570b3",
    "developing 5": "#e7298a",
    "developing 6": "#a6761d",
    "developing 7": "#1b9e77",
    "developing 8": "#666666",
    "low value": "#8c8c8c",
    # lifecycle stages (new / active / return / unactive) and the PostHog/Amplitude view
    "active": "#1a7f37",
    "return": "#7b3294",
    "unactive": "#bdbdbd",
    "returning": "#1a7f37",
    "resurrecting": "#7b3294",
    "dormant": "#bdbdbd",
    # ABC classes
    "A": "#1a7f37",
    "B": "#fdae61",
    "C": "#bdbdbd",
    # churn risk bands (for the churn-model section)
    "low": "#1a7f37",
    "medium": "#fdae61",
    "high": "#d73027",
    # measures
    "revenue": "#2f6fb0",
    "buyers": "#e07b00",
    "orders": "#6a3d9a",
    "units": "#33a02c",
    "revenue_per_buyer": "#b15928",
    "average_order_value": "#e31a1c",
    "new_customers": "#2b83ba",
    "repurchase_rate": "#2f6fb0",
    "return_rate": "#e07b00",
    "reactivation_rate": "#7b3294",
    "lines": "#6a3d9a",
    "mean_units_per_line": "#e31a1c",
    "customer_share": "#9ecae1",
    "revenue_share": "#2f6fb0",
    "dau": "#2f6fb0",
    "wau": "#e07b00",
    "mau": "#33a02c",
    "stickiness": "#e31a1c",
    "churn_rate": "#d73027",
    "change_ratio": "#2f6fb0",
    "inertia": "#2f6fb0",
    "silhouette": "#e07b00",
    "registered": "#2f6fb0",
    "activated": "#e07b00",
    "purchasing": "#33a02c",
    "marketable": "#7b3294",
    "activation_rate": "#e07b00",
    "registration_to_purchase_rate": "#33a02c",
    "activation_to_purchase_rate": "#7b3294",
    "media_cost": "#2f6fb0",
    "coupon_cost": "#e07b00",
    "points_cost": "#33a02c",
    "marketing_revenue": "#6a3d9a",
    "cost_ratio": "#d73027",
    "coupon_member_ratio": "#2f6fb0",
    "coupon_amount_ratio": "#e07b00",
    "coupon_order_ratio": "#33a02c",
    "coupon_users_repurchase_rate": "#7b3294",
    "rows_used": "#1a7f37",
    "set_aside": "#d73027",
    "score": "#2f6fb0",
}

FALLBACK = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#ad494a",
)


def colour(name: object) -> str:
    """The colour of ``name``: fixed for known names, hash-stable for others."""
    text = str(name)
    if text in COLOURS:
        return COLOURS[text]
    return FALLBACK[zlib.crc32(text.encode("utf-8")) % len(FALLBACK)]
