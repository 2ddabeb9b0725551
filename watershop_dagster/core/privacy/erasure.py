"""Biometric data kept only as long as it must be, and erased on request.

What is biometric here: face crops (JPEG files), per-face embeddings (`face_embeddings`), track means
(`face_tracks.embedding`) and identity centroids (`customer_registry.centroid`). Counts (visits, sales,
durations) are not, and survive both retention and erasure, under the anonymous ID.
"""

from __future__ import annotations

import getpass
import json
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from watershop_dagster.core.storage.layout import DataLayout
from watershop_dagster.core.storage.warehouse import Warehouse, scalar

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


def forget_customer(
    wh: Warehouse,
    customer_id: str,
    requested_by: str | None = None,
    reason: str = "",
    data_dir: Path | None = None,
) -> ForgetResult:
    """Erase one person's biometric data everywhere; their visits and sales stay, anonymous. The ID is
    recorded in `forgotten_customers` (the audit log) and never matched again. With `data_dir`, where and
    when their faces were is kept in data/identity/erased.jsonl so that analysing a day again drops them."""
    requested_by = requested_by or getpass.getuser()
    with wh.transaction() as conn:
        tables = wh.table_names(conn)
        if "customer_registry" not in tables or not scalar(
            conn.execute("SELECT count(*) FROM customer_registry WHERE customer_id = ?", [customer_id]).fetchone()
        ):
            raise KeyError(f"{customer_id} is not in the customer registry")
        tracks = conn.execute(
            """SELECT t.day, t.track_id, t.detection_ids FROM face_tracks t
               JOIN track_identities i ON i.day = t.day AND i.track_id = t.track_id WHERE i.customer_id = ?""",
            [customer_id],
        ).df()
        detection_ids = [d for ids in tracks["detection_ids"] for d in (list(ids) if ids is not None else [])]
        crop_files = []
        if detection_ids and "face_detections" in tables:
            crop_files = [
                p
                for (p,) in conn.execute(
                    "SELECT crop_path FROM face_detections "
                    "WHERE detection_id IN (SELECT unnest(?)) AND crop_path IS NOT NULL",
                    [detection_ids],
                ).fetchall()
            ]
        erased_faces: list[list] = []
        if data_dir is not None and detection_ids and "face_detections" in tables:
            erased_faces = [
                [camera, pd.Timestamp(when).isoformat(), float(x1), float(y1), float(x2), float(y2)]
                for camera, when, x1, y1, x2, y2 in conn.execute(
                    "SELECT camera, time, x1, y1, x2, y2 FROM face_detections "
                    "WHERE detection_id IN (SELECT unnest(?)) AND x1 IS NOT NULL",
                    [detection_ids],
                ).fetchall()
            ]
        footage = []
        if "visit_log" in tables and "footage_manifest" in tables:
            footage = [
                f"{file} {entry:%Y-%m-%d %H:%M:%S}-{exit_:%H:%M:%S}"
                for file, entry, exit_ in conn.execute(
                    """SELECT m.file, v.entry_time, v.exit_time FROM visit_log v JOIN footage_manifest m
                       ON m.day = v.day AND m.start_time <= v.exit_time AND m.end_time >= v.entry_time
                       WHERE v.customer_id = ? ORDER BY v.entry_time, m.file""",
                    [customer_id],
                ).fetchall()
            ]
        registry_rows = scalar(
            conn.execute("SELECT count(*) FROM customer_registry WHERE customer_id = ?", [customer_id]).fetchone()
        )
        conn.execute(
            "UPDATE customer_registry SET centroid = NULL, best_crop_path = NULL WHERE customer_id = ?", [customer_id]
        )
        conn.execute(
            "UPDATE face_tracks SET embedding = NULL, best_crop_path = NULL WHERE track_id IN (SELECT unnest(?))",
            [list(tracks["track_id"])],
        )
        embeddings = 0
        if detection_ids:
            embeddings = scalar(
                conn.execute(
                    "SELECT count(*) FROM face_embeddings WHERE detection_id IN (SELECT unnest(?))", [detection_ids]
                ).fetchone()
            )
            conn.execute("DELETE FROM face_embeddings WHERE detection_id IN (SELECT unnest(?))", [detection_ids])
            conn.execute(
                """UPDATE face_detections
                   SET crop_path = NULL, landmarks = NULL, usable = FALSE, reject_reason = 'forgotten'
                   WHERE detection_id IN (SELECT unnest(?))""",
                [detection_ids],
            )
        visits = 0
        if "visit_log" in tables:
            visits = scalar(
                conn.execute("SELECT count(*) FROM visit_log WHERE customer_id = ?", [customer_id]).fetchone()
            )
            conn.execute("UPDATE visit_log SET best_crop_path = NULL WHERE customer_id = ?", [customer_id])
        for table in ("unpaid_visits", "repeat_defaulters", "unpaid"):
            if table in tables:
                conn.execute(
                    f"UPDATE {table} SET best_crop_path = NULL WHERE customer_id = ? OR "
                    f"({'camera_customer_id' if table != 'unpaid_visits' else 'customer_id'} = ?)",
                    [customer_id, customer_id],
                )
        conn.execute(f"""CREATE TABLE IF NOT EXISTS {FORGOTTEN} (customer_id VARCHAR, requested_by VARCHAR,
                          requested_at TIMESTAMP, reason VARCHAR, embeddings_deleted INTEGER, crops_deleted INTEGER)""")
        conn.execute(
            f"INSERT INTO {FORGOTTEN} VALUES (?, ?, ?, ?, ?, ?)",
            [customer_id, requested_by, datetime.now().replace(microsecond=0), reason, embeddings, len(crop_files)],
        )
    if data_dir is not None and erased_faces:
        register = erased_path(data_dir)
        register.parent.mkdir(parents=True, exist_ok=True)
        with register.open("a") as f:
            f.write(json.dumps({"customer_id": customer_id, "faces": erased_faces}) + "\n")
    # Deleted rows linger in old file blocks (DuckDB) or old Parquet files and snapshots (DuckLake) until purged.
    wh.purge_history()
    removed = 0
    for path in crop_files:
        try:
            Path(path).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return ForgetResult(customer_id, int(registry_rows), len(tracks), int(embeddings), removed, int(visits), footage)


def audit_log(wh: Warehouse) -> pd.DataFrame:
    with wh.connect() as conn:
        if FORGOTTEN not in wh.table_names(conn):
            return pd.DataFrame(columns=["customer_id", "requested_by", "requested_at", "reason"])
        return conn.execute(f"SELECT * FROM {FORGOTTEN} ORDER BY requested_at").df()
