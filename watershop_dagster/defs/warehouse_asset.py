"""One declaration per asset: the tables it reads (and which days of them) and the tables it writes.

Everything Dagster needs follows from that declaration: the asset keys and their descriptions, the upstream
dependencies with their partition mappings, the inputs the body can load and the one
transaction that writes its outputs. The body never sees the warehouse itself, only a `TableReader` that
knows the declared reads. An undeclared read cannot happen: the reader's connection holds one view per
declared table, cut to the declared days, and nothing else (`USE memory`), so a query naming any other
table fails with DuckDB's own "table does not exist".

    @warehouse_asset(
        writes=[Write("face_tracks", "Faces of one person in consecutive frames ...")],
        reads=[Read.day("face_detections"), Read.day("face_embeddings")],
        group="vision",
    )
    def face_tracks(context, tables: TableReader) -> Written:
        detections = tables.read("face_detections")
        ...
        return Written({"face_tracks": table}, metadata={"face_tracks": {...}})
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import typing
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import dagster as dg
import duckdb
import pandas as pd

from watershop_dagster.core.storage.layout import MAIN_SHOP
from watershop_dagster.core.storage.named_sql import tables_named_in
from watershop_dagster.core.storage.schemas import SCHEMAS, Column, TableSchema
from watershop_dagster.core.storage.warehouse import CATALOG, Warehouse, sql_literal
from watershop_dagster.defs.checks import schema_check_spec, schema_checks
from watershop_dagster.defs.partitions import (
    daily_partitions,
    shop_day_partitions,
    shop_month_partitions,
    split_key,
)
from watershop_dagster.defs.resources import WarehouseResource

Scope = Literal["day", "window", "before", "all", "file"]


class UndeclaredTable(LookupError):
    """A body asked its reader for a table its declaration does not name."""


class MissingTable(LookupError):
    """A declared input was never written: its asset has not been materialized yet."""


@dataclass(frozen=True)
class Read:
    """A table an asset reads and which of its days:
    - `day`: the partition's own day (the default for a daily asset);
    - `window`: the `days` days ending on the partition (rolling aggregates);
    - `before`: every day before the partition (history: the registry as it stood, earlier links). Dagster
      is told the previous partition, which makes days run in order, and so every earlier day before it;
    - `all`: every row (cross-day assets, and tables without days).
    A read is cut to the run's shop, unless `chain` (a registry the chain's shops share)."""

    table: str
    scope: Scope = "day"
    days: int = 1
    chain: bool = False

    @classmethod
    def day(cls, table: str) -> Read:
        return cls(table, "day")

    @classmethod
    def window(cls, table: str, days: int) -> Read:
        return cls(table, "window", days) if days > 1 else cls(table, "day")

    @classmethod
    def before(cls, table: str, chain: bool = False) -> Read:
        return cls(table, "before", chain=chain)

    @classmethod
    def all(cls, table: str) -> Read:
        return cls(table, "all")

    @classmethod
    def files_of(cls, asset: str) -> Read:
        """Another asset's files (a report reads the charts' PNGs): a dependency, not a table."""
        return cls(asset, "file")

    def dep(self, downstream: dg.PartitionsDefinition | None) -> dg.AssetDep:
        """The Dagster dependency, with the partition mapping this scope means for an asset partitioned by
        `downstream` (day x shop upstream tables; Dagster's defaults cover the rest: a shop's all-days table
        reads every day of its shop, a chain-wide day every shop of that day)."""
        mapping: dg.PartitionMapping | None = None
        if downstream == shop_day_partitions and self.scope in ("window", "before"):
            offsets = (1 - self.days, 0) if self.scope == "window" else (-1, -1)
            day = dg.DimensionPartitionMapping("day", dg.TimeWindowPartitionMapping(*offsets))
            mapping = _every_shop(day) if self.chain else _per_shop(day)
        elif downstream == shop_month_partitions and self.scope in ("all", "window"):
            # A shop's month: the days of that month (the report's quarter-to-date reads earlier months too).
            mapping = _per_shop(dg.DimensionPartitionMapping("month", dg.TimeWindowPartitionMapping()))
        elif downstream == daily_partitions and self.scope == "window":
            mapping = dg.MultiToSingleDimensionPartitionMapping("day")
        return dg.AssetDep(self.table, partition_mapping=mapping)

    def rows_sql(self, day: date | None, shop: str | None, stored: set[str]) -> str:
        """The SELECT behind this read's view: the table cut to the declared days of the run's shop. A table
        written by an older version lacks the columns added since: they read as NULL until its next write
        adds them (and its rows from before shops existed are shop `main`'s)."""
        source = f'{CATALOG}.main."{self.table}"'
        schema = SCHEMAS.get(self.table)
        missing = [c for c in (schema.stored_columns if schema else ()) if c.name not in stored and c.name != "shop"]
        added = "".join(f', CAST(NULL AS {c.type}) AS "{c.name}"' for c in missing)
        conditions = []
        if shop is not None and not self.chain:
            shop_sql = sql_literal(shop)
            conditions.append(f"shop = {shop_sql}" if "shop" in stored else f"{shop_sql} = '{MAIN_SHOP}'")
        if day is not None and self.scope == "day":
            conditions.append(f"day = DATE '{day.isoformat()}'")
        elif day is not None and self.scope == "window":
            first = day - timedelta(days=self.days - 1)
            conditions.append(f"day BETWEEN DATE '{first.isoformat()}' AND DATE '{day.isoformat()}'")
        elif day is not None and self.scope == "before":
            conditions.append(f"day < DATE '{day.isoformat()}'")
        return f"SELECT *{added} FROM {source}" + (f" WHERE {' AND '.join(conditions)}" if conditions else "")

    @property
    def view(self) -> str:
        """The name the body queries: the table's own (one read per table and asset)."""
        return self.table


@dataclass(frozen=True)
class Write:
    """A table (or, with `table=False`, a file such as a report) the asset produces."""

    name: str
    description: str
    table: bool = True


@dataclass
class Written:
    """What a body hands back: rows per written table, and metadata per asset key."""

    rows: dict[str, pd.DataFrame] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, TableSchema] = field(default_factory=dict)  # for tables without a documented schema


def _per_shop(day_mapping: dg.DimensionPartitionMapping) -> dg.MultiPartitionMapping:
    """A day-dimension mapping within the same shop."""
    return _multi(day_mapping, dg.IdentityPartitionMapping())


def _every_shop(day_mapping: dg.DimensionPartitionMapping) -> dg.MultiPartitionMapping:
    """A day-dimension mapping across every shop of the chain."""
    return _multi(day_mapping, dg.AllPartitionMapping())


def _multi(day_mapping: dg.DimensionPartitionMapping, shops: dg.PartitionMapping) -> dg.MultiPartitionMapping:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # MultiPartitionMapping is beta; its behaviour is tested
        return dg.MultiPartitionMapping({"day": day_mapping, "shop": dg.DimensionPartitionMapping("shop", shops)})


class TableReader:
    """The declared reads of one asset run, and nothing else. Each call opens a short connection (a long
    analysis must not hold the warehouse file) in which every declared table is a view cut to its days."""

    def __init__(
        self, warehouse: Warehouse, reads: Sequence[Read], day: date | None, asset: str, shop: str | None = None
    ):
        self.warehouse, self.day, self.shop, self.asset = warehouse, day, shop, asset
        self.reads = {r.view: r for r in reads if r.scope != "file"}
        self.used: set[str] = set()  # declared tables the body's queries named (metadata; the lineage test)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A connection that sees the declared reads under their view names and no other table."""
        with self.warehouse.connect_to_read() as conn:
            stored = self.warehouse.stored_columns(conn)  # every table and view that exists, with its columns
            existing = set(stored)
            conn.execute("USE memory")
            for view, read in self.reads.items():
                rows = self._rows_sql(read, existing, stored.get(read.table, set()))
                conn.execute(f'CREATE OR REPLACE TEMP VIEW "{view}" AS {rows}')
            yield _RecordingConnection(conn, self)

    def read(self, table: str, columns: str = "*", where: str = "", params: list | None = None) -> pd.DataFrame:
        """A declared table's rows (its declared days), optionally some columns and a filter."""
        if table not in self.reads:
            raise UndeclaredTable(
                f"{self.asset} reads {table!r} but does not declare it (declared: {sorted(self.reads)})"
            )
        return self.sql(f'SELECT {columns} FROM "{table}"' + (f" WHERE {where}" if where else ""), params)

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        with self.connect() as conn:
            return conn.execute(query, params or []).df()

    def sql_with_schema(self, query: str, name: str) -> tuple[pd.DataFrame, TableSchema]:
        """Rows and the column types DuckDB gave them, so a write keeps INTEGER as INTEGER through pandas."""
        with self.connect() as conn:
            relation = conn.sql(query)
            columns = tuple(Column(c, str(t), "") for c, t in zip(relation.columns, relation.dtypes, strict=True))
            return relation.df(), TableSchema(name, "", columns)

    def _rows_sql(self, read: Read, existing: set[str], stored: set[str]) -> str:
        if read.table in existing:
            return read.rows_sql(self.day if read.scope != "all" else None, self.shop, stored)
        schema = SCHEMAS.get(read.table)
        if schema is None:
            raise MissingTable(
                f"{self.asset} reads table {read.table!r}, which does not exist yet: materialize {read.table} first"
            )
        # A documented table nobody has written yet (no footage ever, first day): empty, with its columns.
        columns = ", ".join(f'CAST(NULL AS {c.type}) AS "{c.name}"' for c in schema.stored_columns)
        return f"SELECT {columns} WHERE false"


class _RecordingConnection:
    """The scoped connection, noting which declared tables each query names (CTE names and functions such as
    unnest are not declared tables, so they drop out)."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, reader: TableReader):
        self._conn, self._reader = conn, reader

    def _note(self, query: str) -> None:
        self._reader.used |= {name for name in tables_named_in(query) if name in self._reader.reads}

    def execute(self, query: str, params: list | None = None) -> duckdb.DuckDBPyConnection:
        self._note(query)
        return self._conn.execute(query, params or [])

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        self._note(query)
        return self._conn.sql(query)


@dataclass(frozen=True)
class AssetDeclaration:
    """Reads and writes of one asset, kept on its definition so tests and docs can walk them."""

    reads: tuple[Read, ...]
    writes: tuple[Write, ...]
    partitioned: bool
    asset: str = ""  # the name of the Dagster (multi-)asset that declares them


DECLARATIONS: dict[str, AssetDeclaration] = {}  # by the name of each written table or file


def warehouse_asset(
    *,
    writes: Sequence[Write],
    reads: Sequence[Read] = (),
    group: str,
    partitions_def: dg.PartitionsDefinition | None = shop_day_partitions,
    kinds: set[str] | None = None,
    code_version: str | None = None,
    extra_metadata: dict[str, Any] | None = None,
    name: str | None = None,
) -> Callable[[Callable[..., Written]], dg.AssetsDefinition]:
    """Turn a body `(context, tables, **resources_and_config) -> Written` into a Dagster multi-asset whose
    keys, dependencies and write all come from `reads` and `writes`."""
    partitioned = partitions_def is not None
    written_tables = [w.name for w in writes if w.table]
    declaration = AssetDeclaration(tuple(reads), tuple(writes), partitioned)
    deps = [r.dep(partitions_def) for r in reads]
    specs = [
        dg.AssetSpec(
            w.name,
            description=w.description,
            group_name=group,
            kinds=kinds or ({"duckdb"} if w.table else None),
            deps=deps,
            code_version=code_version,
            metadata={
                "reads": ", ".join(f"{r.table} ({_scope_text(r)})" for r in reads) or "none",
                **(extra_metadata or {}),
            },
        )
        for w in writes
    ]

    checked = [SCHEMAS[t] for t in written_tables if t in SCHEMAS]

    def decorate(body: Callable[..., Written]) -> dg.AssetsDefinition:
        hints = typing.get_type_hints(body)
        extra = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(body).parameters.values()
            if p.name not in ("context", "tables", "warehouse")
        ]

        def run(context: dg.AssetExecutionContext, warehouse: WarehouseResource, **kwargs):
            day, shop = split_key(partitions_def, context.partition_key if partitioned else None)
            wh = warehouse.get()
            tables = TableReader(wh, reads, day, run.__name__, shop)
            result = body(context=context, tables=tables, **kwargs)
            _check_outputs(run.__name__, result, written_tables)
            # The rows a run replaces: its partition's (day and shop, a shop's, a day's), else the whole table.
            keys = {k: v for k, v in (("day", day), ("shop", shop)) if v is not None}
            counts: dict[str, int] = {}
            if result.rows and keys:
                counts = wh.replace_rows(keys, result.rows, result.schemas)
            elif result.rows:
                counts = {t: wh.replace_table(t, rows, result.schemas.get(t)) for t, rows in result.rows.items()}
            for w in writes:
                metadata = {"tables_read": ", ".join(sorted(tables.used)) or "none", **result.metadata.get(w.name, {})}
                if w.name in counts:
                    metadata.setdefault("dagster/row_count", counts[w.name])
                yield dg.MaterializeResult(asset_key=w.name, metadata=metadata)
            yield from schema_checks(wh, checked)

        # Dagster reads config and resources from the parameters: the body's own, plus the warehouse.
        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(
                    "context", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=dg.AssetExecutionContext
                ),
                inspect.Parameter("warehouse", inspect.Parameter.KEYWORD_ONLY, annotation=WarehouseResource),
                *extra,
            ]
        )
        run.__name__ = name or body.__name__
        run.__doc__ = body.__doc__
        definition = dg.multi_asset(
            name=name or body.__name__,
            specs=specs,
            check_specs=[schema_check_spec(schema) for schema in checked],
            partitions_def=partitions_def,
            # No Dagster pool: the warehouse lets one writer in at a time per connection (the DuckDB file's
            # gate) or takes many (DuckLake), so steps of several runs overlap and meet only at the writes.
            # A pool also made waiting steps spin: Dagster 1.13 polls a slot with no pause in between.
        )(run)
        for w in writes:
            DECLARATIONS[w.name] = dataclasses.replace(declaration, asset=run.__name__)
        return definition

    return decorate


def _check_outputs(asset: str, result: Written, declared: list[str]) -> None:
    missing, undeclared = set(declared) - set(result.rows), set(result.rows) - set(declared)
    if missing:
        raise ValueError(f"{asset} declared writes it did not produce: {sorted(missing)}")
    if undeclared:
        raise ValueError(f"{asset} produced tables it does not declare: {sorted(undeclared)}")


def _scope_text(read: Read) -> str:
    texts = {"day": "the day", "before": "days before", "all": "all days", "file": "its files"}
    return texts.get(read.scope, f"{read.days} days to the day")
