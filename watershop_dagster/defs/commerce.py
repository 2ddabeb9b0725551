"""Till records -> `transactions` and `transaction_rejects`, one day at a time."""

import dagster as dg

from watershop_dagster.core.till.records import TillFileError, parse_till_csv, read_till_file
from watershop_dagster.defs.partitions import daily_partitions, partition_day
from watershop_dagster.defs.resources import WAREHOUSE_POOL, ShopDataResource, WarehouseResource


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "transactions", description="Validated till rows, one per sale.", group_name="till", kinds={"duckdb"}
        ),
        dg.AssetSpec(
            "transaction_rejects",
            description="Till rows that failed validation, with file, line and reason.",
            group_name="till",
            kinds={"duckdb"},
        ),
    ],
    partitions_def=daily_partitions,
    pool=WAREHOUSE_POOL,
)
def till_records(context: dg.AssetExecutionContext, shop: ShopDataResource, warehouse: WarehouseResource):
    """Read data/transactions/<day>.csv, validate every row, and replace the day in both tables at once."""
    day, wh, layout = partition_day(context), warehouse.get(), shop.layout
    path = layout.transactions_file(day)
    name = layout.relative(path)
    try:
        first_pass = read_till_file(path, day, shop.prices, display_name=name)
        known = _ids_loaded_on_other_days(wh, day, list(first_pass.transactions["transaction_id"]))
        result = parse_till_csv(path.read_bytes(), name, day, shop.prices, known) if known else first_pass
    except TillFileError as exc:
        # The whole file is unusable: fail this day only, and keep whatever was stored for it before.
        raise dg.Failure(description=str(exc), metadata={"file": name}) from exc
    wh.replace_partitions(day, {"transactions": result.transactions, "transaction_rejects": result.rejects})

    for note in result.notes:
        context.log.info(f"{name}: {note}")
    for r in result.rejects.itertuples():
        context.log.warning(f"{r.source_file} line {r.line_number}: {r.reason}")
    tx = result.transactions
    yield dg.MaterializeResult(
        asset_key="transactions",
        metadata={
            "dagster/row_count": len(tx),
            "file": name,
            "billed_amount": float(tx["amount"].sum()) if len(tx) else 0.0,
            "unpaid": int((tx["payment_status"] == "Unpaid").sum()) if len(tx) else 0,
            "notes": "; ".join(result.notes) or "none",
        },
    )
    yield dg.MaterializeResult(
        asset_key="transaction_rejects",
        metadata={
            "dagster/row_count": len(result.rejects),
            "rejects": dg.MetadataValue.md(
                result.rejects[["source_file", "line_number", "reason"]].to_markdown(index=False)
                if len(result.rejects)
                else "no rejected rows"
            ),
        },
    )


def _ids_loaded_on_other_days(wh, day, ids: list[str]) -> dict:
    if not ids:
        return {}
    with wh.connect() as conn:
        if not wh.table_exists(conn, "transactions"):
            return {}
        rows = conn.execute(
            "SELECT transaction_id, min(day) FROM transactions WHERE day <> ? AND transaction_id IN (SELECT unnest(?)) GROUP BY 1",
            [day, ids],
        ).fetchall()
    return dict(rows)
