"""Who the synthetic shop's people are, and writing a whole demo or evaluation data folder.

Demo: the face photos that ship inside installed packages (insightface's t1.jpg with six people and
Tom_Hanks_54745.png): one is the staff member, the rest are customers, two of them regulars.
Evaluation: real photos of many people (../shared/data/faces, several per person), a different photo for
every visit, so recognition has to work across photos the way it must across days in a real shop.
"""

from __future__ import annotations

import csv
import importlib.resources
import random
import shutil
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, time
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.core.footage.faces import FaceEngine
from watershop_dagster.core.storage.layout import DataLayout
from watershop_dagster.evaluation.split import half_of
from watershop_dagster.sim.scene import CameraSpec, HeadSprite, ShopScene, plan_clips, render_day
from watershop_dagster.sim.shop import CLOSE, OPEN, Person, ShopSimulator, write_till_day, write_truth


@dataclass
class Cast:
    customers: list[Person]
    staff: list[Person]
    sprites: dict[str, HeadSprite]
    enrolment: dict[str, list[np.ndarray]]  # staff name -> photos for data/staff/<name>/


def _read_image(path: str) -> np.ndarray:
    """cv2.imread for a photo known to be readable (shipped with insightface, or already read once)."""
    image = cv2.imread(path)
    assert image is not None, f"cannot read {path}"
    return image


def _largest_face(engine: FaceEngine, image: np.ndarray):
    faces = engine.detector.detect(image)
    return max(faces, key=lambda f: f.size) if faces else None


def demo_cast(engine: FaceEngine) -> Cast:
    images = importlib.resources.files("insightface") / "data" / "images"
    group = _read_image(str(images / "t1.jpg"))
    faces = sorted(engine.detector.detect(group), key=lambda f: f.box[0])
    sprites: dict[str, HeadSprite] = {}
    people = []
    for i, f in enumerate(faces):
        key = f"t1.jpg#{i}"
        sprites[key] = HeadSprite(group, f.box)
        people.append(key)
    tom = _read_image(str(images / "Tom_Hanks_54745.png"))
    tom = cv2.copyMakeBorder(tom, 56, 56, 56, 56, cv2.BORDER_REPLICATE)
    f = _largest_face(engine, tom)
    if f is not None:
        sprites["tom_hanks"] = HeadSprite(tom, f.box)
        people.append("tom_hanks")
    staff_key = people[0]
    staff = [Person("staff_ravi", (staff_key,))]
    customers = [
        Person(f"customer_{i + 1}", (key,), regular=i < 2, ledger_id=f"L{i + 1:03d}" if i < 2 else None)
        for i, key in enumerate(people[1:])
    ]
    sprite = sprites[staff_key]
    return Cast(customers, staff, sprites, {"staff_ravi": [sprite.image]})


def eval_cast(
    engine: FaceEngine,
    faces_root: Path,
    customers: int = 30,
    staff: int = 1,
    seed: int = 11,
    min_photos: int = 6,
    half: str | None = None,
    staff_footage_photos: int = 1,
) -> Cast:
    """People from a folder of labelled photos (faces/<person>/*.jpg, manifest.csv beside them), only those of
    one half of the fixed split (evaluation/split.py) when `half` is given. Staff are enrolled from their last
    three photos and appear in the footage with `staff_footage_photos` others (one a day, in turn)."""
    by_person: dict[str, list[Path]] = defaultdict(list)
    manifest = faces_root / "manifest.csv"
    if manifest.exists():
        for row in csv.DictReader(manifest.open()):
            by_person[row["identity"]].append(faces_root.parent / row["path"])
    else:
        for p in sorted(faces_root.glob("*/*")):
            by_person[p.parent.name].append(p)
    rng = random.Random(seed)
    names = sorted(n for n, ps in by_person.items() if len(ps) >= min_photos and (half is None or half_of(n) == half))
    rng.shuffle(names)
    sprites: dict[str, HeadSprite] = {}
    people: list[tuple[str, list[str]]] = []
    for name in names:
        if len(people) >= customers + staff:
            break
        keys = []
        for path in by_person[name]:
            img = cv2.imread(str(path))
            if img is None:
                continue
            faces = engine.detector.detect(img)
            # One clear face per photo, or the sprite could show someone else.
            if len(faces) != 1 or faces[0].size < 40:
                continue
            key = str(path)
            sprites[key] = HeadSprite(img, faces[0].box)
            keys.append(key)
        if len(keys) >= 4:
            people.append((name, keys))
    staff_people = people[:staff]
    cust = [
        Person(name, tuple(keys), regular=i < max(2, len(people) // 6), ledger_id=f"L{i + 1:03d}" if i < 3 else None)
        for i, (name, keys) in enumerate(people[staff:])
    ]
    enrol = {}
    staff_list = []
    for name, keys in staff_people:
        # Enrol staff with photos that never appear in the footage.
        footage_keys = keys[: max(1, min(staff_footage_photos, len(keys) - 3))]
        staff_list.append(Person(f"staff_{name}", tuple(footage_keys)))
        enrol[f"staff_{name}"] = [_read_image(k) for k in keys[-3:]]
    return Cast(cust, staff_list, sprites, enrol)


def write_world(
    data_dir: Path,
    days: list[date],
    cast: Cast,
    camera: CameraSpec | None = None,
    footage: bool = True,
    visits_per_day: int = 14,
    malformed_rows: bool = True,
    seed: int = 7,
    newcomers_per_day: int = 2,
    faceless_share: float = 0.0,
    max_waiting: int = 1,
    staff_photo_per_day: bool = False,
    door_camera: bool = False,
    hours: tuple[time, time] = (OPEN, CLOSE),
) -> None:
    """`door_camera`: a second camera (cam2, DVR channel 2) above the door records the same days
    (`CameraSpec.view`); `hours`: when the shop opens and closes (`ShopSimulator.hours`)."""
    layout = DataLayout(Path(data_dir))
    camera = camera or CameraSpec()
    sim = ShopSimulator(
        cast.customers,
        cast.staff,
        seed=seed,
        visits_per_day=visits_per_day,
        newcomers_per_day=newcomers_per_day,
        faceless_share=faceless_share,
        max_waiting=max_waiting,
        staff_photo_per_day=staff_photo_per_day,
        hours=hours,
    )
    # A visit uses a different photo of the person each time where there are several.
    scenes = [ShopScene(camera, cast.sprites, seed=seed)]
    if door_camera:
        door = replace(camera, name="cam2", channel=2, view="door")
        scenes.append(ShopScene(door, cast.sprites, seed=seed + 1))
    for name, photos in cast.enrolment.items():
        folder = layout.staff_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(photos):
            cv2.imwrite(str(folder / f"{i + 1}.jpg"), img)
    for i, day in enumerate(days):
        plan = sim.plan_day(day, i)
        write_till_day(plan, layout.transactions_dir, malformed=(2 if malformed_rows and i % 3 == 1 else 0))
        recorded = [(c.start, c.end) for c in plan_clips(plan, camera)]
        write_truth(plan, layout.root / "truth", recorded if footage else None)
        if footage:
            folder = layout.footage_day_dir(day)
            if folder.exists():
                shutil.rmtree(folder)
            for scene in scenes:
                render_day(plan, scene, folder)


def write_demo(data_dir: Path, days: list[date], footage: bool = True) -> None:
    engine = FaceEngine.from_models()
    write_world(Path(data_dir), days, demo_cast(engine), footage=footage)
