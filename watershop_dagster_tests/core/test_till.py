from datetime import date

import pytest

from watershop_dagster.core.till.records import PriceList, TillFileError, parse_till_csv

DAY = date(2024, 3, 5)
HEADER = "transaction_id,timestamp,customer_id,payment_mode,can_size,number_of_cans,amount,payment_status\n"


def parse(text: str | bytes, **kw):
    data = text.encode() if isinstance(text, str) else text
    return parse_till_csv(data, "transactions/2024-03-05.csv", DAY, **kw)


def test_good_rows_are_normalised():
    r = parse(HEADER + "T1,2024-03-05 08:01:02,,cash,20L,2,40,Paid\nT2,2024-03-05 09:00:00,L7,Coin,10 l,1,10,unpaid\n")
    assert r.rejects.empty
    t = r.transactions
    assert list(t["payment_mode"]) == ["Cash", "Coins"]
    assert list(t["can_size"]) == ["20L", "10L"]
    assert list(t["litres"]) == [40, 10]
    assert list(t["payment_status"]) == ["Paid", "Unpaid"]
    assert t["customer_id"].tolist() == [None, "L7"]
    assert list(t["line_number"]) == [2, 3]


@pytest.mark.parametrize(
    "row, reason",
    [
        ("T1,05/03/2024 08:00,,Cash,20L,1,20,Paid", "unparseable timestamp"),
        ("T1,2024-03-06 08:00:00,,Cash,20L,1,20,Paid", "not on the file's day"),
        ("T1,2024-03-05 08:00:00,,Cheque,20L,1,20,Paid", "unknown payment_mode"),
        ("T1,2024-03-05 08:00:00,,Cash,15L,1,15,Paid", "unknown can_size"),
        ("T1,2024-03-05 08:00:00,,Cash,20L,0,0,Paid", "not positive"),
        ("T1,2024-03-05 08:00:00,,Cash,20L,-2,-40,Paid", "not positive"),
        ("T1,2024-03-05 08:00:00,,Cash,20L,1.5,30,Paid", "not a whole number"),
        ("T1,2024-03-05 08:00:00,,Cash,20L,1,25,Paid", "disagrees with the price list"),
        ("T1,2024-03-05 08:00:00,,Cash,20L,1,abc,Paid", "is not a number"),
        ("T1,2024-03-05 08:00:00,,Cash,20L,1,20,Maybe", "unknown payment_status"),
        ("T1,2024-03-05 08:00:00,,Cash,20L,1,20", "expected 8 fields, found 7"),
        (",2024-03-05 08:00:00,,Cash,20L,1,20,Paid", "blank transaction_id"),
    ],
)
def test_bad_rows_are_rejected_with_reason_and_good_rows_kept(row, reason):
    r = parse(HEADER + "G1,2024-03-05 07:00:00,,UPI,10L,1,10,Paid\n" + row + "\n")
    assert list(r.transactions["transaction_id"]) == ["G1"]
    assert len(r.rejects) == 1
    rej = r.rejects.iloc[0]
    assert reason in rej["reason"]
    assert rej["line_number"] == 3
    assert rej["source_file"] == "transactions/2024-03-05.csv"


def test_duplicate_ids_within_and_across_days():
    r = parse(
        HEADER
        + "T1,2024-03-05 08:00:00,,Cash,20L,1,20,Paid\nT1,2024-03-05 09:00:00,,Cash,20L,1,20,Paid\nT9,2024-03-05 09:00:00,,UPI,20L,1,20,Paid\n",
        known_ids={"T9": date(2024, 3, 4)},
    )
    assert list(r.transactions["transaction_id"]) == ["T1"]
    reasons = list(r.rejects["reason"])
    assert "first on line 2" in reasons[0]
    assert "already loaded for 2024-03-04" in reasons[1]


def test_bom_semicolons_extra_and_missing_optional_columns():
    text = "\ufefftransaction_id;Timestamp;Payment Mode;can_size;number_of_cans;amount;till_operator\nT1;2024-03-05 08:00:00;UPI;20L;1;20;ravi\n"
    r = parse(text)
    assert r.rejects.empty and len(r.transactions) == 1
    assert r.transactions.iloc[0]["payment_status"] == "Paid"
    assert any("till_operator" in n for n in r.notes)


def test_non_utf8_line_is_rejected_alone():
    data = (
        HEADER.encode()
        + b"T1,2024-03-05 08:00:00,,Cash,20L,1,20,Paid\n"
        + b"T2,2024-03-05 08:00:00,Caf\xe9,Cash,20L,1,20,Paid\n"
    )
    r = parse(data)
    assert list(r.transactions["transaction_id"]) == ["T1"]
    assert "not valid UTF-8" in r.rejects.iloc[0]["reason"] and r.rejects.iloc[0]["line_number"] == 3


def test_missing_required_column_and_non_csv_fail_the_file():
    with pytest.raises(TillFileError, match="missing column.*amount"):
        parse("transaction_id,timestamp,payment_mode,can_size,number_of_cans\nT1,2024-03-05 08:00:00,Cash,20L,1\n")
    with pytest.raises(TillFileError, match="not a till CSV"):
        parse("<html><body>Login required</body></html>\n")
    with pytest.raises(TillFileError, match="binary"):
        parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00")


def test_price_list_is_configuration():
    r = parse(HEADER + "T1,2024-03-05 08:00:00,,Cash,20L,2,50,Paid\n", prices=PriceList({10: 12.5, 20: 25.0}))
    assert r.rejects.empty and r.transactions.iloc[0]["amount"] == 50


def test_unpaid_sale_may_carry_zero_amount_and_no_mode():
    r = parse(HEADER + "T1,2024-03-05 08:00:00,L1,,20L,1,0,Unpaid\n")
    assert r.rejects.empty
    assert r.transactions.iloc[0]["payment_mode"] is None
