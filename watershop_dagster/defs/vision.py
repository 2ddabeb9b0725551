"""Footage -> frames -> faces -> tracks -> identities -> visits, one shop day per partition."""

import time

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from watershop_dagster.core.footage.analysis import SAMPLERS, OptOutList, analyse_day
from watershop_dagster.core.footage.faces import photo_gallery
from watershop_dagster.core.footage.manifest import manifest_frame, rows_from_manifest, scan_day
from watershop_dagster.core.footage.sampling import AnalysisGate
from watershop_dagster.core.footage.tracking import TrackingRules, build_tracks, tracks_frame
from watershop_dagster.core.identities.matching import (
    Assignment,
    IdentityRules,
    RegistryEntry,
    assign_identities,
    customer_number,
    updated_entry,
)
from watershop_dagster.core.identities.visits import VisitRules, build_visits
from watershop_dagster.defs.partitions import daily_partitions, partition_day
from watershop_dagster.defs.resources import WAREHOUSE_POOL, FaceEngineResource, ShopDataResource, WarehouseResource

VISION = "vision"


class FootageAnalysisConfig(dg.Config):
    sampler: str = Field(
        default="coarse_to_fine",
        description=(
            "coarse_to_fine: a keyframe every ~2 s where something changed, every sampled frame only where the faces "
            "change; keyframe: every sampled frame in spans with change; opencv: decode and measure every frame"
        ),
    )
    sample_fps: float = Field(
        default=2.0, description="frames per second taken from the video (2 keeps entry and exit within 0.5 s)"
    )
    motion_threshold: float = Field(
        default=0.003, description="share of changed pixels that makes a frame worth analysing"
    )
    still_interval_s: float = Field(
        default=1.0, description="analyse every this often while faces are present but still"
    )
    idle_interval_s: float = Field(default=10.0, description="analyse every this often in an empty, still room")
    save_crops: bool = Field(default=True, description="write a JPEG crop of every face for audit")


class IdentityConfig(dg.Config):
    match_threshold: float = IdentityRules.match_threshold
    cluster_threshold: float = IdentityRules.cluster_threshold
    staff_threshold: float = IdentityRules.staff_threshold
    min_usable_faces: int = IdentityRules.min_usable_faces
    visit_gap_s: float = VisitRules.max_gap_s


@dg.asset(partitions_def=daily_partitions, group_name=VISION, kinds={"duckdb"}, pool=WAREHOUSE_POOL)
def footage_manifest(
    context: dg.AssetExecutionContext, shop: ShopDataResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every file under data/footage/<day>/ with camera, start and end, fps, frames, resolution, status."""
    day, layout = partition_day(context), shop.layout
    rows = scan_day(layout.footage_day_dir(day), day, layout.root)
    for r in rows:
        if not r.ok:
            context.log.warning(r.error)
    table = manifest_frame(rows)
    warehouse.get().replace_partition("footage_manifest", day, table)
    ok = table[table["status"] == "ok"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "files_ok": len(ok),
            "files_failed": len(table) - len(ok),
            "video_minutes": round(float(((ok["end_time"] - ok["start_time"]).dt.total_seconds()).sum()) / 60, 1)
            if len(ok)
            else 0.0,
            "errors": dg.MetadataValue.md("\n".join(f"- {e}" for e in table["error"].dropna()) or "none"),
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "frames",
            deps=["footage_manifest"],
            group_name=VISION,
            kinds={"duckdb"},
            description="Sampled frames with motion score and whether they were analysed, for the files the manifest found usable.",
        ),
        dg.AssetSpec(
            "face_detections",
            deps=["footage_manifest"],
            group_name=VISION,
            kinds={"duckdb"},
            description="Faces found, usable or not, with box, landmarks, quality and an audit crop.",
        ),
        dg.AssetSpec(
            "face_embeddings",
            deps=["footage_manifest"],
            group_name=VISION,
            kinds={"duckdb"},
            description="One 512-d ArcFace vector per usable face.",
        ),
    ],
    partitions_def=daily_partitions,
    pool=WAREHOUSE_POOL,
)
def footage_analysis(
    context: dg.AssetExecutionContext,
    config: FootageAnalysisConfig,
    shop: ShopDataResource,
    warehouse: WarehouseResource,
    faces: FaceEngineResource,
):
    """One decode of each file feeds all three tables: decoding is the expensive part."""
    day, layout, wh = partition_day(context), shop.layout, warehouse.get()
    manifest = rows_from_manifest(wh.read_partition("footage_manifest", day), layout.root)
    engine = faces.engine()
    optout = OptOutList(
        np.concatenate(list(photo_gallery(engine, layout.optout_dir).values()) or [np.zeros((0, 512), np.float32)])
    )
    started = time.perf_counter()
    result = analyse_day(
        day,
        manifest,
        engine,
        layout.crops_dir(day) if config.save_crops else None,
        sampler_factory=lambda: SAMPLERS[config.sampler](config.sample_fps),
        gate_factory=lambda: AnalysisGate(config.motion_threshold, config.still_interval_s, config.idle_interval_s),
        optout=optout,
        progress=context.log.info,
    )
    wall = time.perf_counter() - started
    wh.replace_partitions(
        day, {"frames": result.frames, "face_detections": result.detections, "face_embeddings": result.embeddings}
    )
    for file, error in result.file_errors.items():
        context.log.warning(f"{file}: {error}")
    dets = result.detections
    yield dg.MaterializeResult(
        asset_key="frames",
        metadata={
            "dagster/row_count": len(result.frames),
            "analysed": int(result.frames["analysed"].sum()) if len(result.frames) else 0,
            "video_seconds": round(result.video_seconds, 1),
            "wall_seconds": round(wall, 2),
            "video_seconds_per_wall_second": round(result.video_seconds / max(wall, 1e-6), 2),
            "stage_seconds": dg.MetadataValue.json(result.times.as_dict()),
            "frames_decoded_share": round(
                sum(d["frames_decoded"] for d in result.sampler_detail.values())
                / max(1, sum(d["frames_read"] for d in result.sampler_detail.values())),
                4,
            ),
            "sampler": dg.MetadataValue.json(result.sampler_detail),
            "decode_problems": dg.MetadataValue.md(
                "\n".join(f"- {k}: {v}" for k, v in result.file_errors.items()) or "none"
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="face_detections",
        metadata={
            "dagster/row_count": len(dets),
            "usable": int(dets["usable"].sum()) if len(dets) else 0,
            "not_usable_by_reason": dg.MetadataValue.json(
                {str(k): int(v) for k, v in dets["reject_reason"].value_counts().items()}
            ),
        },
    )
    yield dg.MaterializeResult(asset_key="face_embeddings", metadata={"dagster/row_count": len(result.embeddings)})


@dg.asset(
    partitions_def=daily_partitions,
    group_name=VISION,
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["face_detections", "face_embeddings"],
)
def face_tracks(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Faces of one person in consecutive frames joined into tracks, each with a quality-weighted mean embedding."""
    day, wh = partition_day(context), warehouse.get()
    detections = wh.read_partition("face_detections", day)
    embeddings = wh.read_partition("face_embeddings", day, "detection_id, embedding")
    vectors = {d: np.asarray(e, np.float32) for d, e in zip(embeddings["detection_id"], embeddings["embedding"])}
    table = tracks_frame(day, build_tracks(detections, vectors, TrackingRules()))
    wh.replace_partition("face_tracks", day, table)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "identifiable": int((table["usable_faces"] >= IdentityRules.min_usable_faces).sum()) if len(table) else 0,
            "median_faces_per_track": float(table["faces"].median()) if len(table) else 0.0,
        }
    )


def registry_before(wh, day) -> tuple[list[RegistryEntry], int, set[str]]:
    """The registry as it stood after the previous day, the next free customer number, forgotten IDs."""
    with wh.connect() as conn:
        forgotten = set()
        if wh.table_exists(conn, "forgotten_customers"):
            forgotten = {r[0] for r in conn.execute("SELECT customer_id FROM forgotten_customers").fetchall()}
        if not wh.table_exists(conn, "customer_registry"):
            return [], 1 + max((customer_number(c) for c in forgotten), default=0), forgotten
        rows = conn.execute(
            """SELECT * FROM customer_registry WHERE day < ?
               QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY day DESC) = 1""",
            [day],
        ).df()
    entries = [
        RegistryEntry(
            r.customer_id,
            np.asarray(r.centroid, np.float32),
            float(r.weight),
            bool(r.is_staff),
            r.first_seen,
            int(r.visit_count),
            r.best_crop_path,
        )
        for r in rows.itertuples()
        if r.customer_id not in forgotten and r.centroid is not None
    ]
    used = [customer_number(c) for c in list(rows["customer_id"]) + list(forgotten)]
    return entries, 1 + max(used, default=0), forgotten


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "customer_registry",
            group_name=VISION,
            kinds={"duckdb"},
            description="Persistent anonymous identities (CUST_0001...). Day N is matched against the registry after day N-1.",
            deps=[
                "face_tracks",
                dg.AssetDep(
                    "customer_registry", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
                ),
            ],
        ),
        dg.AssetSpec(
            "track_identities",
            group_name=VISION,
            kinds={"duckdb"},
            deps=["face_tracks"],
            description="Which identity each face track was given, with the match similarity.",
        ),
    ],
    partitions_def=daily_partitions,
    pool=WAREHOUSE_POOL,
)
def customer_registry(
    context: dg.AssetExecutionContext,
    config: IdentityConfig,
    shop: ShopDataResource,
    warehouse: WarehouseResource,
    faces: FaceEngineResource,
):
    day, wh = partition_day(context), warehouse.get()
    rules = IdentityRules(
        config.match_threshold, config.cluster_threshold, config.staff_threshold, config.min_usable_faces
    )
    tracks = wh.read_partition("face_tracks", day)
    registry, next_number, forgotten = registry_before(wh, day)
    staff = (
        {f"STAFF_{name}": embs for name, embs in photo_gallery(faces.engine(), shop.layout.staff_dir).items()}
        if len(tracks)
        else {}
    )
    result = assign_identities(tracks, registry, staff, next_number, rules, forgotten)
    visits = build_visits(day, tracks, result.assignments, VisitRules(config.visit_gap_s))
    visits_per_id = visits["customer_id"].value_counts().to_dict() if len(visits) else {}
    previous = {e.customer_id: e for e in registry}
    rows = []
    for cid, (mean, weight, crop) in result.day_centroids.items():
        is_staff = cid.startswith("STAFF_")
        e = updated_entry(
            previous.get(cid), cid, day, mean, weight, int(visits_per_id.get(cid, 0)), is_staff, crop, rules
        )
        rows.append(
            {
                "customer_id": cid,
                "is_staff": is_staff,
                "is_new": cid not in previous,
                "first_seen": e.first_seen,
                "last_seen": day,
                "visit_count": e.visit_count,
                "visits_today": int(visits_per_id.get(cid, 0)),
                "weight": e.weight,
                "centroid": e.centroid.tolist(),
                "best_crop_path": e.best_crop_path,
            }
        )
    table = pd.DataFrame(
        rows,
        columns=list((
                "customer_id",
                "is_staff",
                "is_new",
                "first_seen",
                "last_seen",
                "visit_count",
                "visits_today",
                "weight",
                "centroid",
                "best_crop_path",
            )),
    )
    links = pd.DataFrame(
        [
            {"track_id": t, "customer_id": a.customer_id, "similarity": a.similarity, "is_staff": a.is_staff}
            for t, a in result.assignments.items()
        ],
        columns=["track_id", "customer_id", "similarity", "is_staff"],
    )
    wh.replace_partitions(day, {"customer_registry": table, "track_identities": links})
    wh.execute("""CREATE OR REPLACE VIEW customer_registry_current AS
                  SELECT * FROM customer_registry
                  QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY day DESC) = 1""")
    customers = table[~table["is_staff"]] if len(table) else table
    yield dg.MaterializeResult(
        asset_key="customer_registry",
        metadata={
            "dagster/row_count": len(table),
            "customers_seen": len(customers),
            "new_customers": len(result.new_ids),
            "returning_customers": int((~customers["is_new"]).sum()) if len(customers) else 0,
            "staff_seen": int(table["is_staff"].sum()) if len(table) else 0,
            "registry_size_before": len(registry),
            "unidentified_tracks": result.unidentified_tracks,
        },
    )
    yield dg.MaterializeResult(asset_key="track_identities", metadata={"dagster/row_count": len(links)})


@dg.asset(
    partitions_def=daily_partitions,
    group_name=VISION,
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["face_tracks", "track_identities"],
)
def visit_log(
    context: dg.AssetExecutionContext, config: IdentityConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """A person's continuous presence in the shop, with entry and exit, duration and best crop."""
    day, wh = partition_day(context), warehouse.get()
    tracks = wh.read_partition("face_tracks", day)
    links = wh.read_partition("track_identities", day)
    assignments = {
        r.track_id: Assignment(r.customer_id, None if pd.isna(r.similarity) else float(r.similarity), bool(r.is_staff))
        for r in links.itertuples()
    }
    visits = build_visits(day, tracks, assignments, VisitRules(config.visit_gap_s))
    wh.replace_partition("visit_log", day, visits)
    customers = visits[~visits["is_staff"].astype(bool)] if len(visits) else visits
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(visits),
            "customer_visits": len(customers),
            "distinct_customers": int(customers["customer_id"].nunique()) if len(customers) else 0,
            "median_duration_s": float(customers["duration_seconds"].median()) if len(customers) else 0.0,
        }
    )


vision_assets = [footage_manifest, footage_analysis, face_tracks, customer_registry, visit_log]
