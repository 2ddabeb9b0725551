"""One Dagster asset per file in dbt_like_sql/, with lineage and partition mappings read from the SQL."""

import hashlib
from pathlib import Path

import dagster as dg

from watershop_dagster.core.storage.sql_models import SqlModel, default_sql_folder, load_models
from watershop_dagster.defs.partitions import daily_partitions, partition_day
from watershop_dagster.defs.resources import WAREHOUSE_POOL, WarehouseResource


def _dep(model: SqlModel, ref) -> dg.AssetDep:
    if model.partitioned and ref.window_days > 1:
        # A rolling window reads the N days ending on the partition: make Dagster know it.
        return dg.AssetDep(
            ref.table, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-(ref.window_days - 1))
        )
    return dg.AssetDep(ref.table)


def build_sql_asset(model: SqlModel) -> dg.AssetsDefinition:
    @dg.asset(
        name=model.name,
        description=f"{model.description}\n\nSQL: dbt_like_sql/{model.path.name}",
        deps=[_dep(model, r) for r in model.refs],
        partitions_def=daily_partitions if model.partitioned else None,
        group_name="sql_aggregates",
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        code_version=hashlib.sha1(model.template.encode()).hexdigest()[:12],
        metadata={"sql_file": f"dbt_like_sql/{model.path.name}", "partitioned": "daily" if model.partitioned else "no"},
    )
    def _sql_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        wh = warehouse.get()
        if model.partitioned:
            day = partition_day(context)
            sql = model.render(day)
            rows = wh.replace_partition_from_sql(model.name, day, sql)
        else:
            sql = model.render()
            rows = wh.replace_table_from_sql(model.name, sql)
        preview = wh.query(
            f'SELECT * FROM "{model.name}"' + (" WHERE day = ?" if model.partitioned else "") + " LIMIT 10",
            [day] if model.partitioned else None,
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "sql": dg.MetadataValue.md(f"```sql\n{sql.strip()}\n```"),
                "preview": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "(no rows)"),
            }
        )

    return _sql_asset


def build_sql_assets(folder: Path | None = None) -> list[dg.AssetsDefinition]:
    return [build_sql_asset(m) for m in load_models(folder or default_sql_folder())]
