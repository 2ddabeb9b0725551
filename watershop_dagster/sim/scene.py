"""Synthetic fixed-camera footage of the shop, built from face photos.

The repo may not ship pictures of people, so demo and evaluation footage is composed at run time: a shop
interior (door, counter, shelves of cans), a staff member behind the counter, and customers whose heads are
cut from real photos walking in from the door, waiting at the counter and leaving. The camera records as
`CameraSpec.recording` says: on motion (one file per burst of activity, plus the shutter going up at opening
and down at closing), or continuously in files of `segment_minutes` cut on the clock, as most DVRs record by
default; each file named <camera>_<HHMMSS>.mp4 by its start time, or as a DVR names its exports
(`CameraSpec.file_names`).
"""

from __future__ import annotations

import functools
import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.sim.dvr import (
    EXPORTS,
    RAW_SUFFIXES,
    burn_in_clock,
    cut_by_power_failure,
    cut_stream_by_power_failure,
    recording_name,
    write_dav,
    write_program_stream,
    write_raw_stream,
)
from watershop_dagster.sim.shop import DayPlan, PlannedVisit

DVR_CODECS = {"h264": "H.264", "hevc": "HEVC"}  # CameraSpec.codec values encoded as a DVR does, and their names
_EXPORT_NAMES = {"raw": "raw streams", "dav": ".dav", "ps": "Hikvision program streams (.mp4)"}


@dataclass(frozen=True)
class CameraSpec:
    name: str = "cam1"
    width: int = 640
    height: int = 360
    fps: float = 12.0
    face_fraction: float = 0.2  # face height as a share of frame height at the counter
    lead_seconds: float = 4.0  # recording starts this long before the first person appears
    tail_seconds: float = 4.0
    # Recording conditions (bench/evaluate_visits.py --condition). face_px: the face detector box's shorter
    # side in px, drawn per visit from this range (None: face_fraction of the frame height, every visit).
    face_px: tuple[float, float] | None = None
    light: float = 1.0  # lights when the shop is open (0.6: a dim shop)
    # mp4v (OpenCV), or h264 / hevc (libx264 / libx265 at a capped bitrate with B-frames, as shop DVRs record)
    codec: str = "mp4v"
    kbps: int = 400  # h264 and hevc: bitrate, maxrate and bufsize
    gop_seconds: float = 2.0  # h264 and hevc: a keyframe this often
    # How the recorder exports (sim/dvr.py): its file names, the clock it burns into the picture, and whether
    # the power fails once a day while it writes a recording (its last second and its index lost).
    file_names: str = "camera"
    clock_overlay: bool = False
    power_cut: bool = False
    # mp4, or as a DVR's other exports (sim/dvr.py EXPORTS; h264 / hevc only): a raw stream, a Dahua .dav or a
    # Hikvision program stream named .mp4, all recorded without B-frames
    export: str = "mp4"
    # A DVR's half-width ("lite", "1080N") mode: each frame is squeezed to this width when stored, and the
    # file says nothing of it (pixels twice as wide as tall). None: stored as drawn.
    stored_width: int | None = None
    # Where the camera looks from. "counter": behind the clerk, at the customers' faces. "door": above the door,
    # into the shop (the picture mirrored: the door on the right), seeing customers' backs as they walk in and
    # wait, their faces only as they walk out; the clerk faces it. `channel` is its DVR channel (file names).
    view: str = "counter"
    channel: int = 1
    # "motion": a file per burst of customers (plus opening and closing); "continuous": files of
    # segment_minutes, cut on the clock (08:55:00-09:00:00), from the last cut at least segment_minutes before
    # opening to the first cut at least as long after closing (the night's dark hours beyond are not drawn).
    recording: str = "motion"
    segment_minutes: float = 60.0

    @property
    def stored_size(self) -> tuple[int, int]:
        return (self.stored_width or self.width, self.height)

    def describe(self) -> str:
        """The conditions in words, for reports: resolution, face size, light, codec."""
        face = f"{self.face_px[0]:g}-{self.face_px[1]:g} px" if self.face_px else f"{self.face_fraction:.0%} of height"
        codec = "mp4v"
        if self.codec in DVR_CODECS:
            # The keyframe interval and frame rate are named only where they differ from the defaults.
            extras = [f"keyframe every {self.gop_seconds:g} s"] if self.gop_seconds != CameraSpec.gop_seconds else []
            extras += [f"{self.fps:g} fps"] if self.fps != CameraSpec.fps else []
            codec = f"{DVR_CODECS[self.codec]} {self.kbps} kbit/s" + "".join(f", {e}" for e in extras)
        dvr = [f"{self.file_names} file names"] if self.file_names != CameraSpec.file_names else []
        dvr += ["burned-in clock"] if self.clock_overlay else []
        dvr += ["one recording a day cut by a power failure"] if self.power_cut else []
        if self.export != "mp4":
            dvr.append(f"exported as {_EXPORT_NAMES[self.export]} (no B-frames)")
        size = f"{self.width}x{self.height}"
        if self.stored_width:
            size += f" stored at {self.stored_width}x{self.height} (half-width mode)"
        if self.recording == "continuous":
            dvr.append(f"recording continuously in {self.segment_minutes:g}-minute files")
        view = [f"{self.view} view"] if self.view != CameraSpec.view else []
        return ", ".join([size, f"face {face}", f"light {self.light:.0%}", codec, *dvr, *view])

    @property
    def label(self) -> str:
        """The camera's name on its picture (the DVR's on-screen display)."""
        return f"{self.name.upper()} {self.view.upper()}"


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
        self.face_width = float(x2 - x1)
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

    def face_height_for_short_side(self, short_px: float) -> float:
        """The face height to draw so that the face box's shorter side is `short_px` (the detector's box on
        the source photo scales with the sprite)."""
        return short_px * self.face_height / max(min(self.face_width, self.face_height), 1.0)


# A face box is taller than wide: the drawn face's height for a box's shorter side (SCRFD's boxes on 144 of
# ../shared/data/faces: median 1.38 times as tall as wide, 95% under 1.54).
_FACE_HEIGHT_PER_SHORT_SIDE = 1.38


def _colour(name: str) -> tuple[int, int, int]:
    d = hashlib.md5(name.encode()).digest()
    return int(60 + d[0] % 160), int(60 + d[1] % 160), int(60 + d[2] % 160)


def _unit(key: str) -> float:
    """A fixed number in [0, 1) from a string (per-visit draws that do not disturb any random stream)."""
    return int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "big") / 2**32


SKIN = ((150, 180, 220), (110, 140, 190), (70, 100, 150), (50, 75, 110))
HAIR = ((25, 25, 30), (30, 45, 70), (60, 80, 110), (120, 120, 125))


def draw_figure(
    frame: np.ndarray, name: str, cx: float, head_cy: float, face: float, step: float = 0.0, faceless: bool = False
) -> None:
    """A standing person under a head of face height `face` centred at (cx, head_cy): neck, shoulders, a torso
    in the person's shirt colour, arms with hands, legs in trousers with shoes, about 8 face heights tall,
    shaded as a rounded body lit from above (what a person detector takes for a person; flat cut-outs it
    mostly does not). `step` in [-1, 1] swings the legs and arms (walking). With `faceless`, the head is the
    back of one (hair, ears, sometimes a cap): someone with their back to the camera."""
    H, W = frame.shape[:2]
    f = face
    x0, y0 = int(cx - 2.2 * f), int(head_cy - 1.3 * f)
    x1, y1 = int(cx + 2.2 * f), int(head_cy + 8.3 * f)
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    person, alpha = figure_layer(name, f, step, faceless, cx - x0, head_cy - y0, (y1 - y0, x1 - x0))
    sy0, sx0 = fy0 - y0, fx0 - x0
    sl = (slice(sy0, sy0 + fy1 - fy0), slice(sx0, sx0 + fx1 - fx0))
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = np.clip(region * (1 - alpha[sl]) + person[sl] * alpha[sl], 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=32)
def figure_layer(
    name: str, f: float, step: float, faceless: bool, hx: float, hy: float, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The shaded figure of `draw_figure` in its own layer of `shape`, head centred at (hx, hy) in it: the
    colours (float32) and the alpha to blend them with. Pure and cached: someone standing still (the clerk
    behind the counter, a customer waiting) is the same layer frame after frame, and the blurs that shade it
    are most of a rendered day's time. Callers must not write into the arrays."""
    layer = np.zeros((*shape, 3), np.uint8)
    mask = np.zeros(layer.shape[:2], np.uint8)
    shirt = _colour(name)
    d = hashlib.md5(("legs/" + name).encode()).digest()
    trousers = (int(30 + d[0] % 70), int(30 + d[1] % 70), int(30 + d[2] % 90))
    skin = SKIN[d[3] % len(SKIN)]
    hair = HAIR[d[4] % len(HAIR)]
    aa = cv2.LINE_AA
    neck_y, sh_y = hy + 0.75 * f, hy + 1.05 * f
    hip_y = sh_y + 3.0 * f
    foot_y = hip_y + 3.5 * f
    sh_half, hip_half = 1.15 * f, 0.8 * f

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(round(x)), int(round(y))

    def both(draw) -> None:
        draw(layer, None)
        draw(mask, 255)

    def col(c, m):
        return m if m is not None else c

    both(
        lambda img, m: cv2.rectangle(
            img, pt(hx - 0.3 * f, neck_y - 0.3 * f), pt(hx + 0.3 * f, sh_y + 0.2 * f), col(skin, m), -1
        )
    )
    leg_w = max(2, int(0.6 * f))
    for side in (-1, 1):
        hip = pt(hx + side * 0.42 * f, hip_y - 0.1 * f)
        knee = pt(hx + side * 0.5 * f + side * step * 0.35 * f, hip_y + 1.75 * f)
        foot = pt(hx + side * 0.62 * f + side * step * 0.7 * f, foot_y)
        both(lambda img, m, a=hip, b=knee: cv2.line(img, a, b, col(trousers, m), leg_w + 2, aa))
        both(lambda img, m, a=knee, b=foot: cv2.line(img, a, b, col(trousers, m), leg_w, aa))
        both(
            lambda img, m, c=foot, s=side: cv2.ellipse(
                img,
                pt(c[0] + s * 0.12 * f, c[1]),
                (int(0.4 * f) + 1, int(0.17 * f) + 1),
                0,
                0,
                360,
                col((30, 30, 35), m),
                -1,
                aa,
            )
        )
    torso = np.array(
        [
            pt(hx - sh_half, sh_y + 0.3 * f),
            pt(hx - sh_half + 0.35 * f, sh_y - 0.12 * f),
            pt(hx + sh_half - 0.35 * f, sh_y - 0.12 * f),
            pt(hx + sh_half, sh_y + 0.3 * f),
            pt(hx + hip_half + 0.05 * f, hip_y + 0.25 * f),
            pt(hx - hip_half - 0.05 * f, hip_y + 0.25 * f),
        ],
        np.int32,
    )
    both(lambda img, m: cv2.fillPoly(img, [torso], col(shirt, m), aa))
    arm_w = max(2, int(0.42 * f))
    sleeve = tuple(int(c * 0.9) for c in shirt)
    for side in (-1, 1):
        shoulder = pt(hx + side * (sh_half - 0.2 * f), sh_y + 0.25 * f)
        elbow = pt(hx + side * (sh_half + 0.15 * f) - side * step * 0.2 * f, sh_y + 1.6 * f)
        hand = pt(hx + side * (sh_half + 0.05 * f) - side * step * 0.5 * f, hip_y + 0.2 * f)
        both(lambda img, m, a=shoulder, b=elbow: cv2.line(img, a, b, col(sleeve, m), arm_w + 1, aa))
        both(lambda img, m, a=elbow, b=hand: cv2.line(img, a, b, col(sleeve, m), arm_w, aa))
        both(lambda img, m, c=hand: cv2.circle(img, c, max(2, int(0.24 * f)), col(skin, m), -1, aa))
    # head: skin oval with hair; faced visits get the photo pasted over it afterwards
    for side in (-1, 1):
        both(
            lambda img, m, s=side: cv2.ellipse(
                img,
                pt(hx + s * 0.6 * f, hy + 0.05 * f),
                (int(0.13 * f) + 1, int(0.24 * f) + 1),
                0,
                0,
                360,
                col(skin, m),
                -1,
                aa,
            )
        )
    both(lambda img, m: cv2.ellipse(img, pt(hx, hy), (int(0.6 * f), int(0.8 * f)), 0, 0, 360, col(skin, m), -1, aa))
    if faceless:
        both(
            lambda img, m: cv2.ellipse(
                img, pt(hx, hy - 0.05 * f), (int(0.62 * f), int(0.8 * f)), 0, 0, 360, col(hair, m), -1, aa
            )
        )
        if d[5] % 3 == 0:  # a cap
            cap = _colour("cap/" + name)
            both(
                lambda img, m: cv2.ellipse(
                    img, pt(hx, hy - 0.3 * f), (int(0.68 * f), int(0.56 * f)), 0, 180, 360, col(cap, m), -1, aa
                )
            )
    # Rounded and lit from above: brighter inside the silhouette and towards the top, darker at its edges.
    m = mask.astype(np.float32) / 255.0
    inner = cv2.GaussianBlur(m, (0, 0), max(1.0, 0.3 * f))
    top = np.linspace(1.12, 0.85, layer.shape[0], dtype=np.float32)[:, None]
    shade = (0.55 + 0.6 * inner) * top
    rng = np.random.default_rng(d[6])
    texture = rng.normal(1.0, 0.04, m.shape).astype(np.float32)
    person = layer.astype(np.float32) * (shade * texture)[..., None]
    alpha = cv2.GaussianBlur(m, (0, 0), 0.6)[..., None]
    person.flags.writeable = alpha.flags.writeable = False  # shared by every frame that draws this figure
    return person, alpha


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
        self._noise_cache: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
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

    def face_for(self, visit: PlannedVisit) -> float:
        """Face height in px for this visit: the camera's face_px range (box shorter side, drawn per visit),
        or face_fraction of the frame height."""
        if self.cam.face_px is None:
            return self.face_px
        lo, hi = self.cam.face_px
        short = lo + (hi - lo) * _unit(f"{visit.person}/{visit.entry.isoformat()}")
        return self.sprites[visit.image].face_height_for_short_side(short)

    def _person(
        self,
        frame,
        visit: PlannedVisit,
        cx: float,
        scale: float,
        behind_counter: bool,
        step: float = 0.0,
        facing: bool = True,
    ) -> None:
        """`facing`: the person's face is toward this camera (else it sees the back of their head)."""
        H = self.cam.height
        face = self.face_for(visit) * scale
        head_cy = H * (0.36 if not behind_counter else 0.4)
        faceless = visit.faceless or not facing
        draw_figure(frame, visit.person, cx, head_cy, face, step, faceless=faceless)
        if not faceless:
            sprite, mask = self.sprites[visit.image].scaled(face)
            _paste(frame, sprite, mask, int(cx), int(head_cy))

    def staff_x(self, k: int = 0) -> float:
        """Where the k-th clerk stands: behind the counter, clear of the customers' places beside the till; a
        second one behind the counter's door end (it spans 0.3-0.98 of the width), where customers walking in
        to the till pass in front of them."""
        if k > 1:
            raise ValueError("the simulator draws at most two staff members")
        if k == 1:
            return self.cam.width * 0.34
        return self.cam.width * (0.8 if self.cam.face_px is None else 0.9)

    def slot_x(self, slot: int) -> float:
        """Where a customer waits at the counter: slot 0 in front of the till, the next ones beside it, spaced
        for the middle of the faces this camera draws, so the last place stays clear of the clerk. (Spaced by
        each customer's own face size, a large face at one place and a small one at the next stood on one
        spot: seed 199, one man hidden behind another for 40 s.)"""
        W = self.cam.width
        if self.cam.face_px is None:
            face = self.face_px
        else:
            face = _FACE_HEIGHT_PER_SHORT_SIDE * sum(self.cam.face_px) / 2
        return min(W * 0.42 + slot * 2.9 * face, W * 0.95)

    def render(self, t: datetime, visits: list[PlannedVisit], lights: float, index: int) -> np.ndarray:
        frame = self.background.copy()
        W = self.cam.width
        for k, v in enumerate(v for v in visits if v.is_staff):  # each clerk keeps their place all day
            if v.entry <= t <= v.exit:
                self._person(frame, v, self.staff_x(k), 0.95, behind_counter=True)
        self._counter(frame)
        door_x = W * 0.11
        for v in visits:
            if v.is_staff or not (v.entry <= t <= v.exit):
                continue
            counter_x = self.slot_x(v.slot)
            total = (v.exit - v.entry).total_seconds()
            walk = min(3.0, total / 4)
            s = (t - v.entry).total_seconds()
            step = 0.0
            # The door camera sees a customer's face only as they walk back out towards it.
            facing = self.cam.view != "door" or s > total - walk
            if s < walk:
                x = door_x + (counter_x - door_x) * s / walk
                step = float(np.sin(s * 7.0))
            elif s > total - walk:
                x = counter_x - (counter_x - door_x) * (s - (total - walk)) / walk
                step = float(np.sin(s * 7.0))
            else:
                x = counter_x + 6 * np.sin(s * 1.3)  # small sway while waiting
            self._person(frame, v, x, 1.0, behind_counter=False, step=step, facing=facing)
        if self.cam.view == "door":
            frame = cv2.flip(frame, 1)
        level = lights * self.cam.light
        if level < 1.0:
            frame = cv2.convertScaleAbs(frame, alpha=0.08 + 0.92 * level)
        # Saturating add of the noise's positive part and subtract of its negative part: clip(frame + noise).
        pos, neg = self._noise_parts(level > 0)[index % len(self.noise)]
        return cv2.subtract(cv2.add(frame, pos), neg)

    def _noise_parts(self, lit: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """The noise frames as uint8 positive and negative parts; a dim room (lit at cam.light) needs more
        sensor gain, so more noise."""
        gain = 1.0 / max(0.08 + 0.92 * min(self.cam.light, 1.0), 0.3) if lit else 1.0
        key = round(gain, 3)
        if key not in self._noise_cache:
            scaled = [np.rint(n * gain) for n in self.noise]
            self._noise_cache[key] = [
                (np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)) for n in scaled
            ]
        return self._noise_cache[key]


@dataclass
class Clip:
    start: datetime
    end: datetime
    kind: str  # "activity", "opening", "closing"


RECORDINGS = ("motion", "continuous")


def plan_clips(plan: DayPlan, cam: CameraSpec) -> list[Clip]:
    """The day's recordings: on motion, one clip per burst of customer activity, plus shutter up and down;
    continuously, back-to-back files of `segment_minutes` cut on the clock around the open hours."""
    if cam.recording == "continuous":
        return _continuous_clips(plan, cam)
    if cam.recording != "motion":
        raise ValueError(f"unknown recording {cam.recording!r}; one of {', '.join(RECORDINGS)}")
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


def _continuous_clips(plan: DayPlan, cam: CameraSpec) -> list[Clip]:
    if plan.opening is None or plan.closing is None:
        raise ValueError("continuous recording needs the day's opening and closing")
    segment = timedelta(minutes=cam.segment_minutes)
    midnight = datetime.combine(plan.day, datetime.min.time())
    # The cuts fall on multiples of the segment since midnight, as a DVR cuts on its clock.
    first = midnight + segment * ((plan.opening - segment - midnight) // segment)
    clips = [Clip(first, first + segment, "continuous")]
    while clips[-1].end < plan.closing + segment:
        clips.append(Clip(clips[-1].end, clips[-1].end + segment, "continuous"))
    return clips


def _stored(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The frame as the recorder stores it: squeezed to `size` (a half-width mode), else as drawn."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class _Mp4vWriter:
    def __init__(self, path: Path, cam: CameraSpec):
        self.size = cam.stored_size
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), cam.fps, self.size)

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(_stored(frame, self.size))

    def close(self) -> None:
        self.writer.release()


class _DvrWriter:
    """libx264 or libx265 at a capped bitrate (bitrate = maxrate = bufsize), a keyframe every gop_seconds, and 3
    B-frames where the recorder exports MP4 (none for its raw, .dav and program stream exports): what a shop DVR
    writes (as bench/shop_footage.py encodes)."""

    def __init__(self, path: Path, cam: CameraSpec):
        import av

        fps = int(round(cam.fps))
        gop = max(1, int(round(cam.gop_seconds * fps)))
        b_frames = 3 if cam.export == "mp4" else 0  # DVRs with the other exports record without them
        self.out = av.open(str(path), "w")
        if cam.codec == "hevc":
            self.stream = self.out.add_stream("libx265", rate=fps)
            self.stream.options = {
                "preset": "veryfast",
                "x265-params": (
                    f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={b_frames}:bitrate={cam.kbps}:"
                    f"vbv-maxrate={cam.kbps}:vbv-bufsize={cam.kbps}:log-level=error"
                ),
            }
            self.stream.codec_tag = "hvc1"
        else:
            self.stream = self.out.add_stream("libx264", rate=fps)
            self.stream.options = {
                "preset": "veryfast",
                "bf": str(b_frames),
                "g": str(gop),
                "keyint_min": str(gop),
                "sc_threshold": "0",
                "b": f"{cam.kbps}k",
                "maxrate": f"{cam.kbps}k",
                "bufsize": f"{cam.kbps}k",
            }
        self.size = cam.stored_size
        self.stream.width, self.stream.height, self.stream.pix_fmt = *self.size, "yuv420p"

    def write(self, frame: np.ndarray) -> None:
        import av

        for packet in self.stream.encode(av.VideoFrame.from_ndarray(_stored(frame, self.size), format="bgr24")):
            self.out.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.out.mux(packet)
        self.out.close()


def render_day(plan: DayPlan, scene: ShopScene, folder: Path) -> list[Path]:
    """The day's recordings (`plan_clips`), named and drawn as the camera's recorder does (`CameraSpec`
    file_names, clock_overlay); with `power_cut`, one recording between opening and closing (drawn by the
    day) loses its last second and its index, as a power failure leaves it."""
    folder.mkdir(parents=True, exist_ok=True)
    cam = scene.cam
    if cam.export not in EXPORTS:
        raise ValueError(f"unknown export {cam.export!r}; one of {', '.join(EXPORTS)}")
    if cam.export != "mp4" and cam.codec not in DVR_CODECS:
        raise ValueError(f"a {cam.export} export needs an h264 or hevc camera, not {cam.codec}")
    written: dict[Path, float] = {}  # each recording and its seconds
    for clip in plan_clips(plan, cam):
        # File names carry whole seconds: frames are timed from that second so timestamps stay exact.
        start = clip.start.replace(microsecond=0)
        n = int((clip.end - start).total_seconds() * cam.fps)
        end = start + timedelta(seconds=round(n / cam.fps))
        path = folder / recording_name(cam.file_names, cam.name, start, end, cam.channel)
        writer = _DvrWriter(path, cam) if cam.codec in DVR_CODECS else _Mp4vWriter(path, cam)
        for i in range(n):
            t = start + timedelta(seconds=i / cam.fps)
            lights = (
                1.0
                if (plan.opening is None or plan.opening <= t) and (plan.closing is None or t < plan.closing)
                else 0.0
            )
            frame = scene.render(t, plan.visits, lights, i)
            if cam.clock_overlay:
                burn_in_clock(frame, t, cam.label)
            writer.write(frame)
        writer.close()
        written[path if cam.export == "mp4" else _exported(path, cam, start)] = n / cam.fps
    paths = list(written)
    if cam.power_cut and len(paths) > 2:
        # Not the opening or closing recording: those are the day's few seconds with the shutter.
        seed = f"power/{plan.day.isoformat()}" + ("" if cam.channel == 1 else f"/ch{cam.channel}")
        cut = random.Random(seed).choice(paths[1:-1])
        last_second = int(cut.stat().st_size / max(1.0, written[cut]))
        if cam.export == "mp4":
            cut_by_power_failure(cut, cut, tail_bytes=last_second)
        else:
            cut_stream_by_power_failure(cut, last_second)
    return paths


def _exported(mp4: Path, cam: CameraSpec, start: datetime) -> Path:
    """The recording `mp4` as the camera's recorder exports it (`CameraSpec.export`), in its place."""
    if cam.export == "ps":  # the same name, another format
        return write_program_stream(mp4, mp4.with_suffix(".ps")).replace(mp4)
    if cam.export == "raw":
        path = write_raw_stream(mp4, mp4.with_suffix(RAW_SUFFIXES[cam.codec]))
    else:
        path = write_dav(mp4, mp4.with_suffix(".dav"), start, cam.channel)
    mp4.unlink()
    return path


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
