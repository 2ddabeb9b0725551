"""Asset checks: schemas as documented, ids unique, money reconciles, rejects visible.

The schema check of a table runs in the step that writes it (`schema_check_spec` on the writing asset,
`schema_checks` after its write): a check in a step of its own cost as much Dagster work as the write, and
there is one per table and day."""

from collections.abc import Sequence

import dagster as dg

from watershop_dagster.core.storage.named_sql import queries_beside
from watershop_dagster.core.storage.schemas import TableSchema
from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.defs.resources import WarehouseResource

QUERIES = queries_beside(__file__, "check_queries.sql")

REJECT_SHARE_WARN = 0.05


def schema_check_spec(schema: TableSchema) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        f"{schema.name}_schema", asset=schema.name, description=f"{schema.name} has the documented columns and types"
    )


def schema_checks(warehouse: Warehouse, schemas: Sequence[TableSchema]) -> list[dg.AssetCheckResult]:
    """Each table as stored against its documented columns and types (one connection for all of them)."""
    if not schemas:
        return []
    with warehouse.connect_to_read() as conn:
        stored = conn.execute(QUERIES["table_columns"], {"tables": [s.name for s in schemas]}).fetchall()
    return [_schema_result(schema, {c: t for table, c, t in stored if table == schema.name}) for schema in schemas]


def _schema_result(schema: TableSchema, actual: dict[str, str]) -> dg.AssetCheckResult:
    problems = [
        f"{c.name}: missing" if c.name not in actual else f"{c.name}: {actual[c.name]} (documented {c.type})"
        for c in schema.stored_columns
        if actual.get(c.name) != c.type
    ]
    return dg.AssetCheckResult(
        asset_key=schema.name,
        check_name=f"{schema.name}_schema",
        passed=not problems,
        metadata={"problems": "; ".join(problems) or "none", "columns": len(actual)},
    )


@dg.asset_check(
    asset="transactions", description="No transaction_id appears twice, within or across days", blocking=True
)
def transactions_unique_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    dupes = warehouse.get().query(QUERIES["duplicate_transaction_ids"])
    return dg.AssetCheckResult(
        passed=dupes.empty,
        metadata={
            "duplicates": len(dupes),
            "examples": dg.MetadataValue.md(dupes.to_markdown(index=False) if len(dupes) else "none"),
        },
    )


@dg.asset_check(
    asset="daily_revenue", description="Per day, daily_revenue equals the sum of that day's transaction amounts"
)
def revenue_reconciles(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    diff = warehouse.get().query(QUERIES["revenue_mismatches"])
    totals = warehouse.get().query(QUERIES["revenue_totals"])
    return dg.AssetCheckResult(
        passed=diff.empty,
        metadata={
            "days_checked": int(totals["days"][0]),
            "revenue_total": float(totals["revenue"][0]),
            "mismatched_days": dg.MetadataValue.md(diff.to_markdown(index=False) if len(diff) else "none"),
        },
    )


@dg.asset_check(
    asset="transaction_rejects",
    description=f"Rejected till rows per day; warns when a day rejects more than {REJECT_SHARE_WARN:.0%} of its rows",
)
def rejects_counted(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    per_day = warehouse.get().query(QUERIES["rejects_per_day"])
    bad = per_day[per_day["share"] > REJECT_SHARE_WARN]
    return dg.AssetCheckResult(
        passed=bad.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected_rows": int(per_day["rejected"].sum()) if len(per_day) else 0,
            "days_over_threshold": len(bad),
            "per_day": dg.MetadataValue.md(per_day.to_markdown(index=False) if len(per_day) else "no rejected rows"),
        },
    )


@dg.asset_check(
    asset="repeat_defaulters", description="Warns, naming them, when customers become repeat defaulters on the day"
)
def new_repeat_defaulters(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wh = warehouse.get()
    # a day x shop run is tagged with each dimension of its partition
    day = context.run.tags.get("dagster/partition/day") or str(wh.query(QUERIES["last_defaulter_day"])["d"][0])
    new = wh.query(QUERIES["new_repeat_defaulters"], {"day": day})
    if len(new):
        context.log.warning(
            f"new repeat defaulters on {day}: "
            + ", ".join(f"{r.customer_id} owes ₹{r.amount_owed:g}" for r in new.itertuples())
        )
    return dg.AssetCheckResult(
        passed=new.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "day": str(day),
            "new_defaulters": len(new),
            "who": dg.MetadataValue.md(new.to_markdown(index=False) if len(new) else "none"),
        },
    )


CHECKS = [transactions_unique_ids, revenue_reconciles, rejects_counted, new_repeat_defaulters]
