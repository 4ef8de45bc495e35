"""Report section: word of mouth — the referral network and its key members.

From the ``referrals`` analysis (referred against organic customers, the program's cost) and
the referral network (:func:`memberlens.analyses.referral_network`, computed once per report
and shared with the ``key-referrers`` member list): how large the cascades below referrers are,
how referred customers convert, spend and come back against organic ones (with their predicted
value when the CLV models fit), the key referrers with the reason in words and the tree below
the first of them, and recommendations worded from the numbers. Exports the key referrers.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from memberlens import format as f
from memberlens.errors import MemberlensError
from memberlens.referrals.network import ReferralNetwork
from memberlens.referrals.program import REPEAT_DAYS
from memberlens.reports import charts as c
from memberlens.reports.base import Card, Chart, ReportContext, SectionContent, TableBlock

BUCKETS = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, 50), (51, None))
TOP_KEY = 10
TREE_LIMIT = 300  # members drawn in the tree of the first key referrer
BETTER = 1.1  # referred at least this many times organic counts as better (and below 1/BETTER worse)
GREEN, AMBER, RED, BLUE = "#1a9850", "#fdae61", "#d73027", "#4575b4"


def referral_network(ctx: ReportContext) -> ReferralNetwork:
    return ctx.results.get("referral-network")


def key_referrers(ctx: ReportContext) -> pd.DataFrame:
    """The ``key-referrers`` result, reasons in the report's language."""
    return ctx.results.get("key-referrers", lang=ctx.t.lang)


def bucket_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else (str(low) if low == high else f"{low}–{high}")


def cascade_buckets(cascades: pd.DataFrame) -> pd.DataFrame:
    """Referrers, members reached and revenue per bucket of cascade size."""
    rows = []
    for low, high in BUCKETS:
        inside = (cascades.cascade_size >= low) & (True if high is None else cascades.cascade_size <= high)
        part = cascades[inside]
        rows.append(
            {
                "bucket": bucket_label(low, high),
                "referrers": len(part),
                "members": int(part.cascade_size.sum()),
                "revenue": float(part.cascade_revenue.sum()),
            }
        )
    return pd.DataFrame(rows)


def tree_below(network: ReferralNetwork, member: str, limit: int = TREE_LIMIT) -> pd.DataFrame:
    """The members below ``member`` breadth first (at most ``limit``): id, parent, generation."""
    frame = network.members
    ids = frame.customer_id.to_numpy(dtype=object)
    children: dict[int, list[int]] = {}
    for s, d in zip(network.graph.src.tolist(), network.graph.dst.tolist()):
        children.setdefault(s, []).append(d)
    start = int(np.flatnonzero(ids == member)[0])
    rows, queue = [], deque([(start, -1, 0)])
    while queue and len(rows) < limit:
        node, parent, generation = queue.popleft()
        rows.append((ids[node], None if parent < 0 else ids[parent], generation))
        for child in sorted(children.get(node, []), key=lambda n: ids[n]):
            queue.append((child, node, generation + 1))
    return pd.DataFrame(rows, columns=["customer_id", "parent", "generation"])


class ReferralsSection:
    key = "referrals"
    title_key = "referrals.title"
    needs = ("orders", "referrals")

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        program = ctx.results.get("referrals").set_index("group")
        network = referral_network(ctx)
        referred, organic = program.loc["referred"], program.loc["organic"]
        cascades = ctx.results.get("referral-cascades")
        key = key_referrers(ctx)
        sentences = [self._intro(ctx, program, network)]
        notes = []
        if network.cascades.truncated:
            notes.append(t("referrals.truncated", depth=network.max_depth))
        if not int(referred.referrals or 0):
            return SectionContent(self.key, t(self.title_key), sentences=sentences, notes=[t("referrals.none")])
        value = self._predicted_value(ctx, network)
        if value is None:
            notes.append(t("referrals.no_clv"))
        charts = [self._cascade_chart(ctx, cascades, network), self._groups_chart(ctx, program, value)]
        tables = []
        if len(key):
            tables.append(self._key_table(ctx, key))
            charts.append(self._tree_chart(ctx, network, key.iloc[0]))
        else:
            notes.append(t("referrals.no_key", ratio=f.num(ctx.results.options.key_ratio)))
        cards = self._cards(ctx, referred, organic, key, value)
        return SectionContent(
            self.key, t(self.title_key), sentences=sentences, tables=tables, charts=charts, notes=notes, cards=cards
        )

    # -- parts ------------------------------------------------------------------------------------
    @staticmethod
    def _intro(ctx: ReportContext, program: pd.DataFrame, network: ReferralNetwork) -> str:
        t = ctx.t
        referred = program.loc["referred"]
        people = int(program.members.sum())
        ignored = int(sum(int(referred[f"ignored_{r}"] or 0) for r in network.graph.ignored))
        text = t(
            "referrals.intro",
            referrals=f.num(referred.referrals),
            referrers=f.num(referred.referrers),
            share=f.pct(referred.referrers / people if people else 0),
            people=f.num(people),
            referred=f.num(referred.members),
            ignored=f.num(ignored),
        )
        if not f.missing(referred.referrers_not_members) and int(referred.referrers_not_members):
            text += " " + t("referrals.not_members", n=f.num(referred.referrers_not_members))
        return text

    def _cascade_chart(self, ctx: ReportContext, cascades: pd.DataFrame, network: ReferralNetwork) -> Chart:
        t = ctx.t
        buckets = cascade_buckets(cascades)
        data = [
            c.bar(t("referrals.col_referrers"), buckets.bucket, buckets.referrers, key="referrers"),
            c.line(t("referrals.col_cascade_revenue"), buckets.bucket, buckets.revenue, key="revenue", yaxis="y2"),
        ]
        layout = c.layout(
            x_title=t("referrals.col_cascade_size"),
            y_title=t("referrals.col_referrers"),
            y2_title=t("referrals.col_cascade_revenue"),
        )
        largest = cascades.sort_values(["cascade_size", "customer_id"], ascending=[False, True], kind="stable").iloc[0]
        ones = int((cascades.cascade_size == 1).sum())
        big = buckets[buckets.bucket.isin([bucket_label(lo, hi) for lo, hi in BUCKETS if lo >= 11])]
        sentences = [
            t(
                "referrals.cascades_shape",
                ones=f.num(ones),
                share=f.pct(ones / len(cascades)),
                referrers=f.num(len(cascades)),
            ),
            t(
                "referrals.cascades_largest",
                member=str(largest.customer_id),
                size=f.num(largest.cascade_size),
                generations=f.num(largest.generations),
                direct=f.num(largest.direct_referrals),
            ),
            t(
                "referrals.cascades_big",
                referrers=f.num(big.referrers.sum()),
                share=f.pct(big.revenue.sum() / buckets.revenue.sum() if buckets.revenue.sum() else 0),
                depth=f.num(network.cascades.depth),
            ),
        ]
        table = c.table(
            buckets,
            [
                ("bucket", t("referrals.col_cascade_size"), "text"),
                ("referrers", t("referrals.col_referrers"), "int"),
                ("members", t("referrals.col_members_reached"), "int"),
                ("revenue", t("referrals.col_cascade_revenue"), "num"),
            ],
        )
        return Chart(
            "referrals-cascades",
            t("referrals.cascades_title"),
            c.figure(data, layout),
            sentences,
            table,
            "referral-cascades",
        )

    @staticmethod
    def _predicted_value(ctx: ReportContext, network: ReferralNetwork) -> dict[str, float] | None:
        """Mean predicted 365-day value of referred and organic buyers, from the CLV section's fit."""
        try:
            predictions = ctx.results.get("clv")
            if "predicted_clv" not in predictions.columns:
                return None
            values = predictions[["customer_id", "predicted_clv"]]
        except MemberlensError:
            return None
        referred = set(network.members.customer_id[network.members.referred_by.notna()])
        is_referred = values.customer_id.isin(referred)
        return {
            "referred": float(values.predicted_clv[is_referred].mean()) if is_referred.any() else float("nan"),
            "organic": float(values.predicted_clv[~is_referred].mean()) if (~is_referred).any() else float("nan"),
        }

    def _groups_chart(self, ctx: ReportContext, program: pd.DataFrame, value: dict[str, float] | None) -> Chart:
        t = ctx.t
        names = {g: t(f"referrals.group_{g}") for g in program.index}
        days = [t("referrals.repeat_days", days=n) for n in REPEAT_DAYS]
        data = [
            c.bar(
                names[g],
                days,
                [program.loc[g, f"repeat_{n}d"] for n in REPEAT_DAYS],
                key=g,
                percent=True,
                colours=[GREEN if g == "referred" else BLUE] * len(days),
            )
            for g in program.index
        ]
        layout = c.layout(
            x_title=t("referrals.col_repeat"), y_title=t("referrals.col_share"), y_percent=True, barmode="group"
        )
        frame = program.reset_index()
        frame["name"] = frame.group.map(names)
        frame["predicted"] = frame.group.map(value) if value else np.nan
        columns = [
            ("name", t("referrals.col_group"), "text"),
            ("members", t("referrals.col_members"), "int"),
            ("buyers", t("referrals.col_buyers"), "int"),
            ("conversion", t("referrals.col_conversion"), "pct"),
            ("revenue_per_buyer", t("referrals.col_revenue_per_buyer"), "num"),
            ("orders_per_buyer", t("referrals.col_orders_per_buyer"), "num"),
            ("repeat_rate", t("referrals.col_repeat_rate"), "pct"),
            *[(f"repeat_{n}d", t("referrals.repeat_days", days=n), "pct") for n in REPEAT_DAYS],
        ]
        if value:
            columns.append(("predicted", t("referrals.col_predicted"), "num"))
        r, o = program.loc["referred"], program.loc["organic"]
        sentences = [
            t(
                "referrals.groups_value",
                conversion=f.pct(r.conversion),
                organic_conversion=f.pct(o.conversion),
                spend=f.num(r.revenue_per_buyer, 2),
                organic_spend=f.num(o.revenue_per_buyer, 2),
                ratio=f.times(r.revenue_per_buyer / o.revenue_per_buyer if o.revenue_per_buyer else None),
            )
        ]
        if not f.missing(r.repeat_90d) and not f.missing(o.repeat_90d):
            sentences.append(
                t("referrals.groups_repeat", repeat=f.pct(r.repeat_90d), organic_repeat=f.pct(o.repeat_90d))
            )
        if value and not f.missing(value["referred"]) and not f.missing(value["organic"]):
            sentences.append(
                t(
                    "referrals.groups_predicted",
                    value=f.num(value["referred"], 2),
                    organic_value=f.num(value["organic"], 2),
                )
            )
        return Chart(
            "referrals-groups",
            t("referrals.groups_title"),
            c.figure(data, layout),
            sentences,
            c.table(frame, columns),
            "referrals",
        )

    @staticmethod
    def _key_table(ctx: ReportContext, key: pd.DataFrame) -> TableBlock:
        t = ctx.t
        return c.table(
            key,
            [
                ("rank", t("referrals.col_rank"), "int"),
                ("customer_id", t("label.customer_id"), "text"),
                ("direct_referrals", t("referrals.col_direct"), "int"),
                ("cascade_size", t("referrals.col_cascade_size"), "int"),
                ("generations", t("referrals.col_generations"), "int"),
                ("own_revenue", t("referrals.col_own"), "num"),
                ("referral_value", t("referrals.col_value"), "num"),
                ("pagerank_rank", t("referrals.col_pagerank"), "int"),
                ("reason", t("referrals.col_reason"), "text"),
            ],
            caption=t("referrals.key_caption", n=f.num(len(key)), shown=min(TOP_KEY, len(key))),
            limit=TOP_KEY,
        )

    def _tree_chart(self, ctx: ReportContext, network: ReferralNetwork, top: pd.Series) -> Chart:
        t = ctx.t
        tree = tree_below(network, top.customer_id)
        trace = {
            "type": "sunburst",
            "ids": c._values(tree.customer_id),
            "labels": c._values(tree.customer_id),
            "parents": c._values(tree.parent.fillna("")),
            "branchvalues": "remainder",
            "maxdepth": 4,
            "hovertemplate": "%{label}<extra></extra>",
        }
        layout = c.layout(legend=False, height=460, x_category=False, hovermode="closest")
        per = tree.groupby("generation").size().rename("members").reset_index()
        per = per[per.generation > 0]
        sentences = [
            t(
                "referrals.tree",
                member=str(top.customer_id),
                size=f.num(top.cascade_size),
                generations=f.num(top.generations),
                shown=f.num(len(tree) - 1),
            )
        ]
        table = c.table(
            per, [("generation", t("referrals.col_generation"), "int"), ("members", t("referrals.col_members"), "int")]
        )
        return Chart(
            "referrals-tree",
            t("referrals.tree_title", member=str(top.customer_id)),
            c.figure([trace], layout),
            sentences,
            table,
            "key-referrers",
        )

    @staticmethod
    def _cards(
        ctx: ReportContext, r: pd.Series, o: pd.Series, key: pd.DataFrame, value: dict[str, float] | None
    ) -> list[Card]:
        t = ctx.t
        group = t("referrals.title")
        cards = []
        ratio = r.revenue_per_member / o.revenue_per_member if o.revenue_per_member else None  # conversion and spend
        if ratio is not None and ratio >= BETTER:
            cards.append(
                Card(
                    t("referrals.card_grow_title"),
                    GREEN,
                    [
                        t(
                            "referrals.card_grow_seen",
                            ratio=f.times(ratio),
                            conversion=f.pct(r.conversion),
                            organic_conversion=f.pct(o.conversion),
                        )
                    ],
                    [t("referrals.card_grow_do")],
                    group=group,
                )
            )
        elif ratio is not None and ratio <= 1 / BETTER:
            cards.append(
                Card(
                    t("referrals.card_review_title"),
                    RED,
                    [t("referrals.card_review_seen", ratio=f.times(ratio))],
                    [t("referrals.card_review_do")],
                    group=group,
                )
            )
        if not f.missing(r.cost_per_referred_buyer) and r.cost_per_referred_buyer > 0:
            payback = r.revenue_per_buyer / r.cost_per_referred_buyer
            good = payback >= 1
            cards.append(
                Card(
                    t("referrals.card_cost_title"),
                    GREEN if good else AMBER,
                    [
                        t(
                            "referrals.card_cost_seen",
                            cost=f.num(r.cost_per_referred_buyer, 2),
                            spend=f.num(r.revenue_per_buyer, 2),
                            payback=f.times(payback),
                        )
                    ],
                    [t("referrals.card_cost_do_good" if good else "referrals.card_cost_do_bad")],
                    group=group,
                )
            )
        never = int(r.members - r.buyers)
        if never > 0:
            cards.append(
                Card(
                    t("referrals.card_convert_title"),
                    AMBER,
                    [t("referrals.card_convert_seen", n=f.num(never), share=f.pct(never / r.members))],
                    [t("referrals.card_convert_do")],
                    group=group,
                )
            )
        if len(key):
            top = key.head(TOP_KEY)  # each member has one referrer: direct referrals do not overlap
            cards.append(
                Card(
                    t("referrals.card_key_title"),
                    BLUE,
                    [
                        t(
                            "referrals.card_key_seen",
                            n=f.num(len(top)),
                            direct=f.num(top.direct_referrals.sum()),
                            share=f.pct(top.direct_referrals.sum() / r.referrals if r.referrals else 0),
                            member=str(top.customer_id.iloc[0]),
                            size=f.num(top.cascade_size.iloc[0]),
                        )
                    ],
                    [t("referrals.card_key_do")],
                    group=group,
                )
            )
        return cards

    def exports(self, ctx: ReportContext) -> dict[str, pd.DataFrame]:
        """The key referrers, reasons in the report's language, for a marketing tool."""
        return {"key_referrers": key_referrers(ctx)}
