"""Till records -> `transactions` and `transaction_rejects`, one day at a time."""

import dagster as dg

from watershop_dagster.core.till.records import TillFileError, parse_till_csv, read_till_file
from watershop_dagster.defs.resources import ShopDataResource
from watershop_dagster.defs.warehouse_asset import Read, TableReader, Write, Written, warehouse_asset


@warehouse_asset(
    writes=[
        Write("transactions", "Validated till rows, one per sale."),
        Write("transaction_rejects", "Till rows that failed validation, with file, line and reason."),
    ],
    # A transaction id already loaded on an earlier day is a duplicate; a later day's run finds its own.
    reads=[Read.before("transactions")],
    group="till",
)
def till_records(context: dg.AssetExecutionContext, tables: TableReader, shop: ShopDataResource) -> Written:
    """Read data/transactions/<day>.csv, validate every row, and replace the day in both tables at once."""
    day, layout = tables.day, shop.layout_for(tables.shop)
    assert day is not None
    path = layout.transactions_file(day)
    name = layout.relative(path)
    try:
        first_pass = read_till_file(path, day, shop.prices, display_name=name)
        ids = list(first_pass.transactions["transaction_id"])
        earlier = tables.read(
            "transactions", "transaction_id, min(day) AS day", "transaction_id IN (SELECT unnest(?)) GROUP BY 1", [ids]
        )
        known = dict(zip(earlier["transaction_id"], earlier["day"], strict=True))
        result = parse_till_csv(path.read_bytes(), name, day, shop.prices, known) if known else first_pass
    except TillFileError as exc:
        # The whole file is unusable: fail this day only, and keep whatever was stored for it before.
        raise dg.Failure(description=str(exc), metadata={"file": name}) from exc

    for note in result.notes:
        context.log.info(f"{name}: {note}")
    for r in result.rejects.itertuples():
        context.log.warning(f"{r.source_file} line {r.line_number}: {r.reason}")
    tx, rejects = result.transactions, result.rejects
    return Written(
        rows={"transactions": tx, "transaction_rejects": rejects},
        metadata={
            "transactions": {
                "file": name,
                "billed_amount": float(tx["amount"].sum()) if len(tx) else 0.0,
                "unpaid": int((tx["payment_status"] == "Unpaid").sum()) if len(tx) else 0,
                "notes": "; ".join(result.notes) or "none",
            },
            "transaction_rejects": {
                "rejects": dg.MetadataValue.md(
                    rejects[["source_file", "line_number", "reason"]].to_markdown(index=False)
                    if len(rejects)
                    else "no rejected rows"
                ),
            },
        },
    )
