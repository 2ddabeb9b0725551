"""Footage -> frames -> faces -> tracks -> identities and visits, one shop day per partition."""

import dataclasses
import time
import warnings

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from watershop_dagster.core.footage.analysis import OptOutList, analyse_day
from watershop_dagster.core.footage.body_tracks import (
    PersonRules,
    build_person_tracks,
    person_detections_frame,
    person_tracks_from_rows,
)
from watershop_dagster.core.footage.coarse_to_fine import CoarseToFineSampler
from watershop_dagster.core.footage.evidence import MIN_TRACK_EVIDENCE, track_evidence
from watershop_dagster.core.footage.evidence import identifiable as identifiable_tracks
from watershop_dagster.core.footage.faces import FaceEngine, photo_gallery
from watershop_dagster.core.footage.faces_on_bodies import (
    face_tracks_from_tables,
    frame_assignments,
    join_faces_to_persons,
    own_spans,
    person_tracks_frame,
)
from watershop_dagster.core.footage.manifest import covered_seconds, manifest_frame, rows_from_manifest, scan_day
from watershop_dagster.core.footage.persons import PersonDetector
from watershop_dagster.core.footage.sampling import DenseSampler, FrameSource
from watershop_dagster.core.footage.tracking import TrackingRules, build_tracks, tracks_frame
from watershop_dagster.core.identities.bodies import (
    extend_by_bodies,
    unidentified_visits,
    with_faceless_visits,
    with_looks,
)
from watershop_dagster.core.identities.corrections import CorrectionLog, cannot_link_pairs, constraints_for_day
from watershop_dagster.core.identities.matching import (
    Assignment,
    IdentityRules,
    RegistryEntry,
    assign_identities,
    customer_number,
)
from watershop_dagster.core.identities.registry import registry_rows
from watershop_dagster.core.identities.staff import (
    StaffRules,
    bodies_of_staff,
    camera_recordings,
    closing_up_with_staff,
    occupied_recordings,
    post_of,
    post_rows,
    remembered_posts,
    staff_by_post,
    staff_by_presence,
    staff_gallery,
    staff_posts,
    walks_in_and_out,
    where_staff_stood,
    with_staff_reasons,
)
from watershop_dagster.core.identities.suggestions import suggest_merges, till_accounts
from watershop_dagster.core.identities.visits import VisitRules, build_visits
from watershop_dagster.core.privacy.erasure import ErasedFaces, footage_deleted_days
from watershop_dagster.core.privacy.optout import opted_out_face_tracks
from watershop_dagster.core.storage.schemas import SCHEMAS
from watershop_dagster.defs.partitions import identities_shared, shop_partitions
from watershop_dagster.defs.resources import FaceEngineResource, ShopDataResource
from watershop_dagster.defs.warehouse_asset import Read, TableReader, Write, Written, warehouse_asset

VISION = "vision"
_SAMPLER = CoarseToFineSampler()


_ENGINES: dict[tuple, FaceEngine] = {}


def face_engine(faces: FaceEngineResource) -> FaceEngine:
    """The face models, loaded once per process for the same settings: footage_analysis and identities
    both need them, and loading them (two ONNX sessions) cost about a second of every day's fixed cost."""
    key = (
        faces.model_dir,
        faces.det_size,
        faces.det_min_scale,
        faces.det_threshold,
        faces.min_face_px,
        faces.min_sharpness,
        faces.threads,
    )
    if key not in _ENGINES:
        _ENGINES[key] = faces.engine()
    return _ENGINES[key]


def _described(table: str) -> Write:
    return Write(table, SCHEMAS[table].description)


class FootageAnalysisConfig(dg.Config):
    """The settings of the coarse-to-fine sampler (core/footage/coarse_to_fine.py), all of which act."""

    sample_fps: float = Field(
        default=_SAMPLER.sample_fps, description="the fine grid around entries and exits (2 keeps them within 0.5 s)"
    )
    coarse_interval_s: float = Field(
        default=_SAMPLER.coarse_interval_s, description="seconds between keyframes looked at while something moves"
    )
    steady_interval_s: float = Field(
        default=_SAMPLER.steady_interval_s, description="... while someone waits and nothing changes"
    )
    probe_interval_s: float = Field(default=_SAMPLER.probe_interval_s, description="... in an empty, still room")
    change_threshold: float = Field(
        default=_SAMPLER.change_threshold, description="share of the picture that must differ to analyse a look"
    )
    max_keyframe_gap_s: float = Field(
        default=_SAMPLER.max_keyframe_gap_s,
        description="files with keyframes further apart are sampled group of pictures by group (long GOPs)",
    )
    save_crops: bool = Field(default=True, description="write a JPEG crop of every face for audit")
    detect_persons: bool = Field(
        default=True, description="find bodies (YOLOX-Nano) in the analysed frames: visits of people without a face"
    )
    dense_reference: bool = Field(
        default=False,
        description="decode every frame and analyse every frame of the sample_fps grid (the reference the default "
        "sampler is measured against; many times slower)",
    )

    def sampler(self, decoder_threads: int = _SAMPLER.decoder_threads) -> FrameSource:
        """The configured sampler, its decoder on `decoder_threads` (the dense reference decodes on PyAV's
        defaults)."""
        if self.dense_reference:
            return DenseSampler(self.sample_fps, analyse_every=True)
        return CoarseToFineSampler(
            decoder_threads=decoder_threads,
            sample_fps=self.sample_fps,
            coarse_interval_s=self.coarse_interval_s,
            steady_interval_s=self.steady_interval_s,
            probe_interval_s=self.probe_interval_s,
            change_threshold=self.change_threshold,
            max_keyframe_gap_s=self.max_keyframe_gap_s,
        )


class IdentityConfig(dg.Config):
    match_threshold: float = Field(default=IdentityRules.match_threshold, description="day cluster vs registry ID")
    cluster_threshold: float = Field(
        default=IdentityRules.cluster_threshold, description="joins tracks of one day into one person"
    )
    staff_threshold: float = Field(default=IdentityRules.staff_threshold, description="day cluster vs staff photos")
    min_usable_faces: int = Field(
        default=IdentityRules.min_usable_faces, description="a track with fewer embedded faces is not identified"
    )
    weak_match_threshold: float = Field(
        default=IdentityRules.weak_match_threshold,
        description="a track under the evidence bar confirms a known customer at least this alike (never makes one)",
    )
    single_face_match_threshold: float = Field(
        default=IdentityRules.single_face_match_threshold,
        description="a track of fewer than min_usable_faces faces confirms a known customer at least this alike",
    )
    mutual_match_threshold: float = Field(
        default=IdentityRules.mutual_match_threshold,
        description="a new ID this alike to a customer not seen today takes their ID when each is the other's most "
        "alike (a person split across days; over 1: off)",
    )
    standout_match_threshold: float = Field(
        default=IdentityRules.standout_match_threshold,
        description="...or at least this alike, when the pair stands out from each one's next most alike by "
        "standout_margin (over 1: off)",
    )
    standout_margin: float = Field(
        default=IdentityRules.standout_margin,
        description="how far a split pair under mutual_match_threshold must stand out from each one's next most alike",
    )
    visit_gap_s: float = Field(default=VisitRules.max_gap_s, description="a longer absence starts a new visit")
    staff_max_share: float = Field(
        default=StaffRules.max_customer_share,
        description="an identity present for more than this share of the day's footage is staff, not a customer",
    )
    same_clothes_min_similarity: float = Field(
        default=IdentityRules.same_clothes_min_similarity,
        description="back the same day in the same clothes: faces this alike keep that day's earlier ID (over 1: off)",
    )
    same_clothes_max_colour: float = Field(
        default=IdentityRules.same_clothes_max_colour,
        description="...when their clothes are at most this far apart in colour (CIELAB a*b*)",
    )
    same_clothes_max_lightness: float = Field(
        default=IdentityRules.same_clothes_max_lightness,
        description="...and in lightness (CIELAB L*, 0-255): a light grey shirt is not a dark grey one",
    )

    def rules(self) -> IdentityRules:
        return IdentityRules(
            self.match_threshold,
            self.cluster_threshold,
            self.staff_threshold,
            self.min_usable_faces,
            same_clothes_min_similarity=self.same_clothes_min_similarity,
            same_clothes_max_colour=self.same_clothes_max_colour,
            same_clothes_max_lightness=self.same_clothes_max_lightness,
            weak_match_threshold=self.weak_match_threshold,
            single_face_match_threshold=self.single_face_match_threshold,
            mutual_match_threshold=self.mutual_match_threshold,
            standout_match_threshold=self.standout_match_threshold,
            standout_margin=self.standout_margin,
        )


@warehouse_asset(writes=[_described("footage_manifest")], group=VISION)
def footage_manifest(context: dg.AssetExecutionContext, tables: TableReader, shop: ShopDataResource) -> Written:
    """Every file under data/footage/<day>/ with camera, start and end, fps, frames, resolution, status."""
    day, layout = tables.day, shop.layout_for(tables.shop)
    assert day is not None
    if day.isoformat() in footage_deleted_days(layout.root):
        # Re-analysing would find no footage and empty every table of the day: refuse, keep what was found.
        raise dg.Failure(f"the footage of {day} was deleted by retention (footage_days): the day cannot be re-analysed")
    rows = scan_day(layout.footage_day_dir(day), day, layout.root)
    for r in rows:
        if not r.ok:
            context.log.warning(r.error)
    table = manifest_frame(rows)
    ok = table[table["status"] == "ok"]
    minutes = float((ok["end_time"] - ok["start_time"]).dt.total_seconds().sum()) / 60 if len(ok) else 0.0
    return Written(
        rows={"footage_manifest": table},
        metadata={
            "footage_manifest": {
                "files_ok": len(ok),
                "files_failed": int((table["status"] == "error").sum()),
                "files_duplicate": int((table["status"] == "duplicate").sum()),
                "video_minutes": round(minutes, 1),
                "errors": dg.MetadataValue.md("\n".join(f"- {e}" for e in table["error"].dropna()) or "none"),
            }
        },
    )


@warehouse_asset(
    writes=[
        _described("frames"),
        _described("face_detections"),
        _described("face_embeddings"),
        _described("person_detections"),
    ],
    reads=[Read.day("footage_manifest")],
    group=VISION,
)
def footage_analysis(
    context: dg.AssetExecutionContext,
    tables: TableReader,
    config: FootageAnalysisConfig,
    shop: ShopDataResource,
    faces: FaceEngineResource,
) -> Written:
    """One decode of each file feeds all three tables: decoding is the expensive part."""
    day, layout = tables.day, shop.layout_for(tables.shop)
    assert day is not None
    manifest = rows_from_manifest(tables.read("footage_manifest"), layout.root)
    engine = face_engine(faces)
    optout_faces = list(photo_gallery(engine, layout.optout_dir).values())
    optout = OptOutList(np.concatenate(optout_faces) if optout_faces else None)
    # A backfill worker's share of the cores (faces.threads) bounds its decoder's threads as it bounds its models'.
    decoder_threads = min(faces.threads, _SAMPLER.decoder_threads) if faces.threads else _SAMPLER.decoder_threads
    started = time.perf_counter()
    result = analyse_day(
        day,
        manifest,
        engine,
        layout.crops_dir(day) if config.save_crops else None,
        sampler_factory=lambda: config.sampler(decoder_threads),
        optout=optout,
        progress=context.log.info,
        persons=PersonDetector.default() if config.detect_persons else None,
        erased=ErasedFaces.load(layout.root),
    )
    wall = time.perf_counter() - started
    person_tracks = [
        track
        for camera, by_time in sorted(result.persons.items())
        for track in build_person_tracks(by_time, PersonRules(), camera, f"{day.isoformat()}/{camera}/")
    ]
    bodies = person_detections_frame(person_tracks)
    for file, error in result.file_errors.items():
        context.log.warning(f"{file}: {error}")
    dets, detail = result.detections, result.sampler_detail.values()
    decoded = sum(d["frames_decoded"] for d in detail) / max(1, sum(d["frames_read"] for d in detail))
    return Written(
        rows={
            "frames": result.frames,
            "face_detections": dets,
            "face_embeddings": result.embeddings,
            "person_detections": bodies,
        },
        metadata={
            "frames": {
                "analysed": int(result.frames["analysed"].sum()) if len(result.frames) else 0,
                "video_seconds": round(result.video_seconds, 1),
                "wall_seconds": round(wall, 2),
                "video_seconds_per_wall_second": round(result.video_seconds / max(wall, 1e-6), 2),
                "stage_seconds": dg.MetadataValue.json(result.times.as_dict()),
                "frames_decoded_share": round(decoded, 4),
                "sampler": dg.MetadataValue.json(result.sampler_detail),
                "decode_problems": dg.MetadataValue.md(
                    "\n".join(f"- {k}: {v}" for k, v in result.file_errors.items()) or "none"
                ),
            },
            "person_detections": {
                "boxes": len(bodies),
                "person_tracks": len(person_tracks),
                "detector_seconds": round(result.times.persons, 2),
                "ms_per_analysed_frame": round(
                    1000 * result.times.persons / max(1, sum(len(v) for v in result.persons.values())), 1
                ),
            },
            "face_detections": {
                "usable": int(dets["usable"].sum()) if len(dets) else 0,
                "not_usable_by_reason": dg.MetadataValue.json(
                    {str(k): int(v) for k, v in dets["reject_reason"].value_counts().items()}
                ),
            },
        },
    )


@warehouse_asset(
    writes=[_described("face_tracks"), _described("person_tracks")],
    reads=[Read.day("face_detections"), Read.day("face_embeddings"), Read.day("person_detections")],
    group=VISION,
)
def face_tracks(context: dg.AssetExecutionContext, tables: TableReader) -> Written:
    """Faces of one person in consecutive frames joined into tracks, each with a quality-weighted mean embedding."""
    assert tables.day is not None
    detections = tables.read("face_detections")
    embeddings = tables.read("face_embeddings", "detection_id, embedding")
    vectors = {
        d: np.asarray(e, np.float32) for d, e in zip(embeddings["detection_id"], embeddings["embedding"], strict=True)
    }
    table = tracks_frame(tables.day, build_tracks(detections, vectors, TrackingRules()))
    table["evidence"] = track_evidence(table, detections, vectors)
    bodies = person_tracks_from_rows(tables.read("person_detections"))
    faces_of_tracks = face_tracks_from_tables(table, detections)
    held = frame_assignments(bodies, faces_of_tracks, PersonRules())  # which body held each face, frame by frame
    joined = join_faces_to_persons(bodies, faces_of_tracks, PersonRules(), held)
    opted_out = table["track_id"].isin(opted_out_face_tracks(table, detections, joined))  # identify nobody
    table["embedding"] = table["embedding"].astype(object).where(~opted_out, None)
    table.loc[opted_out, "evidence"] = 0.0
    table.loc[opted_out, "best_crop_path"] = None
    spans = own_spans(bodies, joined, faces_of_tracks, PersonRules(), held)
    table["body_first_time"], table["body_last_time"] = (
        [spans.get(t, (None, None))[i] for t in table["track_id"]] for i in (0, 1)
    )
    enough = (table["usable_faces"] >= IdentityRules.min_usable_faces) & (table["evidence"] >= MIN_TRACK_EVIDENCE)
    face_ids = set(table.loc[enough, "track_id"]) if len(table) else set()
    people = person_tracks_frame(tables.day, bodies, joined, PersonRules(), faces_of_tracks, face_ids, held)
    identifiable = len(face_ids)
    return Written(
        rows={"face_tracks": table, "person_tracks": people},
        metadata={
            "person_tracks": {
                "tracks": len(people),
                "with_a_face": int(people["face_track_ids"].map(len).gt(0).sum()) if len(people) else 0,
                "face_tracks_joined": len(joined),
            },
            "face_tracks": {
                "identifiable": identifiable,
                "median_faces_per_track": float(table["faces"].median()) if len(table) else 0.0,
            },
        },
    )


def staff_centroids(tables: TableReader, forgotten: set[str]) -> list[tuple[str, np.ndarray]]:
    """Every stored day's centroid of every staff ID (the staff gallery grows from these)."""
    rows = tables.sql(
        "SELECT customer_id, centroid FROM customer_registry WHERE is_staff AND centroid IS NOT NULL "
        "ORDER BY day, customer_id"
    )
    return [
        (str(c), np.asarray(v, np.float32))
        for c, v in zip(rows["customer_id"], rows["centroid"], strict=True)
        if c not in forgotten
    ]


def registry_before(tables: TableReader) -> tuple[list[RegistryEntry], int, set[str]]:
    """The registry as it stood after the previous day, the next free customer number, forgotten IDs."""
    forgotten = set(tables.read("forgotten_customers", "customer_id")["customer_id"])
    rows = tables.sql(
        "SELECT * FROM customer_registry QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY day DESC"
        + (", shop" if identities_shared() else "")  # one customer seen in two shops on the same day
        + ") = 1"
    )
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
    minted = tables.sql("SELECT DISTINCT minted_id FROM identity_evidence WHERE minted_id IS NOT NULL")
    used = [customer_number(c) for c in list(rows["customer_id"]) + list(forgotten) + list(minted["minted_id"])]
    return entries, 1 + max(used, default=0), forgotten


def _observable_source_asset(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.observable_source_asset(**kwargs)


@_observable_source_asset(
    group_name=VISION,
    description=(
        "The owner's corrections of identities (data/identity/corrections.jsonl, `watershop identity ...`): "
        "its data version is the file's digest, so a new correction makes the identity assets stale."
    ),
)
def identity_corrections(shop: ShopDataResource) -> dg.DataVersion:
    return dg.DataVersion(CorrectionLog(shop.layout.root).digest())


def _evidence(tracks: pd.DataFrame, result, constraints) -> pd.DataFrame:
    columns = [c for c in SCHEMAS["identity_evidence"].column_names if c != "day"]
    known = tracks[tracks["track_id"].isin(result.assignments)]
    anchored = set().union(*constraints.groups.values(), constraints.track_staff, constraints.forbidden)
    return pd.DataFrame(
        [
            {
                "track_id": r.track_id,
                "camera": r.camera,
                "first_time": r.first_time,
                "last_time": r.last_time,
                "customer_id": result.assignments[r.track_id].customer_id,
                "minted_id": result.retired_ids.get(r.track_id),
                "corrected": r.track_id in anchored or result.assignments[r.track_id].customer_id in constraints.staff,
            }
            for r in known.itertuples()
        ],
        columns=columns,
    )


@warehouse_asset(
    # identity_evidence and staff_posts first: every output depends on their earlier days, and Dagster wants a
    # multi-asset's outputs in topological order (mutual dependencies, as with customer_registry, are allowed).
    writes=[
        _described("identity_evidence"),
        _described("staff_posts"),
        _described("customer_registry"),
        _described("track_identities"),
        _described("visit_log"),
    ],
    reads=[
        Read.day("face_tracks"),
        Read.before("customer_registry", chain=identities_shared()),
        Read.all("forgotten_customers"),
        Read.day("footage_manifest"),
        Read.day("person_tracks"),
        Read.day("person_detections"),
        Read.before("identity_evidence"),
        Read.before("staff_posts"),
        Read.files_of("identity_corrections"),
    ],
    group=VISION,
)
def identities(
    context: dg.AssetExecutionContext,
    tables: TableReader,
    config: IdentityConfig,
    shop: ShopDataResource,
    faces: FaceEngineResource,
) -> Written:
    """Day N's tracks matched against the registry as it stood after day N-1; the visits they make; and the
    registry rows for everyone seen, written together."""
    day = tables.day
    assert day is not None
    rules = config.rules()
    if identities_shared():  # one registry for the chain: each shop mints IDs of its own
        rules = dataclasses.replace(rules, id_prefix=f"CUST_{tables.shop}_")
    people = tables.read("person_tracks")
    bodies = person_tracks_from_rows(tables.read("person_detections"))
    # a face track takes the entry and exit of the body it was joined to, and the clothes seen on it then
    # (core/identities/bodies.py)
    tracks = with_looks(extend_by_bodies(identifiable_tracks(tables.read("face_tracks")), people), people, bodies)
    registry, next_number, forgotten = registry_before(tables)
    staff: dict[str, np.ndarray] = {}
    if len(tracks):
        staff_dir = shop.layout_for(tables.shop).staff_dir
        photos = {f"STAFF_{n}": e for n, e in photo_gallery(face_engine(faces), staff_dir).items()}
        staff = staff_gallery(photos, staff_centroids(tables, forgotten))
    # The owner's corrections, mapped onto this day's tracks and earlier days' IDs by their time spans.
    corrections = CorrectionLog(shop.layout_for(tables.shop).root).active()
    evidence = tables.read("identity_evidence") if corrections else pd.DataFrame()
    constraints = constraints_for_day(corrections, tracks, evidence)
    result = assign_identities(tracks, registry, staff, next_number, rules, forgotten, constraints)
    erased = ErasedFaces.load(shop.layout_for(tables.shop).root)
    if erased:
        # Faces `watershop forget` erased have no embedding when the day is analysed again: their tracks keep
        # the forgotten (never matched) ID, so the anonymous visits stay as the erasure left them.
        for r in tracks[~tracks["track_id"].isin(result.assignments)].itertuples():
            cid = erased.customer_in_span(r.camera, r.first_time, r.last_time) if not r.usable_faces else None
            if cid is not None:
                result.assignments[r.track_id] = Assignment(cid, None, False)
    visits = build_visits(day, tracks, result.assignments, VisitRules(config.visit_gap_s))
    # Someone behind the counter most of the day is staff, enrolled or not (core/identities/staff.py).
    # The day's recordings that somebody is in (a DVR recording all the time writes the shut shop's too).
    seen = [(b.camera, b.first_time, b.last_time) for b in bodies]
    seen += list(zip(tracks["camera"], tracks["first_time"], tracks["last_time"], strict=True)) if len(tracks) else []
    by_camera = occupied_recordings(camera_recordings(tables.read("footage_manifest")), seen)
    files = [span for spans in by_camera.values() for span in spans]
    staff_rules = StaffRules(config.staff_max_share)
    # Where the clerk stands (core/identities/staff.py): bodies standing there are staff, face or no face.
    staff_bodies = bodies_of_staff(result.assignments, people)
    posts = staff_posts(bodies, by_camera, staff_rules, staff_bodies)
    posts += remembered_posts(tables.read("staff_posts"), day, bodies, by_camera, posts, staff_rules, staff_bodies)
    posts_of = {b.track_id: p for b in bodies if (p := post_of(b, posts, staff_rules))}
    post_bodies = set(posts_of)
    post_bodies |= where_staff_stood(bodies, staff_bodies, staff_rules)  # staff found again without a face
    post_bodies |= closing_up_with_staff(bodies, staff_bodies, by_camera, staff_rules)
    at_post = staff_by_post(result.assignments, people, post_bodies, posts, staff_rules, posts_of)
    walkers = walks_in_and_out(result.assignments, people, bodies, staff_rules)
    presence = staff_by_presence(
        result, visits, covered_seconds(files), registry, next_number, staff_rules, files, at_post, walkers
    )
    if presence.promoted:
        result = presence.result
        visits = build_visits(day, tracks, result.assignments, VisitRules(config.visit_gap_s))
    unidentified = unidentified_visits(people, bodies, set(result.assignments), post_bodies)
    visits = with_faceless_visits(day, with_staff_reasons(visits, presence.reasons), unidentified)
    table = registry_rows(day, registry, result, visits, rules, constraints.labels)
    links = pd.DataFrame(
        [
            {"track_id": t, "customer_id": a.customer_id, "similarity": a.similarity, "is_staff": a.is_staff}
            for t, a in result.assignments.items()
        ],
        columns=["track_id", "customer_id", "similarity", "is_staff"],
    )
    customers = table[~table["is_staff"]] if len(table) else table
    customer_visits = (
        visits[~visits["is_staff"].astype(bool) & visits["identified"].astype(bool)] if len(visits) else visits
    )
    return Written(
        rows={
            "customer_registry": table,
            "track_identities": links,
            "visit_log": visits,
            "identity_evidence": _evidence(tracks, result, constraints),
            "staff_posts": post_rows(posts),
        },
        metadata={
            "identity_evidence": {
                "corrections_applied": len(corrections),
                "labels": dg.MetadataValue.json(constraints.labels),
            },
            "customer_registry": {
                "customers_seen": len(customers),
                "new_customers": len(result.new_ids),
                "returning_customers": int((~customers["is_new"]).sum()) if len(customers) else 0,
                "staff_seen": int(table["is_staff"].sum()) if len(table) else 0,
                "registry_size_before": len(registry),
                "unidentified_tracks": result.unidentified_tracks,
                "staff_by_presence": dg.MetadataValue.json(
                    {staff_id: presence.reasons[staff_id] for staff_id in presence.promoted.values()}
                ),
            },
            "visit_log": {
                "customer_visits": len(customer_visits),
                "unidentified_visits": int((~visits["identified"].astype(bool)).sum()) if len(visits) else 0,
                "distinct_customers": int(customer_visits["customer_id"].nunique()) if len(customer_visits) else 0,
                "median_duration_s": float(customer_visits["duration_seconds"].median())
                if len(customer_visits)
                else 0.0,
            },
            "staff_posts": {
                "posts": len(posts),
                "remembered": sum(p.remembered_from is not None for p in posts),
                "bodies_at_posts": len(posts_of),
                "bodies_taken_as_staff": len(post_bodies),
            },
        },
    )


def current_registry(tables: TableReader) -> pd.DataFrame:
    """Each ID as the registry stands after the last processed day: customer_id, is_staff, centroid."""
    return tables.sql(
        "SELECT customer_id, is_staff, centroid FROM customer_registry "
        "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY day DESC) = 1"
    )


@warehouse_asset(
    writes=[_described("identity_suggestions")],
    reads=[
        Read.all("customer_registry"),
        Read.all("visit_log"),
        Read.all("identity_evidence"),
        Read.all("transaction_links"),
    ],
    group=VISION,
    partitions_def=shop_partitions,
)
def identity_suggestions(context: dg.AssetExecutionContext, tables: TableReader, shop: ShopDataResource) -> Written:
    """Pairs of IDs that are probably one person, best first (an account both paid on first), for the owner
    to merge or rule apart."""
    registry = current_registry(tables)
    visits = tables.read("visit_log", "day, customer_id, entry_time, exit_time")
    corrections = CorrectionLog(shop.layout_for(tables.shop).root).active()
    evidence = tables.read("identity_evidence", "track_id, day, camera, first_time, last_time, customer_id")
    apart = cannot_link_pairs(corrections, evidence)
    accounts = till_accounts(tables.read("transaction_links", "camera_customer_id, till_customer_id, ambiguous"))
    table = suggest_merges(registry, visits, apart, accounts)
    return Written(
        rows={"identity_suggestions": table},
        metadata={
            "identity_suggestions": {
                "pairs": len(table),
                "ruled_apart": len(apart),
                "sharing_an_account": int(table["shared_account"].notna().sum()),
            }
        },
    )


vision_assets = [footage_manifest, footage_analysis, face_tracks, identities, identity_suggestions]
