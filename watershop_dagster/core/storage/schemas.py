"""Column contracts of the tables written from Python.

One place says what each table holds: the warehouse creates tables from it, the asset checks verify it and
the README's table reference is generated from it (`python -m watershop_dagster.core.storage.schemas`). The SQL
aggregates in dbt_like_sql/ describe themselves in their own header comments.
"""

from __future__ import annotations

from dataclasses import dataclass

EMBEDDING_DIM = 512


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str


SHOP_COLUMN = Column("shop", "VARCHAR", "partition shop: data/shops/<shop>/ (`main` for the single-shop layout)")


@dataclass(frozen=True)
class TableSchema:
    name: str
    description: str
    columns: tuple[Column, ...]
    partitioned_by: str | None = "day"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """The columns as stored: a day-partitioned table also holds its shop (the warehouse fills it in from
        the partition, like the day)."""
        if self.partitioned_by != "day" or "shop" in self.column_names:
            return self.columns
        return (self.columns[0], SHOP_COLUMN, *self.columns[1:])

    def create_sql(self, qualified_name: str | None = None) -> str:
        cols = ", ".join(f'"{c.name}" {c.type}' for c in self.stored_columns)
        return f'CREATE TABLE IF NOT EXISTS "{qualified_name or self.name}" ({cols})'


def _cols(*rows: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*r) for r in rows)


TRANSACTIONS = TableSchema(
    "transactions",
    "Validated till rows, one per sale.",
    _cols(
        ("day", "DATE", "partition day (shop-local)"),
        ("transaction_id", "VARCHAR", "till id, unique across all days"),
        ("timestamp", "TIMESTAMP", "shop-local time of the sale"),
        ("customer_id", "VARCHAR", "customer id as the till gave it (NULL when blank)"),
        ("payment_mode", "VARCHAR", "Cash, UPI or Coins (NULL for an unpaid sale without a mode)"),
        ("can_size", "VARCHAR", "10L or 20L"),
        ("number_of_cans", "INTEGER", "cans sold"),
        ("litres", "INTEGER", "number_of_cans x can size"),
        ("amount", "DOUBLE", "rupees charged"),
        ("payment_status", "VARCHAR", "Paid or Unpaid"),
        ("source_file", "VARCHAR", "CSV file the row came from"),
        ("line_number", "INTEGER", "line in that file (header is line 1)"),
    ),
)

TRANSACTION_REJECTS = TableSchema(
    "transaction_rejects",
    "Till rows that failed validation, with the reason; the good rows of the same file are still loaded.",
    _cols(
        ("day", "DATE", "partition day"),
        ("source_file", "VARCHAR", "CSV file"),
        ("line_number", "INTEGER", "line in that file (header is line 1)"),
        ("transaction_id", "VARCHAR", "id as written, if any"),
        ("raw_line", "VARCHAR", "the line as read"),
        ("reason", "VARCHAR", "why it was rejected"),
    ),
)

FOOTAGE_MANIFEST = TableSchema(
    "footage_manifest",
    "Every footage file of the day, readable or not.",
    _cols(
        ("day", "DATE", "partition day (the folder name)"),
        ("file", "VARCHAR", "path relative to the data folder"),
        ("camera", "VARCHAR", "camera name from the file name"),
        ("start_time", "TIMESTAMP", "shop-local start (from the name, else the container's creation_time)"),
        ("end_time", "TIMESTAMP", "start + duration"),
        ("fps", "DOUBLE", "frames per second"),
        ("frame_count", "BIGINT", "frames in the file"),
        ("width", "INTEGER", "pixels"),
        ("height", "INTEGER", "pixels"),
        (
            "pixel_aspect",
            "DOUBLE",
            "how many times wider than tall a stored pixel is shown (the stream's sample aspect ratio; 2 for a "
            "DVR's half-width 960x1080 / 640x720 mode that says none; 1 square): frames are analysed stretched "
            "to square pixels, so face and body boxes are in pixels of width round(width * pixel_aspect)",
        ),
        ("size_bytes", "BIGINT", "file size"),
        (
            "status",
            "VARCHAR",
            "ok (a recovered power-cut file too), error, or duplicate (the same minutes as a sharper file of "
            "its camera, named in error: not analysed)",
        ),
        ("error", "VARCHAR", "why the file could not be used (NULL when ok)"),
        ("notes", "VARCHAR", "what is worth knowing about a usable file: recovered, end stamp disagrees, ..."),
        (
            "recovered_file",
            "VARCHAR",
            "decodable copy rebuilt from a power-cut file (relative to the data folder); analysis reads it",
        ),
        (
            "missing_minutes",
            "DOUBLE",
            "minutes of this camera's day lost before and in this file: the gap since the camera's previous "
            "file where the camera records continuously (at least half its files start where the one before "
            "ended; a camera that records on motion leaves quiet stretches out), plus what an unusable file "
            "held (estimated) or a usable one's end stamp promised beyond its frames; sum per camera for the "
            "day's loss",
        ),
    ),
)

FRAMES = TableSchema(
    "frames",
    "Sampled frames with their motion score; most are not analysed (empty room).",
    _cols(
        ("day", "DATE", "partition day"),
        ("file", "VARCHAR", "footage file"),
        ("camera", "VARCHAR", "camera"),
        ("frame_index", "BIGINT", "index in the file"),
        ("time", "TIMESTAMP", "shop-local time of the frame"),
        ("motion_score", "DOUBLE", "share of the small grey frame that changed since the last sample"),
        ("brightness", "DOUBLE", "mean grey level 0-255 (lights, shutter)"),
        ("analysed", "BOOLEAN", "whether faces were searched in it"),
        ("faces", "INTEGER", "faces found (0 when not analysed)"),
    ),
)

FACE_DETECTIONS = TableSchema(
    "face_detections",
    "Faces found in analysed frames, usable or not, each with an audit crop.",
    _cols(
        ("day", "DATE", "partition day"),
        ("detection_id", "VARCHAR", "<day>/<camera>/<frame>/<n>"),
        ("file", "VARCHAR", "footage file"),
        ("camera", "VARCHAR", "camera"),
        ("frame_index", "BIGINT", "frame in the file"),
        ("time", "TIMESTAMP", "shop-local time"),
        ("x1", "DOUBLE", "box left, pixels"),
        ("y1", "DOUBLE", "box top"),
        ("x2", "DOUBLE", "box right"),
        ("y2", "DOUBLE", "box bottom"),
        (
            "landmarks",
            "FLOAT[10]",
            "5 (x, y) keypoints: eyes, nose, mouth corners (an embedded face under 64 px: as found again on a crop "
            "around it)",
        ),
        ("det_score", "DOUBLE", "detector confidence"),
        ("face_size", "DOUBLE", "shorter side of the box, pixels"),
        ("sharpness", "DOUBLE", "variance of the Laplacian of the aligned face, scaled to a mean grey of 128"),
        ("quality", "DOUBLE", "0-1 score from size, sharpness, detector score"),
        ("usable", "BOOLEAN", "large, sharp and face-like enough to recognise"),
        (
            "reject_reason",
            "VARCHAR",
            "too_small / too_blurred / low_score / not_face_like / opted_out (NULL if usable)",
        ),
        ("crop_path", "VARCHAR", "JPEG under data/crops/<day>/ (NULL once retention removed it)"),
    ),
)

FACE_EMBEDDINGS = TableSchema(
    "face_embeddings",
    "One L2-normalised ArcFace vector per usable face.",
    _cols(
        ("day", "DATE", "partition day"),
        ("detection_id", "VARCHAR", "face_detections.detection_id"),
        ("time", "TIMESTAMP", "shop-local time"),
        ("camera", "VARCHAR", "camera"),
        ("quality", "DOUBLE", "detection quality"),
        ("embedding", f"FLOAT[{EMBEDDING_DIM}]", "unit vector"),
    ),
)

FACE_TRACKS = TableSchema(
    "face_tracks",
    "Faces of one person in consecutive frames, joined by box overlap and embedding similarity.",
    _cols(
        ("day", "DATE", "partition day"),
        ("track_id", "VARCHAR", "<day>/<camera>/T<n>"),
        ("camera", "VARCHAR", "camera"),
        ("first_time", "TIMESTAMP", "first face"),
        ("last_time", "TIMESTAMP", "last face"),
        ("faces", "INTEGER", "faces in the track"),
        ("usable_faces", "INTEGER", "faces with an embedding"),
        ("mean_quality", "DOUBLE", "mean detection quality"),
        ("best_detection_id", "VARCHAR", "highest-quality face"),
        ("best_crop_path", "VARCHAR", "its crop"),
        ("detection_ids", "VARCHAR[]", "the faces in the track (what `watershop forget` erases)"),
        ("embedding", f"FLOAT[{EMBEDDING_DIM}]", "quality-weighted mean, unit length (NULL if no usable face)"),
        (
            "evidence",
            "DOUBLE",
            "sum of the ROC size weights of its embedded faces; identified from 1.7, under it only confirms a known "
            "ID (core/footage/evidence.py)",
        ),
        (
            "body_first_time",
            "TIMESTAMP",
            "first box of the joined body that is this face's person (the visit starts there; earlier, the "
            "body held another face: the person tracker followed someone else); NULL without a body",
        ),
        ("body_last_time", "TIMESTAMP", "the same for the last box"),
    ),
)

CUSTOMER_REGISTRY = TableSchema(
    "customer_registry",
    "Anonymous identities. Each day's partition holds every identity seen that day, with its state after "
    "the day; the registry as of day N is each identity's latest row with day <= N "
    "(table customer_registry_current).",
    _cols(
        ("day", "DATE", "partition day: the identity was seen (or enrolled) that day"),
        ("customer_id", "VARCHAR", "CUST_0001..., or STAFF_<name> for enrolled staff"),
        ("is_staff", "BOOLEAN", "staff are left out of customer figures"),
        ("is_new", "BOOLEAN", "first seen on this day"),
        ("first_seen", "DATE", "first day seen"),
        ("last_seen", "DATE", "last day seen (= day)"),
        ("visit_count", "INTEGER", "visits up to and including this day"),
        ("visits_today", "INTEGER", "visits on this day"),
        ("weight", "DOUBLE", "evidence behind the centroid (sum of track weights, capped)"),
        ("centroid", f"FLOAT[{EMBEDDING_DIM}]", "running mean embedding, unit length"),
        ("best_crop_path", "VARCHAR", "a good crop of the face, for the owner"),
        ("label", "VARCHAR", "the owner's label: a name, or the till's ledger account (`watershop identity label`)"),
    ),
)

TRACK_IDENTITIES = TableSchema(
    "track_identities",
    "Which identity each identifiable face track was given.",
    _cols(
        ("day", "DATE", "partition day"),
        ("track_id", "VARCHAR", "face_tracks.track_id"),
        ("customer_id", "VARCHAR", "identity"),
        ("similarity", "DOUBLE", "cosine similarity to the matched identity (NULL for a new one)"),
        ("is_staff", "BOOLEAN", "matched an enrolled staff member"),
    ),
)

VISIT_LOG = TableSchema(
    "visit_log",
    "A person's continuous presence in the shop; short gaps (turning away, occlusion) do not split a visit.",
    _cols(
        ("day", "DATE", "partition day"),
        ("visit_id", "VARCHAR", "<day>/V<n>"),
        ("customer_id", "VARCHAR", "identity from the registry (NULL for a person seen without a face)"),
        ("entry_time", "TIMESTAMP", "first face"),
        ("exit_time", "TIMESTAMP", "last face"),
        ("duration_seconds", "DOUBLE", "exit - entry"),
        ("faces_seen", "INTEGER", "faces behind the visit"),
        ("tracks", "INTEGER", "face tracks merged into it"),
        ("match_similarity", "DOUBLE", "cosine similarity to the registry identity (NULL for a new one)"),
        ("best_crop_path", "VARCHAR", "best face crop of the visit"),
        ("is_staff", "BOOLEAN", "a staff member"),
        (
            "staff_reason",
            "VARCHAR",
            "why a staff visit is staff: enrolled staff recognised, or present most of the day",
        ),
        ("identified", "BOOLEAN", "a face identified the person; false: a body without a face (customer_id NULL)"),
        ("person_track_id", "VARCHAR", "person_tracks.track_id of a faceless visit (NULL for face visits)"),
        ("cameras", "VARCHAR", "the cameras that saw the visit, comma-separated (cam1,cam2): one person, one visit"),
    ),
)

TRANSACTION_LINKS = TableSchema(
    "transaction_links",
    "Every sale linked to the customer visit at the counter at its time; the whole day is linked at once "
    "(one sale per visit unless a long stay shows two, first come first served).",
    _cols(
        ("day", "DATE", "partition day"),
        ("transaction_id", "VARCHAR", "the sale"),
        ("timestamp", "TIMESTAMP", "sale time on the till's clock"),
        ("camera_time", "TIMESTAMP", "sale time on the camera's clock (timestamp + the day's clock offset)"),
        ("till_customer_id", "VARCHAR", "customer_id the till gave (NULL when blank)"),
        ("visit_id", "VARCHAR", "linked visit (NULL when no customer was there)"),
        ("camera_customer_id", "VARCHAR", "identity of that visit"),
        ("customer_id", "VARCHAR", "the till's ID where it gave one, else the camera's"),
        (
            "confidence",
            "DOUBLE",
            "0-1: how much worse the day's assignment gets if this sale must go elsewhere (1 = clear, 0 = unlinked)",
        ),
        ("ambiguous", "BOOLEAN", "another visit (or none) would explain the sale almost as well"),
        ("candidates", "INTEGER", "visits within the tolerance of the sale time"),
        ("seconds_outside_visit", "DOUBLE", "0 when the sale fell inside the visit"),
        ("agrees_with_till", "BOOLEAN", "camera and till agree on who it was (NULL when the till gave no ID)"),
    ),
)

SHOP_HOURS = TableSchema(
    "shop_hours",
    "When the shop really opened and closed, from the footage, beside the first and last sale.",
    _cols(
        ("day", "DATE", "partition day"),
        ("open_time", "TIMESTAMP", "lights/shutter up, else first activity"),
        ("close_time", "TIMESTAMP", "lights/shutter down, else last activity"),
        ("method", "VARCHAR", "lighting / activity / none"),
        ("confidence", "DOUBLE", "0-1"),
        ("first_sale", "TIMESTAMP", "first till sale"),
        ("last_sale", "TIMESTAMP", "last till sale"),
        ("open_hours", "DOUBLE", "close - open, hours"),
    ),
)

FORGOTTEN_CUSTOMERS = TableSchema(
    "forgotten_customers",
    "Audit log of erasure requests (`watershop forget`): these IDs are never matched again.",
    _cols(
        ("customer_id", "VARCHAR", "the forgotten identity"),
        ("requested_by", "VARCHAR", "who asked"),
        ("requested_at", "TIMESTAMP", "when"),
        ("reason", "VARCHAR", "why"),
        ("embeddings_deleted", "INTEGER", "face embeddings erased"),
        ("crops_deleted", "INTEGER", "crop files erased"),
        ("shop", "VARCHAR", "the shop whose customer it was (each shop numbers its own customers)"),
    ),
    partitioned_by=None,
)

PERSON_TRACKS = TableSchema(
    "person_tracks",
    "People found by their bodies (YOLOX-Nano) in consecutive sampled frames, whether or not a face was seen; "
    "a track without a face track is an unidentified presence.",
    _cols(
        ("day", "DATE", "partition day"),
        ("track_id", "VARCHAR", "<day>/<camera>/P<n>"),
        ("camera", "VARCHAR", "camera"),
        ("first_time", "TIMESTAMP", "first body box"),
        ("last_time", "TIMESTAMP", "last body box"),
        ("duration_seconds", "DOUBLE", "last - first"),
        ("detections", "INTEGER", "body boxes in the track"),
        ("max_box_height", "DOUBLE", "tallest body box, pixels (small: far away or outside)"),
        ("mean_score", "DOUBLE", "mean detector score"),
        ("face_track_ids", "VARCHAR[]", "face_tracks joined to this body (empty: no face was seen)"),
        (
            "unidentified_presence",
            "BOOLEAN",
            "an unidentified visit: no face joined, long enough, not a seen person's upper body, and not a body that"
            " mostly held named faces (a person found again, or one box passed between people)",
        ),
    ),
)

PERSON_DETECTIONS = TableSchema(
    "person_detections",
    "Every body box behind the person tracks.",
    _cols(
        ("day", "DATE", "partition day"),
        ("track_id", "VARCHAR", "person_tracks.track_id"),
        ("camera", "VARCHAR", "camera"),
        ("time", "TIMESTAMP", "shop-local time of the frame"),
        ("x1", "DOUBLE", "box left, pixels"),
        ("y1", "DOUBLE", "box top"),
        ("x2", "DOUBLE", "box right"),
        ("y2", "DOUBLE", "box bottom"),
        ("score", "DOUBLE", "detector score (objectness x person)"),
        ("look_l", "DOUBLE", "clothes: median CIELAB lightness of the middle of the box, 0-255 (NULL: not measured)"),
        ("look_a", "DOUBLE", "clothes: median CIELAB a* (green-red, 128 = grey) of the same patch"),
        ("look_b", "DOUBLE", "clothes: median CIELAB b* (blue-yellow, 128 = grey) of the same patch"),
    ),
)

CLOCK_OFFSETS = TableSchema(
    "clock_offsets",
    "How far the till clock is from the camera clock on each day, as used to link the day's sales.",
    _cols(
        ("day", "DATE", "partition day"),
        ("camera", "VARCHAR", "camera the offset is for ('all': one offset for every camera)"),
        ("offset_seconds", "DOUBLE", "camera time - till time (NULL when nothing was estimated)"),
        ("confidence", "DOUBLE", "0-1: share of sales inside a stay at this offset x how clearly the peak stands out"),
        ("sales_used", "INTEGER", "sales the estimate was made from"),
        (
            "method",
            "VARCHAR",
            "given / estimated (applied) / estimated_near_previous (too weak a peak or too few sales alone: "
            "searched near the last earlier day's applied offset; applied) / carried_from_previous (that "
            "earlier offset applied as it was) / estimated_unsure (not applied: till times used as they are) / "
            "too_few_sales",
        ),
    ),
)

COUNTER_PACE = TableSchema(
    "counter_pace",
    "What each day says of the counter's pace (camera clock, after the till's offset): the linker pools these "
    "samples with the earlier days' to tell a customer who was served and bought nothing from the payer behind.",
    _cols(
        ("day", "DATE", "partition day"),
        ("busy_gaps", "INTEGER", "gaps between consecutive sales while a customer waited through them"),
        ("pace_s", "DOUBLE", "their median: seconds per customer served while a queue waits (NULL: no busy gap)"),
        ("free_counter_sales", "INTEGER", "sales rung when nobody had been waiting since the sale before"),
        (
            "arrival_to_sale_s",
            "DOUBLE",
            "their median seconds since the first customer after that sale came (NULL: none)",
        ),
        ("busy_gaps_s", "DOUBLE[]", "each busy gap, seconds"),
        ("first_sale_s", "DOUBLE[]", "each free-counter sale's seconds since that first arrival"),
    ),
)

CHAIN_DAILY = TableSchema(
    "chain_daily",
    "Every shop's day side by side (the chain's roll-up).",
    _cols(
        ("day", "DATE", "partition day"),
        ("shop", "VARCHAR", "the shop"),
        ("visits", "BIGINT", "customer visits (staff left out)"),
        ("customers", "BIGINT", "distinct customers"),
        ("revenue", "DOUBLE", "paid, rupees"),
        ("unpaid", "DOUBLE", "billed but unpaid, rupees"),
        ("transactions", "BIGINT", "sales"),
        ("repeat_defaulters", "BIGINT", "customers with 2+ unpaid sales in the 30 days to this day"),
    ),
)

CHAIN_HOURS = TableSchema(
    "chain_hours",
    "Every shop's hours of the day: visits and sales per hour, for the chain's best and worst hours.",
    _cols(
        ("day", "DATE", "partition day"),
        ("shop", "VARCHAR", "the shop"),
        ("hour", "INTEGER", "hour of the day"),
        ("visits", "BIGINT", "customer visits that started in the hour"),
        ("transactions", "BIGINT", "sales in the hour"),
        ("amount", "DOUBLE", "billed in the hour, rupees"),
    ),
)

IDENTITY_EVIDENCE = TableSchema(
    "identity_evidence",
    "Every identified face track with where and when it was and the ID it got: what the owner's corrections "
    "(data/identity/corrections.jsonl) are mapped onto on later days, since time spans survive re-runs.",
    _cols(
        ("day", "DATE", "partition day"),
        ("track_id", "VARCHAR", "face_tracks.track_id"),
        ("camera", "VARCHAR", "camera"),
        ("first_time", "TIMESTAMP", "first face"),
        ("last_time", "TIMESTAMP", "last face"),
        ("customer_id", "VARCHAR", "the ID it got, corrections applied"),
        ("minted_id", "VARCHAR", "an ID minted for it that a correction replaced (never handed out again)"),
        ("corrected", "BOOLEAN", "an owner's correction decided its ID or staff flag"),
    ),
)

STAFF_POSTS = TableSchema(
    "staff_posts",
    "Where staff stand, per camera and day (core/identities/staff.py): places where a still body stood at opening "
    "or closing, from the start of many recordings, or with recognised staff's face on it; still bodies there are "
    "staff, face or no face. A place recognised staff held is remembered for later days.",
    _cols(
        ("day", "DATE", "partition day"),
        ("camera", "VARCHAR", "camera"),
        ("cx", "DOUBLE", "centre of the still bodies there, x (pixels)"),
        ("cy", "DOUBLE", "centre of the still bodies there, y (pixels)"),
        ("height", "DOUBLE", "median box height of the still bodies there (pixels; places compare in heights)"),
        ("recordings_seen", "INTEGER", "the camera's recordings of the day with a still body there"),
        ("recordings", "INTEGER", "the camera's recordings of the day that somebody is in"),
        ("held_by_staff", "BOOLEAN", "recognised staff (their face on the body) stood still there that day"),
        ("remembered_from", "DATE", "a post of an earlier day found again: the last day staff were named there"),
    ),
)

IDENTITY_SUGGESTIONS = TableSchema(
    "identity_suggestions",
    "Pairs of customer IDs that are probably one person, best first (`watershop identity suggest`): centroids "
    "alike, never in the shop at the same time, not ruled apart by the owner; pairs whose clear sales the till "
    "booked to one ledger account first, pairs on different accounts last.",
    _cols(
        ("customer_id_a", "VARCHAR", "the older ID (kept by a merge)"),
        ("customer_id_b", "VARCHAR", "the newer ID"),
        ("score", "DOUBLE", "cosine similarity of their centroids"),
        ("shared_account", "VARCHAR", "a ledger account the till booked clear sales of both IDs to (NULL: none)"),
        ("other_accounts", "BOOLEAN", "both paid on ledger accounts, never on the same one"),
        ("same_day", "BOOLEAN", "both seen on one day (at different times): mostly two people"),
        (
            "rank",
            "INTEGER",
            "1 = look first: a shared account, then neither, then different accounts; within each, pairs never "
            "seen on one day first; then by score",
        ),
    ),
)

OPTOUT_MATCHES = TableSchema(
    "optout_matches",
    "Customer IDs that look like a person of the opt-out list (`data/optout/<name>/`): enrolled before the photo "
    "was added, or on a day no face reached it. For the owner to forget (`watershop forget`, the review page, "
    "which hides a forgotten ID at once); the next run leaves it out.",
    _cols(
        ("customer_id", "VARCHAR", "the ID"),
        ("optout_name", "VARCHAR", "the opt-out folder whose photos it looks like"),
        ("similarity", "DOUBLE", "cosine similarity of its centroid and the closest of those photos"),
    ),
)

ALL_TABLES: tuple[TableSchema, ...] = (
    TRANSACTIONS,
    TRANSACTION_REJECTS,
    FOOTAGE_MANIFEST,
    FRAMES,
    FACE_DETECTIONS,
    FACE_EMBEDDINGS,
    FACE_TRACKS,
    CUSTOMER_REGISTRY,
    TRACK_IDENTITIES,
    VISIT_LOG,
    TRANSACTION_LINKS,
    SHOP_HOURS,
    FORGOTTEN_CUSTOMERS,
    CHAIN_DAILY,
    CHAIN_HOURS,
    CLOCK_OFFSETS,
    COUNTER_PACE,
    PERSON_DETECTIONS,
    PERSON_TRACKS,
    IDENTITY_EVIDENCE,
    STAFF_POSTS,
    IDENTITY_SUGGESTIONS,
    OPTOUT_MATCHES,
)

SCHEMAS = {t.name: t for t in ALL_TABLES}


def markdown_reference(tables: tuple[TableSchema, ...] = ALL_TABLES) -> str:
    """The README's table reference, generated so it cannot drift from the code."""
    out = []
    for t in tables:
        out.append(f"#### `{t.name}`\n{t.description}\n\n| column | type | meaning |\n|---|---|---|")
        out += [f"| `{c.name}` | {c.type} | {c.description} |" for c in t.stored_columns]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown_reference())
