"""Column mapping: which source column feeds which canonical column.

A mapping comes from, in order of precedence: explicit ``--map canonical=source`` pairs (or a
TOML mapping file), a named preset, and auto-detection of common names in English and Chinese.
A required column that cannot be found raises an error listing the columns that exist and the
closest candidates.

Mapping file (TOML)::

    table = "orders"              # optional: which canonical table this source feeds
    date_order = "dmy"            # optional: slash dates are day/month/year (default mdy)
    cancellation_prefix = "C"     # optional: order ids starting with this are cancellations
    decimal = ","                 # optional: amounts are written 12,50 (default: detected per column)

    [columns]
    customer_id = "会员ID"
    ordered_at = "下单时间"
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from memberlens.errors import ConfigError, InputError
from memberlens.schema.contract import CONTRACTS, TableContract

DateOrder = Literal["mdy", "dmy"]


@dataclass(frozen=True)
class MappingSpec:
    """What the user asked for; resolved against a source's columns by :func:`resolve_mapping`."""

    columns: dict[str, str] = field(default_factory=dict)
    date_order: DateOrder | None = None
    cancellation_prefix: str | None = None
    table: str | None = None
    decimal: str | None = None  # "." or ","; None: detected per column

    def merged_over(self, base: MappingSpec) -> MappingSpec:
        """This spec, with anything it leaves open taken from ``base``."""
        return MappingSpec(
            columns={**base.columns, **self.columns},
            date_order=self.date_order or base.date_order,
            cancellation_prefix=self.cancellation_prefix or base.cancellation_prefix,
            table=self.table or base.table,
            decimal=self.decimal or base.decimal,
        )


@dataclass(frozen=True)
class Mapping:
    """A resolved mapping: canonical column -> source column, for one source."""

    table: str
    columns: dict[str, str]
    extra_columns: tuple[str, ...]
    date_order: DateOrder
    cancellation_prefix: str | None
    detected: tuple[str, ...]  # canonical columns found by auto-detection
    decimal_marks: dict[str, str] = field(default_factory=dict)  # number column -> "." or ","

    def with_decimal_marks(self, marks: dict[str, str]) -> Mapping:
        return replace(self, decimal_marks=dict(marks))

    def to_dict(self) -> dict:
        return {
            "decimal_marks": dict(self.decimal_marks),
            "table": self.table,
            "columns": dict(self.columns),
            "extra_columns": list(self.extra_columns),
            "date_order": self.date_order,
            "cancellation_prefix": self.cancellation_prefix,
            "detected": list(self.detected),
        }


PRESETS: dict[str, MappingSpec] = {
    "online-retail": MappingSpec(
        table="orders",
        columns={
            "order_id": "InvoiceNo",
            "product_id": "StockCode",
            "product_name": "Description",
            "quantity": "Quantity",
            "ordered_at": "InvoiceDate",
            "unit_price": "UnitPrice",
            "customer_id": "CustomerID",
            "country": "Country",
        },
        date_order="mdy",
        cancellation_prefix="C",
    ),
}

# Normalised spellings (lower case, no spaces/underscores/hyphens) that auto-detection accepts.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid",
        "custid",
        "customerno",
        "customernumber",
        "clientid",
        "memberid",
        "userid",
        "buyerid",
        "accountid",
        "会员id",
        "用户id",
        "客户id",
        "会员编号",
        "用户编号",
        "客户编号",
        "会员号",
    ),
    "order_id": (
        "orderid",
        "orderno",
        "ordernumber",
        "invoiceno",
        "invoiceid",
        "invoice",
        "invoicenumber",
        "transactionid",
        "订单号",
        "订单id",
        "订单编号",
        "单号",
    ),
    "ordered_at": (
        "orderedat",
        "orderdate",
        "ordertime",
        "orderdatetime",
        "invoicedate",
        "purchasedate",
        "purchasetime",
        "transactiondate",
        "createdat",
        "下单时间",
        "下单日期",
        "订单时间",
        "订单日期",
        "购买时间",
        "购买日期",
        "支付时间",
        "交易时间",
    ),
    "amount": (
        "amount",
        "lineamount",
        "linetotal",
        "revenue",
        "sales",
        "salesamount",
        "total",
        "totalamount",
        "ordervalue",
        "订单金额",
        "金额",
        "实付金额",
        "支付金额",
        "消费金额",
        "销售额",
    ),
    "quantity": ("quantity", "qty", "units", "数量", "购买数量", "商品数量"),
    "unit_price": ("unitprice", "price", "单价", "商品单价", "价格"),
    "product_id": ("productid", "stockcode", "sku", "itemid", "productcode", "商品id", "商品编码", "商品编号"),
    "product_name": ("productname", "description", "itemname", "product", "商品名称", "商品名", "品名"),
    "country": ("country", "国家", "国家地区"),
    "channel": ("channel", "saleschannel", "渠道", "销售渠道"),
    "coupon_amount": ("couponamount", "coupon", "discount", "优惠券金额", "优惠金额", "用券金额"),
    "is_cancellation": ("iscancellation", "cancelled", "canceled", "iscancelled", "是否取消"),
    "registered_at": ("registeredat", "registrationdate", "registerdate", "signupdate", "注册时间", "注册日期"),
    "activated_at": ("activatedat", "activationdate", "激活时间", "激活日期"),
    "tier": ("tier", "level", "memberlevel", "membertier", "会员等级", "等级"),
    "region": ("region", "province", "area", "地区", "区域", "省份"),
    "marketable": ("marketable", "contactable", "可营销"),
    "unsubscribed_at": ("unsubscribedat", "unsubscribedate", "退订时间"),
    "occurred_at": ("occurredat", "eventtime", "eventdate", "timestamp", "visitedat", "访问时间", "事件时间"),
    "event_type": ("eventtype", "event", "action", "事件类型"),
    "engagement": ("engagement", "pageviews", "views", "互动度", "浏览量"),
    "campaign_id": ("campaignid", "campaign", "活动id", "活动编号"),
    "sent_at": ("sentat", "senddate", "senttime", "发送时间"),
    "cost": ("cost", "spend", "费用", "成本"),
    "responded": ("responded", "response", "是否响应"),
    "converted_at": ("convertedat", "conversiondate", "转化时间"),
    "coupon_id": ("couponid", "优惠券id"),
    "date": ("date", "period", "month", "day", "日期", "月份"),
    "kind": ("kind", "costtype", "type", "费用类型"),
    "referrer_id": (
        "referrerid",
        "referrer",
        "referredby",
        "inviterid",
        "inviter",
        "推荐人id",
        "推荐人",
        "推荐人编号",
        "邀请人id",
        "邀请人",
    ),
    "referred_id": (
        "referredid",
        "refereeid",
        "referee",
        "inviteeid",
        "invitee",
        "被推荐人id",
        "被推荐人",
        "被推荐人编号",
        "被邀请人id",
        "被邀请人",
    ),
    "referred_at": (
        "referredat",
        "referraldate",
        "referraltime",
        "invitedat",
        "invitedate",
        "推荐时间",
        "推荐日期",
        "邀请时间",
        "邀请日期",
    ),
    "reward_cost": ("rewardcost", "reward", "referralreward", "bonus", "奖励", "奖励金额", "推荐奖励", "奖励成本"),
}


def normalise_name(name: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", name.strip().lower())


def parse_map_flags(pairs: list[str]) -> dict[str, str]:
    """``["customer_id=CustID", ...]`` -> ``{"customer_id": "CustID"}``."""
    columns: dict[str, str] = {}
    for pair in pairs:
        canonical, sep, source = pair.partition("=")
        if not sep or not canonical.strip() or not source.strip():
            raise ConfigError(f"--map {pair!r} is not of the form canonical=source", "e.g. --map customer_id=CustID")
        columns[canonical.strip()] = source.strip()
    return columns


def load_mapping_file(path: str | Path) -> MappingSpec:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: mapping file not found") from exc
    except OSError as exc:  # a folder, no permission...
        raise ConfigError(f"{path}: cannot read the mapping file ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML mapping file ({exc})", "see README, 'Your own data'") from exc
    unknown = set(data) - {"table", "date_order", "cancellation_prefix", "decimal", "columns"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {sorted(unknown)}",
            "allowed: table, date_order, cancellation_prefix, decimal and a [columns] section",
        )
    columns = data.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ConfigError(f"{path}: [columns] must map canonical names to source column names (strings)")
    for key, example in (("table", '"orders"'), ("cancellation_prefix", '"C"')):
        if key in data and not (isinstance(data[key], str) and data[key]):
            raise ConfigError(f"{path}: {key} must be a non-empty string, got {data[key]!r}", f"e.g. {key} = {example}")
    return MappingSpec(
        columns=dict(columns),
        date_order=_checked_date_order(data.get("date_order"), str(path)),
        cancellation_prefix=data.get("cancellation_prefix"),
        table=data.get("table"),
        decimal=checked_decimal(data.get("decimal"), str(path)),
    )


def preset_spec(name: str) -> MappingSpec:
    try:
        return PRESETS[name]
    except KeyError as exc:
        raise ConfigError(f"unknown preset {name!r}", f"available presets: {', '.join(sorted(PRESETS))}") from exc


def contract_for(table: str) -> TableContract:
    try:
        return CONTRACTS[table]
    except KeyError as exc:
        raise ConfigError(f"unknown table {table!r}", f"canonical tables: {', '.join(CONTRACTS)}") from exc


def checked_decimal(value: str | None, where: str) -> str | None:
    """The decimal mark a user set: ``.`` or ``,`` (None: detect it per column)."""
    if value is None or value in (".", ","):
        return value
    raise ConfigError(f"{where}: decimal must be '.' or ',', got {value!r}", "e.g. --decimal , for 12,50")


def _checked_date_order(value: str | None, where: str) -> DateOrder | None:
    if value is None or value in ("mdy", "dmy"):
        return value  # type: ignore[return-value]
    raise ConfigError(f"{where}: date_order must be 'mdy' or 'dmy', got {value!r}")


def _closest(name: str, candidates: list[str]) -> list[str]:
    by_normal = {normalise_name(c): c for c in candidates}
    close = difflib.get_close_matches(normalise_name(name), list(by_normal), n=3, cutoff=0.6)
    return [by_normal[c] for c in close]


def _suggestions(canonical: str, source_columns: list[str]) -> list[str]:
    found: list[str] = []
    for spelling in (canonical, *SYNONYMS.get(canonical, ())):
        for match in _closest(spelling, source_columns):
            if match not in found:
                found.append(match)
    return found[:3]


def resolve_mapping(contract: TableContract, source_columns: list[str], spec: MappingSpec, *, where: str) -> Mapping:
    """Resolve ``spec`` against the columns a source actually has.

    Raises
    ------
    ConfigError
        A mapping names a canonical column the table does not have.
    InputError
        A mapped source column does not exist, a required column cannot be found, or a
        source column appears twice.
    """
    duplicates = sorted({c for c in source_columns if source_columns.count(c) > 1})
    if duplicates:
        raise InputError(
            f"{where}: column name(s) {duplicates} appear more than once in the header",
            "rename the duplicated columns so each name is unique",
        )
    unknown = [c for c in spec.columns if c not in contract.names]
    if unknown:
        raise ConfigError(
            f"{where}: {unknown} are not columns of the canonical '{contract.name}' table",
            f"its columns are: {', '.join(contract.names)}",
        )
    columns: dict[str, str] = {}
    for canonical, source in spec.columns.items():
        if source not in source_columns:
            close = _closest(source, source_columns)
            raise InputError(
                f"{where}: column {source!r} (mapped to {canonical}) not found; columns: {source_columns}",
                f"did you mean {close}?" if close else "check the spelling and the delimiter",
            )
        columns[canonical] = source
    detected = _detect_columns(contract, source_columns, taken=set(columns.values()), mapped=set(columns))
    columns.update(detected)
    _require(contract, source_columns, columns, where)
    used = set(columns.values())
    extra = tuple(c for c in source_columns if c not in used) if contract.keeps_extra_columns else ()
    return Mapping(
        table=contract.name,
        columns=columns,
        extra_columns=extra,
        date_order=spec.date_order or "mdy",
        cancellation_prefix=spec.cancellation_prefix,
        detected=tuple(detected),
    )


def _detect_columns(
    contract: TableContract, source_columns: list[str], *, taken: set[str], mapped: set[str]
) -> dict[str, str]:
    by_normal: dict[str, str] = {}
    for name in source_columns:
        by_normal.setdefault(normalise_name(name), name)
    detected: dict[str, str] = {}
    for column in contract.columns:
        if column.name in mapped:
            continue
        for spelling in (normalise_name(column.name), *SYNONYMS.get(column.name, ())):
            source = by_normal.get(spelling)
            if source is not None and source not in taken:
                detected[column.name] = source
                taken.add(source)
                break
    return detected


def _require(contract: TableContract, source_columns: list[str], columns: dict[str, str], where: str) -> None:
    missing = [c for c in contract.required if c not in columns]
    if contract.name == "orders":
        if "order_id" in missing:
            missing.remove("order_id")  # without order ids each line is its own order
        if "amount" not in columns and not {"quantity", "unit_price"} <= set(columns):
            missing.append("amount (or quantity and unit_price)")
    if not missing:
        return
    first = missing[0].split(" ")[0]
    taken = set(columns.values())  # a column already feeding another canonical column is no candidate
    close = _suggestions(first, [c for c in source_columns if c not in taken])
    shown = source_columns if len(source_columns) <= 30 else [*source_columns[:30], "..."]
    hint = f"map it with --map {first}=COLUMN"
    if close:
        hint = f"did you mean {close}? " + f"map it with --map {first}={close[0]}"
    if len(source_columns) == 1 and any(d in source_columns[0] for d in ",;\t|"):
        hint = "the file seems to use another delimiter; pass it with --delimiter"
    raise InputError(
        f"{where}: required column {', '.join(missing)} for table '{contract.name}' not found; columns: {shown}",
        hint,
    )
