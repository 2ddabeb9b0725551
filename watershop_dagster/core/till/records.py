"""Till exports (one CSV per day) -> validated sales plus rejected rows, each with its file, line and reason.

The till is a small-shop device: exports arrive with a byte-order mark, semicolons, odd capitalisation, stray
bytes from another code page. A bad row never stops the good rows of the same file from loading; only a file
that is not a table at all (or lacks a column every row needs) fails as a whole.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from watershop_dagster.core.storage.schemas import TRANSACTION_REJECTS, TRANSACTIONS

REQUIRED_COLUMNS = ("transaction_id", "timestamp", "payment_mode", "can_size", "number_of_cans", "amount")
OPTIONAL_COLUMNS = ("customer_id", "payment_status")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
EXPORT_COLUMNS = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "payment_mode",
    "can_size",
    "number_of_cans",
    "amount",
    "payment_status",
)

PAYMENT_MODES = {"cash": "Cash", "upi": "UPI", "coins": "Coins", "coin": "Coins"}
PAYMENT_STATUSES = {"paid": "Paid", "unpaid": "Unpaid"}
TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
_CAN_SIZE = re.compile(r"^\s*(\d+)\s*(l|ltr|litre|litres|liter|liters)?\s*$", re.IGNORECASE)


class TillFileError(ValueError):
    """The file as a whole cannot be read as a till export."""


@dataclass(frozen=True)
class PriceList:
    """Rupees per can, by size in litres. Amounts that disagree with it are rejected."""

    rupees_per_can: Mapping[int, float] = field(default_factory=lambda: {10: 10.0, 20: 20.0})
    tolerance: float = 0.01

    def price(self, litres: int) -> float | None:
        return self.rupees_per_can.get(litres)


@dataclass
class TillParseResult:
    transactions: pd.DataFrame
    rejects: pd.DataFrame
    notes: list[str]


def _reject(rejects: list[dict], file: str, line: int, raw: str, reason: str, tid: str | None = None) -> None:
    rejects.append(
        {"source_file": file, "line_number": line, "transaction_id": tid or None, "raw_line": raw, "reason": reason}
    )


def _decode_lines(data: bytes, file: str, rejects: list[dict]) -> list[tuple[int, str]]:
    """UTF-8 (with or without a BOM); a line with bytes that are not UTF-8 is rejected on its own."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            out.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", errors="replace")
            if number == 1:
                raise TillFileError(f"{file}: header line is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
            _reject(rejects, file, number, text, f"line is not valid UTF-8 ({exc.reason} at byte {exc.start})")
    return out


def _normalise_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _pick_delimiter(header: str) -> str:
    best, best_hits = ",", -1
    for delim in (",", ";", "\t", "|"):
        names = {_normalise_header(h) for h in header.split(delim)}
        hits = len(names & set(KNOWN_COLUMNS))
        if hits > best_hits:
            best, best_hits = delim, hits
    return best


def parse_timestamp(text: str) -> datetime | None:
    text = text.strip()
    for fmt in TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def parse_can_size(text: str) -> int | None:
    m = _CAN_SIZE.match(text or "")
    return int(m.group(1)) if m else None


def _parse_number(text: str) -> float | None:
    text = (text or "").strip().replace("₹", "").replace("Rs.", "").replace("Rs", "").strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_till_csv(
    data: bytes,
    file: str,
    day: date,
    prices: PriceList | None = None,
    known_ids: Mapping[str, date] | None = None,
) -> TillParseResult:
    """Validate one day's export. `known_ids` maps transaction ids already loaded for other days to that day,
    so an id reused across days is rejected with the day it first appeared on."""
    prices = prices or PriceList()
    known_ids = known_ids or {}
    rejects: list[dict] = []
    notes: list[str] = []
    if b"\x00" in data[:4096]:
        raise TillFileError(f"{file}: not a CSV file (binary content)")
    lines = _decode_lines(data, file, rejects)
    lines = [(n, text) for n, text in lines if text.strip()]
    if not lines:
        return TillParseResult(_empty(TRANSACTIONS.column_names), _frame(rejects, TRANSACTION_REJECTS), ["empty file"])

    header_number, header = lines[0]
    delimiter = _pick_delimiter(header)
    columns = [_normalise_header(h) for h in next(csv.reader([header], delimiter=delimiter))]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        if not set(columns) & set(KNOWN_COLUMNS):
            raise TillFileError(
                f"{file}: not a till CSV: header {header[:80]!r} names none of {', '.join(KNOWN_COLUMNS)}"
            )
        raise TillFileError(f"{file}: missing column(s) {', '.join(missing)} (header: {header[:120]!r})")
    extra = [c for c in columns if c not in KNOWN_COLUMNS]
    if extra:
        notes.append(f"ignored extra column(s): {', '.join(extra)}")
    if delimiter != ",":
        notes.append(f"delimiter {delimiter!r}")
    for col in OPTIONAL_COLUMNS:
        if col not in columns:
            notes.append(f"no {col} column: " + ("assumed Paid" if col == "payment_status" else "left blank"))

    seen: dict[str, int] = {}
    good: list[dict] = []
    for number, text in lines[1:]:
        fields = next(csv.reader([text], delimiter=delimiter))
        if len(fields) != len(columns):
            _reject(rejects, file, number, text, f"expected {len(columns)} fields, found {len(fields)}")
            continue
        row = {c: v.strip() for c, v in zip(columns, fields)}
        tid = row["transaction_id"]
        problem = _validate(row, day, prices)
        if problem is None and tid in seen:
            problem = f"duplicate transaction_id {tid} (first on line {seen[tid]})"
        if problem is None and tid in known_ids:
            problem = f"duplicate transaction_id {tid} (already loaded for {known_ids[tid]})"
        if problem:
            _reject(rejects, file, number, text, problem, tid)
            continue
        seen[tid] = number
        good.append(_clean(row, file, number))
    return TillParseResult(_frame(good, TRANSACTIONS), _frame(rejects, TRANSACTION_REJECTS), notes)


def _validate(row: dict, day: date, prices: PriceList) -> str | None:
    if not row["transaction_id"]:
        return "blank transaction_id"
    ts = parse_timestamp(row["timestamp"])
    if ts is None:
        return f"unparseable timestamp {row['timestamp']!r} (expected YYYY-MM-DD HH:MM:SS)"
    if ts.date() != day:
        return f"timestamp {row['timestamp']} is not on the file's day {day}"
    status = PAYMENT_STATUSES.get(row.get("payment_status", "paid").lower() or "paid")
    if status is None:
        return f"unknown payment_status {row['payment_status']!r} (expected Paid or Unpaid)"
    mode = row["payment_mode"].lower()
    if mode not in PAYMENT_MODES and not (status == "Unpaid" and mode in ("", "none", "-")):
        return f"unknown payment_mode {row['payment_mode']!r} (expected Cash, UPI or Coins)"
    litres = parse_can_size(row["can_size"])
    if litres is None or prices.price(litres) is None:
        return (
            f"unknown can_size {row['can_size']!r} (price list has {', '.join(f'{k}L' for k in prices.rupees_per_can)})"
        )
    count = _parse_number(row["number_of_cans"])
    if count is None or count != int(count):
        return f"number_of_cans {row['number_of_cans']!r} is not a whole number"
    if count <= 0:
        return f"number_of_cans {row['number_of_cans']} is not positive"
    amount = _parse_number(row["amount"])
    if amount is None:
        return f"amount {row['amount']!r} is not a number"
    unit_price = prices.price(litres)
    assert unit_price is not None  # checked above
    expected = unit_price * count
    if abs(amount - expected) > prices.tolerance and not (status == "Unpaid" and amount == 0):
        return f"amount {amount:g} disagrees with the price list ({int(count)} x {litres}L = {expected:g})"
    return None


def _clean(row: dict, file: str, number: int) -> dict:
    litres = parse_can_size(row["can_size"])
    cans = _parse_number(row["number_of_cans"])
    assert litres is not None and cans is not None, "only rows that passed validation are cleaned"
    count = int(cans)
    status = PAYMENT_STATUSES[(row.get("payment_status") or "paid").lower()]
    return {
        "transaction_id": row["transaction_id"],
        "timestamp": parse_timestamp(row["timestamp"]),
        "customer_id": row.get("customer_id") or None,
        "payment_mode": PAYMENT_MODES.get(row["payment_mode"].lower()),
        "can_size": f"{litres}L",
        "number_of_cans": count,
        "litres": count * litres,
        "amount": _parse_number(row["amount"]),
        "payment_status": status,
        "source_file": file,
        "line_number": number,
    }


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _frame(rows: list[dict], schema) -> pd.DataFrame:
    cols = [c for c in schema.column_names if c != "day"]
    return pd.DataFrame(rows, columns=cols) if rows else _empty(cols)


def read_till_file(
    path: Path, day: date, prices: PriceList | None = None, known_ids=None, display_name: str | None = None
) -> TillParseResult:
    """A missing file is an empty day (the shop was closed, or the till exported nothing)."""
    name = display_name or path.name
    if not path.exists():
        return TillParseResult(
            _empty(TRANSACTIONS.column_names), _frame([], TRANSACTION_REJECTS), [f"no file {name}: empty day"]
        )
    return parse_till_csv(path.read_bytes(), name, day, prices, known_ids)


def write_till_csv(rows: list[dict], path: Path) -> None:
    """The export format, for the demo generator and tests."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    path.write_text(buf.getvalue())
