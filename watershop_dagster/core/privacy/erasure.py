"""Biometric data kept only as long as it must be, and erased on request.

What is biometric here: face crops (JPEG files), per-face embeddings (`face_embeddings`), track means
(`face_tracks.embedding`) and identity centroids (`customer_registry.centroid`). Counts (visits, sales,
durations) are not, and survive both retention and erasure, under the anonymous ID.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from watershop_dagster.core.storage.layout import MAIN_SHOP, DataLayout
from watershop_dagster.core.storage.warehouse import Warehouse, scalar, sql_literal

FORGOTTEN = "forgotten_customers"
ERASED_TIME_S = 1.0  # a face re-detected this close in time ...
ERASED_IOU = 0.3  # ... and place to an erased one is the erased person's


def erased_path(data_dir: Path) -> Path:
    """Where and when erased faces were (camera, time, box; no pixels, no embedding): so that analysing a day
    again never brings back what `watershop forget` erased."""
    return Path(data_dir) / "identity" / "erased.jsonl"


def _box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class ErasedFaces:
    """The erased faces of every `forget`, by camera: a face found again at the same moment and place is
    dropped at detection (no embedding, no crop, reject_reason 'forgotten')."""

    def __init__(self, records: list[dict] | None = None):
        self.by_camera: dict[str, list[tuple[datetime, tuple[float, ...], str]]] = defaultdict(list)
        for r in records or []:
            for camera, when, *box in r["faces"]:
                self.by_camera[camera].append((datetime.fromisoformat(when), tuple(box), r["customer_id"]))
        for faces in self.by_camera.values():
            faces.sort()

    @classmethod
    def load(cls, data_dir: Path) -> ErasedFaces:
        path = erased_path(data_dir)
        if not path.exists():
            return cls()
        return cls([json.loads(line) for line in path.read_text().splitlines() if line.strip()])

    def __bool__(self) -> bool:
        return bool(self.by_camera)

    def match(self, camera: str, when: datetime, box: tuple[float, ...]) -> str | None:
        """The forgotten customer ID this face was, or None."""
        for t, erased_box, customer_id in self.by_camera.get(camera, ()):
            if abs((t - when).total_seconds()) <= ERASED_TIME_S and _box_iou(erased_box, box) >= ERASED_IOU:
                return customer_id
        return None

    def customer_in_span(self, camera: str, start: datetime, end: datetime) -> str | None:
        for t, _, customer_id in self.by_camera.get(camera, ()):
            if start - timedelta(seconds=ERASED_TIME_S) <= t <= end + timedelta(seconds=ERASED_TIME_S):
                return customer_id
        return None


@dataclass(frozen=True)
class RetentionRules:
    crop_days: int = 7  # face crops are deleted once older than this
    embedding_grace_days: int = 2  # per-face embeddings are purged this long after their day
    footage_days: int = 0  # raw footage is deleted once older than this (0: kept until the owner deletes it)


@dataclass
class RetentionResult:
    crop_folders_deleted: list[str]
    embeddings_purged: int
    footage_days_deleted: list[str] = field(default_factory=list)


def footage_deleted_path(data_dir: Path) -> Path:
    """Days whose raw footage retention deleted: they cannot be analysed again, and must not be emptied."""
    return Path(data_dir) / "retention" / "footage_deleted.txt"


def footage_deleted_days(data_dir: Path) -> set[str]:
    path = footage_deleted_path(data_dir)
    return set(path.read_text().split()) if path.exists() else set()


def delete_old_footage(layout: DataLayout, today: date, footage_days: int) -> list[str]:
    """Whole day folders of raw footage older than `footage_days` (0: none). The day is noted first, so a
    crash in between leaves a noted day with files, never a day emptied without a note."""
    if footage_days <= 0 or not layout.footage_dir.is_dir():
        return []
    cutoff = today - timedelta(days=footage_days)
    old = []
    for folder in sorted(layout.footage_dir.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and day < cutoff:
            old.append(folder)
    if not old:
        return []
    noted = footage_deleted_days(layout.root) | {f.name for f in old}
    path = footage_deleted_path(layout.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sorted(noted)) + "\n")
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    return [f.name for f in old]


def apply_retention(wh: Warehouse, layout: DataLayout, today: date, rules: RetentionRules) -> RetentionResult:
    crop_cutoff = today - timedelta(days=rules.crop_days)
    emb_cutoff = today - timedelta(days=rules.embedding_grace_days)
    deleted = []
    crops_root = layout.root / "crops"
    old_days = []
    if crops_root.is_dir():
        for folder in sorted(crops_root.iterdir()):
            try:
                day = date.fromisoformat(folder.name)
            except ValueError:
                continue
            if day < crop_cutoff:
                old_days.append(day)
    with wh.transaction() as conn:
        tables = wh.table_names(conn)
        # Forget the paths first, then delete the files: a crash in between leaves files with no reference
        # (deleted on the next run), never references to missing files.
        for table, column in (
            ("face_detections", "crop_path"),
            ("face_tracks", "best_crop_path"),
            ("visit_log", "best_crop_path"),
            ("customer_registry", "best_crop_path"),
        ):
            if table in tables:
                conn.execute(
                    f"UPDATE {table} SET {column} = NULL WHERE day < ? AND {column} IS NOT NULL", [crop_cutoff]
                )
        purged = 0
        if "face_embeddings" in tables:
            purged = scalar(conn.execute("SELECT count(*) FROM face_embeddings WHERE day < ?", [emb_cutoff]).fetchone())
            conn.execute("DELETE FROM face_embeddings WHERE day < ?", [emb_cutoff])
    for day in old_days:
        shutil.rmtree(crops_root / day.isoformat(), ignore_errors=True)
        deleted.append(day.isoformat())
    return RetentionResult(deleted, int(purged), delete_old_footage(layout, today, rules.footage_days))


@dataclass
class ForgetResult:
    customer_id: str
    registry_rows: int
    tracks: int
    embeddings_deleted: int
    crops_deleted: int
    visits_kept: int
    footage: list[str]  # files and time spans that still show the person (footage is not cut; see README)

    def plus(self, other: ForgetResult) -> ForgetResult:
        return ForgetResult(
            self.customer_id,
            self.registry_rows + other.registry_rows,
            self.tracks + other.tracks,
            self.embeddings_deleted + other.embeddings_deleted,
            self.crops_deleted + other.crops_deleted,
            self.visits_kept + other.visits_kept,
            self.footage + other.footage,
        )


def forget_customer(
    wh: Warehouse,
    customer_id: str,
    requested_by: str | None = None,
    reason: str = "",
    data_dirs: dict[str, Path] | None = None,
    shop: str | None = None,
) -> ForgetResult:
    """Erase one person's biometric data everywhere; their visits and sales stay, anonymous. The ID is
    recorded in `forgotten_customers` (the audit log) and never matched again. With `data_dirs` (shop -> its
    data folder), where and when their faces were is kept in <shop>/identity/erased.jsonl so that analysing a
    day again drops them.

    Each shop numbers its own customers, so CUST_0001 of one shop is not CUST_0001 of another: `shop` names
    the shop whose customer this is. Without it, every shop that knows the ID is erased, which is right only
    where the ID is unique across shops (a chain sharing identities); the caller decides."""
    requested_by = requested_by or getpass.getuser()
    with wh.transaction() as conn:
        tables = wh.table_names(conn)
        columns = wh.stored_columns(conn)
        if "customer_registry" not in tables:
            raise KeyError(f"{customer_id} is not in the customer registry")
        has_shops = "shop" in columns["customer_registry"]
        shop_of_row = f"coalesce(shop, '{MAIN_SHOP}')" if has_shops else f"'{MAIN_SHOP}'"
        known = [
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT {shop_of_row} FROM customer_registry WHERE customer_id = ? ORDER BY 1",
                [customer_id],
            ).fetchall()
        ]
        shops = [s for s in known if shop is None or s == shop]
        if not shops:
            raise KeyError(f"{customer_id} is not in the customer registry" + (f" of shop {shop}" if shop else ""))
        total = ForgetResult(customer_id, 0, 0, 0, 0, 0, [])
        crop_files: list[str] = []
        erased: dict[str, list[list]] = {}
        audit = []
        for name in shops:
            part, crops, faces = _ShopErasure(conn, tables, columns, customer_id, name).run()
            total = total.plus(part)
            crop_files += crops
            erased[name] = faces
            audit.append([customer_id, requested_by, datetime.now().replace(microsecond=0), reason])
            audit[-1] += [part.embeddings_deleted, len(crops), name]
        conn.execute(f"""CREATE TABLE IF NOT EXISTS {FORGOTTEN} (customer_id VARCHAR, requested_by VARCHAR,
                          requested_at TIMESTAMP, reason VARCHAR, embeddings_deleted INTEGER, crops_deleted INTEGER,
                          shop VARCHAR)""")
        if "shop" not in columns.get(FORGOTTEN, {"shop"}):  # an audit log from before shops: its rows are main's
            conn.execute(f"ALTER TABLE {FORGOTTEN} ADD COLUMN shop VARCHAR DEFAULT '{MAIN_SHOP}'")
        conn.executemany(
            f"INSERT INTO {FORGOTTEN} (customer_id, requested_by, requested_at, reason, embeddings_deleted, "
            "crops_deleted, shop) VALUES (?, ?, ?, ?, ?, ?, ?)",
            audit,
        )
    for name, faces in erased.items():
        folder = (data_dirs or {}).get(name)
        if folder is not None and faces:
            register = erased_path(folder)
            register.parent.mkdir(parents=True, exist_ok=True)
            with register.open("a") as f:
                f.write(json.dumps({"customer_id": customer_id, "faces": faces}) + "\n")
    # Deleted rows linger in old file blocks (DuckDB) or old Parquet files and snapshots (DuckLake) until purged.
    wh.purge_history()
    removed = 0
    for path in crop_files:
        try:
            Path(path).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return dataclasses.replace(total, crops_deleted=removed)


class _ShopErasure:
    """One shop's part of an erasure, inside the caller's transaction. Track and detection IDs are unique only
    within a shop, so every statement is cut to the shop (tables from before shops exist are shop main's)."""

    def __init__(self, conn, tables: set[str], columns: dict[str, set[str]], customer_id: str, shop: str):
        self.conn, self.tables, self.columns, self.customer_id, self.shop = conn, tables, columns, customer_id, shop

    def where(self, table: str, alias: str = "") -> str:
        stored = "shop" in self.columns.get(table, set())
        column = f"coalesce({alias}shop, '{MAIN_SHOP}')" if stored else f"'{MAIN_SHOP}'"  # rows from before shops
        return f" AND {column} = {sql_literal(self.shop)}"

    def count(self, sql: str, params: list) -> int:
        return int(scalar(self.conn.execute(sql, params).fetchone()))

    def run(self) -> tuple[ForgetResult, list[str], list[list]]:
        conn, tables, cid, where = self.conn, self.tables, self.customer_id, self.where
        tracks = conn.execute(
            "SELECT t.day, t.track_id, t.detection_ids FROM face_tracks t JOIN track_identities i "
            "ON i.day = t.day AND i.track_id = t.track_id WHERE i.customer_id = ?"
            + where("face_tracks", "t.")
            + where("track_identities", "i."),
            [cid],
        ).df()
        detection_ids = [d for ids in tracks["detection_ids"] for d in (list(ids) if ids is not None else [])]
        crop_files: list[str] = []
        faces: list[list] = []
        detections = "detection_id IN (SELECT unnest(?))"
        if detection_ids and "face_detections" in tables:
            crop_files = [
                p
                for (p,) in conn.execute(
                    f"SELECT crop_path FROM face_detections WHERE {detections} AND crop_path IS NOT NULL"
                    + where("face_detections"),
                    [detection_ids],
                ).fetchall()
            ]
            faces = [
                [camera, pd.Timestamp(when).isoformat(), float(x1), float(y1), float(x2), float(y2)]
                for camera, when, x1, y1, x2, y2 in conn.execute(
                    f"SELECT camera, time, x1, y1, x2, y2 FROM face_detections WHERE {detections} AND x1 IS NOT NULL"
                    + where("face_detections"),
                    [detection_ids],
                ).fetchall()
            ]
        footage = []
        if "visit_log" in tables and "footage_manifest" in tables:
            footage = [
                f"{file} {entry:%Y-%m-%d %H:%M:%S}-{exit_:%H:%M:%S}"
                for file, entry, exit_ in conn.execute(
                    "SELECT m.file, v.entry_time, v.exit_time FROM visit_log v JOIN footage_manifest m "
                    "ON m.day = v.day AND m.start_time <= v.exit_time AND m.end_time >= v.entry_time "
                    "WHERE v.customer_id = ?"
                    + where("visit_log", "v.")
                    + where("footage_manifest", "m.")
                    + " ORDER BY v.entry_time, m.file",
                    [cid],
                ).fetchall()
            ]
        registry_rows = self.count(
            "SELECT count(*) FROM customer_registry WHERE customer_id = ?" + where("customer_registry"), [cid]
        )
        conn.execute(
            "UPDATE customer_registry SET centroid = NULL, best_crop_path = NULL WHERE customer_id = ?"
            + where("customer_registry"),
            [cid],
        )
        conn.execute(
            "UPDATE face_tracks SET embedding = NULL, best_crop_path = NULL WHERE track_id IN (SELECT unnest(?))"
            + where("face_tracks"),
            [list(tracks["track_id"])],
        )
        embeddings = 0
        if detection_ids and "face_embeddings" in tables:
            embeddings = self.count(
                f"SELECT count(*) FROM face_embeddings WHERE {detections}" + where("face_embeddings"), [detection_ids]
            )
            conn.execute(f"DELETE FROM face_embeddings WHERE {detections}" + where("face_embeddings"), [detection_ids])
        if detection_ids and "face_detections" in tables:
            conn.execute(
                "UPDATE face_detections SET crop_path = NULL, landmarks = NULL, usable = FALSE, "
                f"reject_reason = 'forgotten' WHERE {detections}" + where("face_detections"),
                [detection_ids],
            )
        visits = 0
        if "visit_log" in tables:
            visits = self.count("SELECT count(*) FROM visit_log WHERE customer_id = ?" + where("visit_log"), [cid])
            conn.execute("UPDATE visit_log SET best_crop_path = NULL WHERE customer_id = ?" + where("visit_log"), [cid])
        for table in ("unpaid_visits", "repeat_defaulters", "unpaid"):
            if table in tables:
                camera_column = "camera_customer_id" if table != "unpaid_visits" else "customer_id"
                conn.execute(
                    f"UPDATE {table} SET best_crop_path = NULL WHERE (customer_id = ? OR {camera_column} = ?)"
                    + where(table),
                    [cid, cid],
                )
        result = ForgetResult(cid, registry_rows, len(tracks), embeddings, len(crop_files), visits, footage)
        return result, crop_files, faces


def audit_log(wh: Warehouse) -> pd.DataFrame:
    with wh.connect() as conn:
        if FORGOTTEN not in wh.table_names(conn):
            return pd.DataFrame(columns=["customer_id", "requested_by", "requested_at", "reason"])
        return conn.execute(f"SELECT * FROM {FORGOTTEN} ORDER BY requested_at").df()
