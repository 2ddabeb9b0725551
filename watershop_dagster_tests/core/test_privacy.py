from datetime import date

import numpy as np
import pandas as pd
import pytest

from watershop_dagster.core.privacy.erasure import RetentionRules, apply_retention, audit_log, forget_customer
from watershop_dagster.core.storage.layout import DataLayout

D_OLD, D_NEW = date(2024, 5, 1), date(2024, 5, 10)


@pytest.fixture
def stored(warehouse, tmp_path):
    layout = DataLayout(tmp_path)
    crops = {}
    for day in (D_OLD, D_NEW):
        folder = layout.crops_dir(day)
        folder.mkdir(parents=True)
        crops[day] = [folder / f"f{i}.jpg" for i in range(2)]
        for p in crops[day]:
            p.write_bytes(b"jpeg")
        warehouse.replace_partition(
            "face_detections",
            day,
            pd.DataFrame(
                {
                    "detection_id": [f"{day}/d{i}" for i in range(2)],
                    "crop_path": [str(p) for p in crops[day]],
                    "usable": [True, True],
                }
            ),
        )
        warehouse.replace_partition(
            "face_embeddings",
            day,
            pd.DataFrame(
                {
                    "detection_id": [f"{day}/d{i}" for i in range(2)],
                    "embedding": [np.ones(512, np.float32).tolist()] * 2,
                }
            ),
        )
        warehouse.replace_partition(
            "face_tracks",
            day,
            pd.DataFrame(
                {
                    "track_id": [f"{day}/T1", f"{day}/T2"],
                    "best_crop_path": [str(crops[day][0]), str(crops[day][1])],
                    "detection_ids": [[f"{day}/d0"], [f"{day}/d1"]],
                    "embedding": [np.ones(512, np.float32).tolist()] * 2,
                }
            ),
        )
        warehouse.replace_partition(
            "track_identities",
            day,
            pd.DataFrame({"track_id": [f"{day}/T1", f"{day}/T2"], "customer_id": ["CUST_0001", "CUST_0002"]}),
        )
        warehouse.replace_partition(
            "customer_registry",
            day,
            pd.DataFrame(
                {
                    "customer_id": ["CUST_0001", "CUST_0002"],
                    "is_staff": [False, False],
                    "centroid": [np.ones(512, np.float32).tolist()] * 2,
                    "best_crop_path": [str(crops[day][0]), str(crops[day][1])],
                    "visit_count": [1, 1],
                }
            ),
        )
        warehouse.replace_partition(
            "visit_log",
            day,
            pd.DataFrame(
                {
                    "visit_id": [f"{day}/V1", f"{day}/V2"],
                    "customer_id": ["CUST_0001", "CUST_0002"],
                    "best_crop_path": [str(crops[day][0]), str(crops[day][1])],
                    "is_staff": [False, False],
                }
            ),
        )
    return warehouse, layout, crops


def test_retention_deletes_old_crops_and_purges_old_embeddings_only(stored):
    wh, layout, crops = stored
    result = apply_retention(wh, layout, date(2024, 5, 11), RetentionRules(crop_days=7, embedding_grace_days=2))
    assert result.crop_folders_deleted == [D_OLD.isoformat()] and result.embeddings_purged == 2
    assert not layout.crops_dir(D_OLD).exists() and all(p.exists() for p in crops[D_NEW])
    assert (
        wh.query("SELECT count(*) n FROM face_detections WHERE day = ? AND crop_path IS NOT NULL", [D_OLD])["n"][0] == 0
    )
    assert (
        wh.query("SELECT count(*) n FROM visit_log WHERE day = ? AND best_crop_path IS NOT NULL", [D_NEW])["n"][0] == 2
    )
    assert wh.query("SELECT count(*) n FROM face_embeddings")["n"][0] == 2  # only the recent day's remain
    # Identity still works: track means and registry centroids are kept.
    assert wh.query("SELECT count(*) n FROM face_tracks WHERE embedding IS NOT NULL")["n"][0] == 4
    assert wh.query("SELECT count(*) n FROM visit_log")["n"][0] == 4  # counts untouched


def test_forget_erases_one_person_everywhere_and_keeps_counts(stored):
    wh, layout, crops = stored
    result = forget_customer(wh, "CUST_0001", requested_by="owner", reason="asked at the counter")
    assert (result.embeddings_deleted, result.crops_deleted, result.tracks, result.visits_kept) == (2, 2, 2, 2)
    assert not crops[D_OLD][0].exists() and not crops[D_NEW][0].exists() and crops[D_NEW][1].exists()
    reg = wh.query("SELECT customer_id, centroid, best_crop_path FROM customer_registry ORDER BY customer_id")
    assert (
        reg[reg.customer_id == "CUST_0001"]["centroid"].isna().all()
        and reg[reg.customer_id == "CUST_0002"]["centroid"].notna().all()
    )
    assert wh.query("SELECT count(*) n FROM face_embeddings WHERE detection_id LIKE '%d0'")["n"][0] == 0
    assert (
        wh.query("SELECT count(*) n FROM face_tracks WHERE track_id LIKE '%T1' AND embedding IS NOT NULL")["n"][0] == 0
    )
    assert wh.query("SELECT count(*) n FROM visit_log WHERE customer_id = 'CUST_0001'")["n"][0] == 2
    log = audit_log(wh)
    assert log["customer_id"].tolist() == ["CUST_0001"] and log["requested_by"].tolist() == ["owner"]
    with pytest.raises(KeyError, match="CUST_0999"):
        forget_customer(wh, "CUST_0999")


def test_erased_faces_match_by_time_and_place_and_old_footage_is_deleted_with_a_note(tmp_path):
    from datetime import datetime

    from watershop_dagster.core.privacy.erasure import ErasedFaces, delete_old_footage, footage_deleted_days
    from watershop_dagster.core.storage.layout import DataLayout

    t = datetime(2024, 4, 1, 9, 0, 0)
    erased = ErasedFaces([{"customer_id": "CUST_0003", "faces": [["cam1", t.isoformat(), 10, 10, 60, 70]]}])
    assert erased.match("cam1", t.replace(microsecond=500000), (12, 11, 61, 72)) == "CUST_0003"
    assert erased.match("cam1", t, (200, 10, 250, 70)) is None  # someone else, beside them
    assert erased.match("cam2", t, (10, 10, 60, 70)) is None
    assert erased.customer_in_span("cam1", t.replace(second=0, minute=0), t.replace(minute=1)) == "CUST_0003"
    layout = DataLayout(tmp_path)
    for day in ("2024-04-01", "2024-04-20"):
        (layout.footage_dir / day).mkdir(parents=True)
        (layout.footage_dir / day / "cam1_090000.mp4").write_bytes(b"x")
    assert delete_old_footage(layout, date(2024, 4, 21), 0) == []
    assert delete_old_footage(layout, date(2024, 4, 21), 14) == ["2024-04-01"]
    assert not (layout.footage_dir / "2024-04-01").exists() and (layout.footage_dir / "2024-04-20").exists()
    assert footage_deleted_days(tmp_path) == {"2024-04-01"}


def test_forget_erases_only_the_named_shops_customer(warehouse, tmp_path):
    """Each shop numbers its own customers: north's CUST_0001 is not south's, though their track and
    detection IDs are the same strings."""
    for shop in ("north", "south"):
        warehouse.replace_partitions(
            D_NEW,
            {
                "face_embeddings": pd.DataFrame({"detection_id": ["d0"], "embedding": [np.ones(512).tolist()]}),
                "face_tracks": pd.DataFrame(
                    {"track_id": ["T1"], "detection_ids": [["d0"]], "embedding": [np.ones(512).tolist()]}
                ),
                "track_identities": pd.DataFrame({"track_id": ["T1"], "customer_id": ["CUST_0001"]}),
                "customer_registry": pd.DataFrame(
                    {"customer_id": ["CUST_0001"], "is_staff": [False], "centroid": [np.ones(512).tolist()]}
                ),
            },
            shop=shop,
        )
    result = forget_customer(warehouse, "CUST_0001", requested_by="owner", shop="north")
    assert (result.embeddings_deleted, result.tracks, result.registry_rows) == (1, 1, 1)
    kept = warehouse.query(
        "SELECT r.shop, r.centroid IS NOT NULL AS centroid, t.embedding IS NOT NULL AS track, count(e.detection_id) "
        "AS faces FROM customer_registry r JOIN face_tracks t USING (shop) LEFT JOIN face_embeddings e USING (shop) "
        "GROUP BY ALL ORDER BY r.shop"
    )
    assert kept.values.tolist() == [["north", False, False, 0], ["south", True, True, 1]]
    assert audit_log(warehouse)[["customer_id", "shop"]].values.tolist() == [["CUST_0001", "north"]]
    with pytest.raises(KeyError, match="of shop west"):
        forget_customer(warehouse, "CUST_0001", shop="west")
    # a chain sharing identities mints IDs unique across shops: without a shop, every shop that knows it
    assert forget_customer(warehouse, "CUST_0001").registry_rows == 2
