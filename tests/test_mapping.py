"""Column mapping: auto-detection in English and Chinese, presets, mapping files, and errors
that list the columns and the closest candidates."""

from __future__ import annotations

import pytest

from memberlens import ConfigError, InputError
from memberlens.schema.contract import ORDERS
from memberlens.schema.mapping import MappingSpec, load_mapping_file, preset_spec, resolve_mapping

UCI = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]


def test_uci_columns_are_detected_without_a_preset():
    mapping = resolve_mapping(ORDERS, UCI, MappingSpec(), where="f.csv")
    assert mapping.columns == {
        "customer_id": "CustomerID",
        "order_id": "InvoiceNo",
        "ordered_at": "InvoiceDate",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
        "product_id": "StockCode",
        "product_name": "Description",
        "country": "Country",
    }
    assert mapping.cancellation_prefix is None  # only the preset knows the 'C' convention
    assert resolve_mapping(ORDERS, UCI, preset_spec("online-retail"), where="f").cancellation_prefix == "C"


@pytest.mark.parametrize(
    "columns, expected",
    [
        (
            ["用户ID", "订单号", "下单时间", "订单金额"],
            {"customer_id": "用户ID", "order_id": "订单号", "ordered_at": "下单时间", "amount": "订单金额"},
        ),
        (
            ["customer_id", "order_date", "Order ID", "Revenue"],
            {"customer_id": "customer_id", "ordered_at": "order_date", "order_id": "Order ID", "amount": "Revenue"},
        ),
        (
            ["会员ID", "支付时间", "数量", "单价"],
            {"customer_id": "会员ID", "ordered_at": "支付时间", "quantity": "数量", "unit_price": "单价"},
        ),
    ],
)
def test_common_names_are_detected(columns, expected):
    assert resolve_mapping(ORDERS, columns, MappingSpec(), where="f").columns == expected


def test_missing_required_column_lists_columns_and_closest_candidates():
    columns = ["CustmerID", "InvoiceNo", "InvoiceDate", "Quantity", "UnitPrice"]
    with pytest.raises(InputError) as info:
        resolve_mapping(ORDERS, columns, MappingSpec(), where="orders.csv")
    assert "orders.csv" in info.value.message and "customer_id" in info.value.message
    assert "InvoiceNo" in info.value.message  # the columns that exist
    assert "CustmerID" in info.value.hint and "--map customer_id=CustmerID" in info.value.hint


def test_explicit_mapping_wins_and_unknown_names_are_refused():
    columns = ["CustomerID", "AltCustomer", "InvoiceNo", "InvoiceDate", "Revenue"]
    spec = MappingSpec(columns={"customer_id": "AltCustomer"})
    assert resolve_mapping(ORDERS, columns, spec, where="f").columns["customer_id"] == "AltCustomer"
    with pytest.raises(ConfigError, match="customer"):
        resolve_mapping(ORDERS, columns, MappingSpec(columns={"customer": "CustomerID"}), where="f")
    with pytest.raises(InputError, match="Revenu"):
        resolve_mapping(ORDERS, columns, MappingSpec(columns={"amount": "Revenu"}), where="f")


def test_mapping_file(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text(
        'date_order = "dmy"\ncancellation_prefix = "R"\n[columns]\ncustomer_id = "会员"\n', encoding="utf-8"
    )
    spec = load_mapping_file(path)
    assert (spec.columns, spec.date_order, spec.cancellation_prefix) == ({"customer_id": "会员"}, "dmy", "R")
    path.write_text('date_order = "ymd"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="date_order"):
        load_mapping_file(path)
    path.write_text("[columns\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML"):
        load_mapping_file(path)
