"""Asset checks: schemas as documented, ids unique, money reconciles, rejects visible."""

import dagster as dg

from watershop_dagster.core.storage.schemas import ALL_TABLES, TableSchema
from watershop_dagster.defs.resources import WarehouseResource

REJECT_SHARE_WARN = 0.05


def build_schema_check(schema: TableSchema) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=schema.name,
        name=f"{schema.name}_schema",
        description=f"{schema.name} has the documented columns and types",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.get().connect() as conn:
            actual = dict(
                conn.execute(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [schema.name]
                ).fetchall()
            )
        problems = [
            f"{c.name}: missing" if c.name not in actual else f"{c.name}: {actual[c.name]} (documented {c.type})"
            for c in schema.columns
            if actual.get(c.name) != c.type
        ]
        return dg.AssetCheckResult(
            passed=not problems, metadata={"problems": "; ".join(problems) or "none", "columns": len(actual)}
        )

    return _check


@dg.asset_check(
    asset="transactions", description="No transaction_id appears twice, within or across days", blocking=True
)
def transactions_unique_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    dupes = warehouse.get().query(
        "SELECT transaction_id, count(*) AS n, list(DISTINCT day ORDER BY day) AS days FROM transactions "
        "GROUP BY 1 HAVING count(*) > 1 LIMIT 20"
    )
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
    diff = warehouse.get().query(
        """
        WITH t AS (SELECT day, sum(amount) AS billed,
                          coalesce(sum(amount) FILTER (WHERE payment_status = 'Paid'), 0) AS paid
                   FROM transactions GROUP BY day)
        SELECT r.day, r.billed_amount, coalesce(t.billed, 0) AS transactions_billed, r.revenue,
               coalesce(t.paid, 0) AS transactions_paid
        FROM daily_revenue r LEFT JOIN t USING (day)
        WHERE abs(r.billed_amount - coalesce(t.billed, 0)) > 0.005 OR abs(r.revenue - coalesce(t.paid, 0)) > 0.005
        ORDER BY r.day
        """
    )
    totals = warehouse.get().query("SELECT count(*) AS days, coalesce(sum(revenue), 0) AS revenue FROM daily_revenue")
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
    per_day = warehouse.get().query(
        """
        WITH r AS (SELECT day, count(*) AS rejected FROM transaction_rejects GROUP BY day),
             t AS (SELECT day, count(*) AS loaded FROM transactions GROUP BY day)
        SELECT day, coalesce(loaded, 0) AS loaded, rejected,
               round(rejected / (coalesce(loaded, 0) + rejected), 3) AS share
        FROM r LEFT JOIN t USING (day) ORDER BY day
        """
    )
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


def build_checks(materialized_tables: set[str]) -> list[dg.AssetChecksDefinition]:
    schema_checks = [build_schema_check(s) for s in ALL_TABLES if s.name in materialized_tables]
    return schema_checks + [transactions_unique_ids, revenue_reconciles, rejects_counted]
