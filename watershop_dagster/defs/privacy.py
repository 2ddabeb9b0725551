"""Retention of biometric data, erasure on request and the warehouse's nightly upkeep, as Dagster definitions."""

from datetime import date

import dagster as dg
from pydantic import Field

from watershop_dagster.core.footage.faces import photo_gallery
from watershop_dagster.core.privacy.erasure import RetentionRules, apply_retention, forget_customer
from watershop_dagster.core.privacy.optout import ids_like_opted_out
from watershop_dagster.core.storage.layout import MAIN_SHOP
from watershop_dagster.core.storage.schemas import SCHEMAS
from watershop_dagster.defs.partitions import identities_shared, shop_partitions
from watershop_dagster.defs.resources import FaceEngineResource, ShopDataResource, WarehouseResource
from watershop_dagster.defs.vision import current_registry, face_engine
from watershop_dagster.defs.warehouse_asset import Read, TableReader, Write, Written, warehouse_asset

# Written by the forget job, read by the identity stage (a forgotten ID is never matched again).
forgotten_customers = dg.AssetSpec(
    "forgotten_customers",
    group_name="privacy",
    kinds={"duckdb"},
    description="Audit log of erasure requests (`watershop forget`); written by forget_customer_job.",
)


@warehouse_asset(
    writes=[Write("optout_matches", SCHEMAS["optout_matches"].description)],
    reads=[Read.all("customer_registry")],
    group="privacy",
    partitions_def=shop_partitions,
)
def optout_matches(
    context: dg.AssetExecutionContext, tables: TableReader, shop: ShopDataResource, faces: FaceEngineResource
) -> Written:
    """IDs that look like someone on the opt-out list: a photo added after they were enrolled acts on later
    days only. Listed for the owner to forget; nothing is erased here."""
    optout_dir = shop.layout_for(tables.shop).optout_dir
    has_photos = optout_dir.is_dir() and any(
        p.is_file() for d in optout_dir.iterdir() if d.is_dir() for p in d.iterdir()
    )
    # no opt-out photos, no face models to load
    gallery = photo_gallery(face_engine(faces), optout_dir) if has_photos else {}
    registry = current_registry(tables)  # each ID as it stands now; staff (by now) are not customers to list
    table = ids_like_opted_out(registry[~registry["is_staff"].astype(bool)], gallery)
    if len(table):
        context.log.warning(
            f"{len(table)} ID(s) look like people who opted out; forget them (watershop forget ID): "
            + ", ".join(f"{r.customer_id} ({r.optout_name})" for r in table.itertuples())
        )
    return Written(
        rows={"optout_matches": table},
        metadata={"optout_matches": {"ids": len(table), "opted_out_people": len(gallery)}},
    )


class RetentionConfig(dg.Config):
    crop_days: int = Field(default=RetentionRules.crop_days, description="delete face crops older than this many days")
    embedding_grace_days: int = Field(
        default=RetentionRules.embedding_grace_days,
        description=(
            "purge per-face embeddings this many days after their day (track means and registry centroids stay)"
        ),
    )
    footage_days: int = Field(
        default=RetentionRules.footage_days,
        description="delete raw footage older than this many days (0: keep it); such days cannot be re-analysed",
    )
    today: str = Field(default="", description="YYYY-MM-DD to measure age from; default: the real date")


@dg.asset(group_name="privacy", kinds={"duckdb"})
def biometric_retention(
    context: dg.AssetExecutionContext, config: RetentionConfig, shop: ShopDataResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Deletes face crops older than N days (default 7) and per-face embeddings after a grace period \
(default 2 days)."""
    today = date.fromisoformat(config.today) if config.today else date.today()
    rules = RetentionRules(config.crop_days, config.embedding_grace_days, config.footage_days)
    deleted, footage, purged = [], [], 0
    for name in shop.shops()[0] or ["main"]:
        result = apply_retention(warehouse.get(), shop.layout_for(name), today, rules)
        deleted += [f"{name}/{d}" for d in result.crop_folders_deleted]
        footage += [f"{name}/{d}" for d in result.footage_days_deleted]
        purged += result.embeddings_purged
    context.log.info(f"deleted crops of {len(deleted)} shop day(s); purged {purged} face embeddings")
    return dg.MaterializeResult(
        metadata={
            "crop_days_deleted": len(deleted),
            "embeddings_purged": purged,
            "days": ", ".join(deleted) or "none",
            "footage_days_deleted": ", ".join(footage) or "none",
        }
    )


class MaintenanceConfig(dg.Config):
    snapshots_kept_days: int = Field(
        default=7, description="DuckLake: expire snapshots older than this (time travel reaches this far back)"
    )
    deleted_files_kept_days: int = Field(
        default=1, description="DuckLake: delete files unused for this long (a running reader may still scan them)"
    )


@dg.asset(group_name="privacy", kinds={"duckdb"}, deps=[biometric_retention])
def warehouse_maintenance(
    context: dg.AssetExecutionContext, config: MaintenanceConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """After retention: on DuckLake, small files merged, old snapshots expired and the files only they used
    (every re-run of a day leaves its old ones) deleted; on the DuckDB file, a checkpoint."""
    wh = warehouse.get()
    done = wh.maintain(config.snapshots_kept_days, config.deleted_files_kept_days)
    context.log.info(f"warehouse maintenance ({'DuckLake' if wh.is_lake else 'DuckDB file'}): {done or 'checkpoint'}")
    return dg.MaterializeResult(metadata={"warehouse": "ducklake" if wh.is_lake else "duckdb file", **done})


retention_job = dg.define_asset_job(
    "retention_job",
    selection=[biometric_retention, warehouse_maintenance],
    description="Biometric retention, then the warehouse's upkeep; nightly.",
)
retention_schedule = dg.ScheduleDefinition(
    name="nightly_retention",
    job=retention_job,
    cron_schedule="15 23 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


class ForgetConfig(dg.Config):
    customer_id: str = Field(description="e.g. CUST_0042")
    requested_by: str = Field(description="who asked (recorded in the audit log)")
    reason: str = Field(default="", description="e.g. 'erasure request under DPDP s.12'")
    shop: str = Field(
        default="",
        description="the shop whose customer this is (each shop numbers its own customers); may be empty when "
        "there is one shop, or when the chain shares identities (WATERSHOP_SHARED_IDENTITIES: IDs are unique)",
    )


@dg.op
def erase_customer(
    context: dg.OpExecutionContext, config: ForgetConfig, warehouse: WarehouseResource, shop: ShopDataResource
) -> None:
    shops = shop.shops()[0] or [MAIN_SHOP]
    if config.shop and config.shop not in shops:
        raise dg.Failure(f"no shop {config.shop!r} (shops: {', '.join(shops)})")
    which = config.shop or (shops[0] if len(shops) == 1 else None)
    if which is None and not identities_shared():
        raise dg.Failure(
            f"{config.customer_id}: each shop numbers its own customers; name the shop (--shop): {', '.join(shops)}"
        )
    result = forget_customer(
        warehouse.get(),
        config.customer_id,
        config.requested_by,
        config.reason,
        data_dirs={name: shop.layout_for(name).root for name in shops},
        shop=which,
    )
    context.log.info(
        f"forgot {result.customer_id}: {result.embeddings_deleted} embeddings, {result.crops_deleted} crops, "
        f"{result.tracks} track means, {result.registry_rows} registry centroids erased; "
        f"{result.visits_kept} anonymous visits kept"
    )
    if result.footage:
        context.log.warning(
            "the raw footage still shows them (it is not cut; delete the files or let footage_days remove them): "
            + "; ".join(result.footage)
        )


@dg.job(
    description=(
        "Erase one person's biometric data everywhere; their anonymous counts stay. Audit: table forgotten_customers."
    )
)
def forget_customer_job():
    erase_customer()


def run_forget(defs: dg.Definitions, instance: dg.DagsterInstance, config: ForgetConfig) -> list[str]:
    """Runs forget_customer_job (a recorded run as well as an audit row) for `watershop forget` and the review
    page; the last line of each failed step's error, none when it succeeded."""
    from watershop_dagster.backfill import step_errors

    result = defs.resolve_job_def("forget_customer_job").execute_in_process(
        run_config={"ops": {"erase_customer": {"config": config.model_dump()}}},
        instance=instance,
        raise_on_error=False,
    )
    return [] if result.success else [m.splitlines()[-1] for _, m in step_errors(result)] or ["the forget run failed"]
