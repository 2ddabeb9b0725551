"""Synthetic fixed-camera footage of the shop, built from face photos.

The repo may not ship pictures of people, so demo and evaluation footage is composed at run time: a shop
interior (door, counter, shelves of cans), a staff member behind the counter, and customers whose heads are
cut from real photos walking in from the door, waiting at the counter and leaving. The camera records on
motion the way small-shop DVRs do: one file per burst of activity, named <camera>_<HHMMSS>.mp4 by its start
time, plus the shutter going up at opening and down at closing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.sim.shop import DayPlan, PlannedVisit


@dataclass(frozen=True)
class CameraSpec:
    name: str = "cam1"
    width: int = 640
    height: int = 360
    fps: float = 12.0
    face_fraction: float = 0.2  # face height as a share of frame height at the counter
    lead_seconds: float = 4.0  # recording starts this long before the first person appears
    tail_seconds: float = 4.0


class HeadSprite:
    """A head cut from a photo around a detected face box, with a soft elliptical mask."""

    def __init__(self, image: np.ndarray, box: np.ndarray, margin: float = 1.7):
        x1, y1, x2, y2 = box[:4]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        side = max(x2 - x1, y2 - y1) * margin
        h, w = image.shape[:2]
        pad = int(side)
        padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        sx1, sy1 = int(cx - side / 2) + pad, int(cy - side / 2) + pad
        self.image = padded[sy1 : sy1 + int(side), sx1 : sx1 + int(side)].copy()
        self.face_height = float(y2 - y1)
        self.side = int(side)
        mask = np.zeros((self.side, self.side), np.float32)
        cv2.ellipse(
            mask, (self.side // 2, self.side // 2), (int(self.side * 0.42), int(self.side * 0.49)), 0, 0, 360, 1.0, -1
        )
        self.mask = cv2.GaussianBlur(mask, (0, 0), self.side * 0.03 + 1)

    def scaled(self, face_px: float) -> tuple[np.ndarray, np.ndarray]:
        scale = face_px / max(self.face_height, 1.0)
        size = max(8, int(self.side * scale))
        return cv2.resize(self.image, (size, size), interpolation=cv2.INTER_AREA), cv2.resize(self.mask, (size, size))


def _colour(name: str) -> tuple[int, int, int]:
    d = hashlib.md5(name.encode()).digest()
    return int(60 + d[0] % 160), int(60 + d[1] % 160), int(60 + d[2] % 160)


def _paste(frame: np.ndarray, sprite: np.ndarray, mask: np.ndarray, cx: int, cy: int) -> None:
    h, w = sprite.shape[:2]
    x0, y0 = cx - w // 2, cy - h // 2
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(frame.shape[1], x0 + w), min(frame.shape[0], y0 + h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    sx0, sy0 = fx0 - x0, fy0 - y0
    m = mask[sy0 : sy0 + fy1 - fy0, sx0 : sx0 + fx1 - fx0, None]
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = (region * (1 - m) + sprite[sy0 : sy0 + fy1 - fy0, sx0 : sx0 + fx1 - fx0] * m).astype(
        np.uint8
    )


class ShopScene:
    def __init__(self, camera: CameraSpec, sprites: dict[str, HeadSprite], seed: int = 0):
        self.cam, self.sprites = camera, sprites
        self.background = self._draw_background(seed)
        rng = np.random.default_rng(seed)
        # A few precomputed sensor-noise frames, cycled: real cameras never give two identical frames.
        self.noise = [rng.integers(-3, 4, self.background.shape, dtype=np.int16) for _ in range(4)]
        self.face_px = camera.height * camera.face_fraction

    def _draw_background(self, seed: int) -> np.ndarray:
        W, H = self.cam.width, self.cam.height
        img = np.zeros((H, W, 3), np.uint8)
        img[: int(H * 0.62)] = (178, 196, 206)  # wall
        img[int(H * 0.62) :] = (120, 132, 140)  # floor
        cv2.rectangle(img, (int(W * 0.03), int(H * 0.12)), (int(W * 0.18), int(H * 0.85)), (70, 60, 50), -1)  # door
        for row in range(3):  # shelves with blue cans
            y = int(H * (0.12 + row * 0.13))
            cv2.rectangle(img, (int(W * 0.62), y + int(H * 0.09)), (int(W * 0.97), y + int(H * 0.1)), (60, 80, 100), -1)
            for k in range(7):
                x = int(W * (0.64 + k * 0.047))
                cv2.rectangle(img, (x, y), (x + int(W * 0.035), y + int(H * 0.09)), (170, 110, 40), -1)
        rng = np.random.default_rng(seed + 1)
        texture = rng.normal(0, 4, (H, W, 1)).astype(np.int16)
        return np.clip(img.astype(np.int16) + texture, 0, 255).astype(np.uint8)

    def _counter(self, frame: np.ndarray) -> None:
        W, H = self.cam.width, self.cam.height
        cv2.rectangle(frame, (int(W * 0.3), int(H * 0.74)), (int(W * 0.98), int(H * 0.98)), (40, 90, 140), -1)

    def _person(self, frame, name: str, image_key: str, cx: float, scale: float, behind_counter: bool) -> None:
        _W, H = self.cam.width, self.cam.height
        face = self.face_px * scale
        head_cy = int(H * (0.36 if not behind_counter else 0.4))
        body_w, body_h = int(face * 1.5), int(face * 2.6)
        top = head_cy + int(face * 0.55)
        cv2.rectangle(
            frame, (int(cx - body_w / 2), top), (int(cx + body_w / 2), min(H - 1, top + body_h)), _colour(name), -1
        )
        sprite, mask = self.sprites[image_key].scaled(face)
        _paste(frame, sprite, mask, int(cx), head_cy)

    def render(self, t: datetime, visits: list[PlannedVisit], lights: float, index: int) -> np.ndarray:
        frame = self.background.copy()
        W = self.cam.width
        for v in visits:
            if not (v.entry <= t <= v.exit):
                continue
            if v.is_staff:
                self._person(frame, v.person, v.image, W * 0.8, 0.95, behind_counter=True)
        self._counter(frame)
        door_x, counter_x = W * 0.11, W * 0.42
        for v in visits:
            if v.is_staff or not (v.entry <= t <= v.exit):
                continue
            total = (v.exit - v.entry).total_seconds()
            walk = min(3.0, total / 4)
            s = (t - v.entry).total_seconds()
            if s < walk:
                x = door_x + (counter_x - door_x) * s / walk
            elif s > total - walk:
                x = counter_x - (counter_x - door_x) * (s - (total - walk)) / walk
            else:
                x = counter_x + 6 * np.sin(s * 1.3)  # small sway while waiting
            self._person(frame, v.person, v.image, x, 1.0, behind_counter=False)
        out = frame.astype(np.int16)
        if lights < 1.0:
            out = (out * (0.08 + 0.92 * lights)).astype(np.int16)
        out += self.noise[index % len(self.noise)]
        return np.clip(out, 0, 255).astype(np.uint8)


@dataclass
class Clip:
    start: datetime
    end: datetime
    kind: str  # "activity", "opening", "closing"


def plan_clips(plan: DayPlan, cam: CameraSpec) -> list[Clip]:
    """Motion-triggered recording: one clip per burst of customer activity, plus shutter up and down."""
    lead, tail = timedelta(seconds=cam.lead_seconds), timedelta(seconds=cam.tail_seconds)
    spans = sorted((v.entry - lead, v.exit + tail) for v in plan.visits if not v.is_staff)
    clips: list[Clip] = []
    for a, b in spans:
        if clips and a <= clips[-1].end + timedelta(seconds=2):
            clips[-1].end = max(clips[-1].end, b)
        else:
            clips.append(Clip(a, b, "activity"))
    if plan.opening:
        clips.insert(0, Clip(plan.opening - timedelta(seconds=6), plan.opening + timedelta(seconds=6), "opening"))
    if plan.closing:
        clips.append(Clip(plan.closing - timedelta(seconds=6), plan.closing + timedelta(seconds=6), "closing"))
    return clips


def render_day(plan: DayPlan, scene: ShopScene, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cam = scene.cam
    written = []
    for clip in plan_clips(plan, cam):
        path = folder / f"{cam.name}_{clip.start.strftime('%H%M%S')}.mp4"
        # File names carry whole seconds: frames are timed from that second so timestamps stay exact.
        start = clip.start.replace(microsecond=0)
        n = int((clip.end - start).total_seconds() * cam.fps)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), cam.fps, (cam.width, cam.height))
        for i in range(n):
            t = start + timedelta(seconds=i / cam.fps)
            lights = (
                1.0
                if (plan.opening is None or plan.opening <= t) and (plan.closing is None or t < plan.closing)
                else 0.0
            )
            writer.write(scene.render(t, plan.visits, lights, i))
        writer.release()
        written.append(path)
    return written


def plan_busy_span(
    start: datetime,
    seconds: float,
    people: list[str],
    images: dict[str, list[str]],
    presence: float = 1 / 3,
    dwell: tuple[int, int] = (30, 90),
    seed: int = 0,
) -> list[PlannedVisit]:
    """Customers one after another so that someone is in the shop about `presence` of the time."""
    import random

    rng = random.Random(seed)
    visits, t = [], start + timedelta(seconds=rng.uniform(20, 60))
    end = start + timedelta(seconds=seconds)
    mean_dwell = sum(dwell) / 2
    mean_gap = mean_dwell * (1 - presence) / presence
    while True:
        d = rng.uniform(*dwell)
        if t + timedelta(seconds=d) > end - timedelta(seconds=5):
            break
        person = rng.choice(people)
        visits.append(PlannedVisit(person, t, t + timedelta(seconds=d), rng.choice(images[person])))
        t += timedelta(seconds=d + rng.expovariate(1 / mean_gap) + 5)
    return visits


def render_continuous(
    scene: ShopScene,
    visits: list[PlannedVisit],
    path: Path,
    start: datetime,
    seconds: float,
    gop_seconds: float = 2.0,
    crf: int = 23,
    preset: str = "veryfast",
) -> Path:
    """One continuous H.264 file (what an hourly-splitting DVR writes), keyframe every `gop_seconds`.
    Frames with only the staff (whose visit spans the file) reuse precomputed renders, so long quiet
    stretches cost only encoding."""
    import av

    cam = scene.cam
    fps = int(round(cam.fps))
    staff = [v for v in visits if v.is_staff]
    visits = [v for v in visits if not v.is_staff]
    base = [scene.render(start, staff, 1.0, k) for k in range(len(scene.noise))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = cam.width, cam.height, "yuv420p"
        # veryfast keeps CABAC and B-frames on, as camera encoders do, so decoding costs what it does on real footage.
        stream.options = {
            "preset": preset,
            "crf": str(crf),
            "g": str(int(gop_seconds * fps)),
            "keyint_min": str(int(gop_seconds * fps)),
            "sc_threshold": "0",
        }
        ordered = sorted(visits, key=lambda v: v.entry)
        for i in range(int(seconds * fps)):
            t = start + timedelta(seconds=i / fps)
            present = [v for v in ordered if v.entry <= t <= v.exit]
            if present:
                frame = scene.render(t, staff + present, 1.0, i)
            else:
                frame = base[i % len(base)]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
