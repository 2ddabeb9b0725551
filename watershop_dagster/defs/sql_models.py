"""One Dagster asset per file in dbt_like_sql/, with lineage and partition mappings read from the SQL."""

import hashlib
from pathlib import Path

import dagster as dg
import pandas as pd

from watershop_dagster.core.storage.schemas import TableSchema
from watershop_dagster.core.storage.sql_models import SqlModel, default_sql_folder, load_models
from watershop_dagster.defs.partitions import shop_day_partitions, shop_partitions
from watershop_dagster.defs.warehouse_asset import Read, TableReader, Write, Written, warehouse_asset


def model_reads(model: SqlModel) -> list[Read]:
    """The model's refs are its declared reads: a window ref reads the days ending on the partition, a plain
    ref in a daily model reads the day, and a cross-day model reads every day."""
    return [Read.window(r.table, r.window_days) if model.partitioned else Read.all(r.table) for r in model.refs]


def model_rows(model: SqlModel, tables: TableReader) -> tuple[str, pd.DataFrame, TableSchema]:
    """The model's SQL for the run's day, and its rows and schema, read through the declared views."""
    sql = model.render(tables.day)
    rows, schema = tables.sql_with_schema(sql, model.name)
    return sql, rows, schema


def build_sql_asset(model: SqlModel) -> dg.AssetsDefinition:
    reads = model_reads(model)

    @warehouse_asset(
        writes=[Write(model.name, f"{model.description}\n\nSQL: dbt_like_sql/{model.path.name}")],
        reads=reads,
        group="sql_aggregates",
        partitions_def=shop_day_partitions if model.partitioned else shop_partitions,
        name=model.name,
        kinds={"duckdb", "sql"},
        code_version=hashlib.sha1(model.template.encode()).hexdigest()[:12],
        extra_metadata={"sql_file": f"dbt_like_sql/{model.path.name}"},
    )
    def sql_model(context: dg.AssetExecutionContext, tables: TableReader) -> Written:
        sql, rows, schema = model_rows(model, tables)
        preview = rows.head(10)
        return Written(
            rows={model.name: rows},
            schemas={model.name: schema},
            metadata={
                model.name: {
                    "sql": dg.MetadataValue.md(f"```sql\n{sql.strip()}\n```"),
                    "preview": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "(no rows)"),
                }
            },
        )

    return sql_model


def build_sql_assets(folder: Path | None = None) -> list[dg.AssetsDefinition]:
    return [build_sql_asset(m) for m in load_models(folder or default_sql_folder())]
