"""Biometric data kept only as long as it must be, and erased on request.

What is biometric here: face crops (JPEG files), per-face embeddings (`face_embeddings`), track means
(`face_tracks.embedding`) and identity centroids (`customer_registry.centroid`). Counts (visits, sales,
durations) are not, and survive both retention and erasure, under the anonymous ID.
"""

from __future__ import annotations

import getpass
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from watershop_dagster.core.storage.layout import DataLayout
from watershop_dagster.core.storage.warehouse import Warehouse, scalar

FORGOTTEN = "forgotten_customers"


@dataclass(frozen=True)
class RetentionRules:
    crop_days: int = 7  # face crops are deleted once older than this
    embedding_grace_days: int = 2  # per-face embeddings are purged this long after their day


@dataclass
class RetentionResult:
    crop_folders_deleted: list[str]
    embeddings_purged: int


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
    return RetentionResult(deleted, int(purged))


@dataclass
class ForgetResult:
    customer_id: str
    registry_rows: int
    tracks: int
    embeddings_deleted: int
    crops_deleted: int
    visits_kept: int


def forget_customer(wh: Warehouse, customer_id: str, requested_by: str | None = None, reason: str = "") -> ForgetResult:
    """Erase one person's biometric data everywhere; their visits and sales stay, anonymous. The ID is
    recorded in `forgotten_customers` (the audit log) and never matched again."""
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
    # Deleted rows linger in old file blocks (DuckDB) or old Parquet files and snapshots (DuckLake) until purged.
    wh.purge_history()
    removed = 0
    for path in crop_files:
        try:
            Path(path).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return ForgetResult(customer_id, int(registry_rows), len(tracks), int(embeddings), removed, int(visits))


def audit_log(wh: Warehouse) -> pd.DataFrame:
    with wh.connect() as conn:
        if FORGOTTEN not in wh.table_names(conn):
            return pd.DataFrame(columns=["customer_id", "requested_by", "requested_at", "reason"])
        return conn.execute(f"SELECT * FROM {FORGOTTEN} ORDER BY requested_at").df()
