"""Report section: the data-quality ledger, source by source."""

from __future__ import annotations

from memberlens.reports import charts as c
from memberlens.reports.base import Chart, ReportContext, SectionContent, TableBlock


class DataQualitySection:
    key = "data_quality"
    title_key = "data_quality.title"
    needs = ("sources",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        sentences, rows = [], []
        ledgers = ctx.results.get("ledgers")
        for ledger in ledgers:
            read = ledger.rows_read or 1
            if ledger.set_aside:
                top_reason, top_rows = max(ledger.set_aside.items(), key=lambda kv: (kv[1], kv[0]))
                sentences.append(
                    t(
                        "data_quality.summary",
                        read=t.number(ledger.rows_read),
                        source=ledger.source,
                        used=t.number(ledger.rows_used),
                        used_share=t.percent(ledger.rows_used / read),
                        top_reason=t.reason(top_reason),
                        top_rows=t.number(top_rows),
                    )
                )
            else:
                sentences.append(t("data_quality.summary_clean", read=t.number(ledger.rows_read), source=ledger.source))
            if not ledger.balanced:
                sentences.append(t("data_quality.unbalanced", source=ledger.source))
            rows.append([ledger.source, ledger.table, t("data_quality.read"), "", ledger.rows_read, t.percent(1)])
            rows.append(
                [
                    ledger.source,
                    ledger.table,
                    t("data_quality.used"),
                    "",
                    ledger.rows_used,
                    t.percent(ledger.rows_used / read),
                ]
            )
            for reason, n in ledger.set_aside.items():
                rows.append(
                    [ledger.source, ledger.table, t("data_quality.set_aside"), t.reason(reason), n, t.percent(n / read)]
                )
        sentences.append(t("data_quality.balanced"))
        columns = [t(f"data_quality.col_{c}") for c in ("source", "table", "outcome", "reason", "rows", "share")]
        table = TableBlock("", columns, rows)
        charts = [self._chart(ctx, ledgers, table)] if ledgers else []
        return SectionContent(key=self.key, title=t(self.title_key), sentences=sentences, charts=charts)

    def _chart(self, ctx: ReportContext, ledgers, table: TableBlock) -> Chart:
        t = ctx.t
        sources = [f"{ledger.source} ({ledger.table})" for ledger in ledgers]
        data = [
            c.bar(
                t("data_quality.used"),
                sources,
                [ledger.rows_used for ledger in ledgers],
                key="rows_used",
                orientation="h",
            )
        ]
        reasons = sorted({reason for ledger in ledgers for reason in ledger.set_aside})
        for reason in reasons:
            values = [ledger.set_aside.get(reason, 0) for ledger in ledgers]
            data.append(c.bar(t.reason(reason), sources, values, key=f"reason:{reason}", orientation="h"))
        layout = c.layout(
            x_title=t("data_quality.col_rows"),
            barmode="stack",
            hovermode="closest",
            x_category=False,
            height=max(220, 48 * len(ledgers) + 150),
        )
        layout["yaxis"] |= {"type": "category", "autorange": "reversed", "rangemode": "normal"}
        layout["legend"]["traceorder"] = "normal"
        read = sum(ledger.rows_read for ledger in ledgers)
        used = sum(ledger.rows_used for ledger in ledgers)
        explain = [
            t(
                "data_quality.chart_explain",
                sources=len(ledgers),
                read=t.number(read),
                used=t.number(used),
                share=t.percent(used / read if read else 1),
            )
        ]
        return Chart("data-quality", t("data_quality.chart_title"), c.figure(data, layout), explain, table, "ledger")
