"""Report section: the data-quality ledger, source by source."""

from __future__ import annotations

from memberlens.reports.base import ReportContext, SectionContent, TableBlock


class DataQualitySection:
    key = "data_quality"
    title_key = "data_quality.title"
    needs = ("sources",)

    def build(self, ctx: ReportContext) -> SectionContent:
        t = ctx.t
        sentences, rows = [], []
        for ledger in ctx.workspace.ledgers():
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
                [ledger.source, ledger.table, t("data_quality.used"), "", ledger.rows_used, t.percent(ledger.rows_used / read)]
            )
            for reason, n in ledger.set_aside.items():
                rows.append(
                    [ledger.source, ledger.table, t("data_quality.set_aside"), t.reason(reason), n, t.percent(n / read)]
                )
        sentences.append(t("data_quality.balanced"))
        columns = [t(f"data_quality.col_{c}") for c in ("source", "table", "outcome", "reason", "rows", "share")]
        return SectionContent(
            key=self.key, title=t(self.title_key), sentences=sentences, tables=[TableBlock("", columns, rows)]
        )
