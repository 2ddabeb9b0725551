"""Shop footage the way a DVR records it, for the footage matrix (bench/footage_matrix.py).

Built on the simulator's scene (`watershop_dagster/sim/scene.py`: the same room, counter, bodies and heads
cut from real face photos), but not footage that suits the sampler:
- sensor noise on every frame (a fresh draw from a pool of noise fields, never a short repeating cycle) and a
  slow drift of the light (a few percent over minutes, as daylight through the door does);
- a staff member who moves behind the counter all the time and now and then steps out to the back;
- a busy counter: customers arrive in runs, several wait side by side, and someone is present for a chosen
  share of the open hours (`presence`: e.g. 0.8 "most of the time" or 0.33);
- a burned-in DVR clock (date and time, white, top left, changing every second) and camera name (bottom right);
- the camera's encoder: H.264 (libx264, CABAC, 3 B-frames) or H.265/HEVC (libx265, 3 B-frames), keyframe
  every `gop_s` seconds, a capped (CBR-like) bitrate, and optionally a variable frame rate (jittered
  timestamps and a few dropped frames, as a loaded DVR writes).

Writes, under a data folder, what `watershop materialize --day D` reads: `footage/<day>/cam1_<HHMMSS>.mp4`,
the staff member's enrolment photos under `staff/`, the day's till file (one sale per visit) and the truth
(`truth/<day>.json`, every visit with entry and exit) for scoring.

    python bench/shop_footage.py --data /tmp/d --day 2024-06-03 --minutes 10 --fps 10 --size 720p --gop 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from watershop_dagster.sim.dvr import burn_in_clock
from watershop_dagster.sim.scene import CameraSpec, HeadSprite, ShopScene
from watershop_dagster.sim.shop import DayPlan, PlannedVisit, Sale, write_till_day, write_truth
from watershop_dagster.sim.world import Cast

SIZES = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}
BITRATE_KBPS = {"360p": 768, "720p": 2048, "1080p": 4096}  # typical DVR main-stream settings


@dataclass(frozen=True)
class FootageSpec:
    day: date = date(2024, 6, 3)
    start: str = "09:00:00"
    minutes: float = 10.0
    fps: float = 10.0
    size: str = "720p"
    gop_s: float = 2.0
    codec: str = "h264"  # h264 (libx264, B-frames) or hevc (libx265, B-frames)
    presence: float = 0.8  # share of the time at least one customer is in the shop
    vfr: bool = False
    clock: bool = True  # burned-in date/time and camera name
    bitrate_kbps: int | None = None  # default by size (BITRATE_KBPS)
    seed: int = 3
    max_waiting: int = 4
    staff: bool = True  # False: nobody behind the counter either (an empty room, only the clock changes)
    noise_sigma: float = 2.5

    @property
    def start_time(self) -> datetime:
        return datetime.combine(self.day, datetime.strptime(self.start, "%H:%M:%S").time())

    @property
    def seconds(self) -> float:
        return self.minutes * 60


# -- who is there when ---------------------------------------------------------------------------------


def plan_customers(spec: FootageSpec, people: list[str], images: dict[str, list[str]]) -> list[PlannedVisit]:
    """Runs of customers (a busy counter: several waiting at once) separated by empty stretches, so that the
    share of time with someone present is about `spec.presence`."""
    if spec.presence <= 0:
        return []  # an empty room all day
    rng = random.Random(spec.seed)
    start, end = spec.start_time, spec.start_time + timedelta(seconds=spec.seconds)
    mean_run = 150.0  # seconds from the first arrival of a run to the last arrival
    visits: list[PlannedVisit] = []
    t = start + timedelta(seconds=rng.uniform(8, 25))
    while t < end - timedelta(seconds=40):
        run_end = t + timedelta(seconds=rng.uniform(0.5, 1.5) * mean_run)
        arrival = t
        while arrival < min(run_end, end - timedelta(seconds=40)):
            present = [v for v in visits if v.entry <= arrival <= v.exit]
            if len(present) < spec.max_waiting:
                busy = {v.person for v in present}
                person = rng.choice([p for p in people if p not in busy])
                dwell = rng.uniform(35, 120)
                leave = min(arrival + timedelta(seconds=dwell), end - timedelta(seconds=5))
                visits.append(PlannedVisit(person, arrival, leave, rng.choice(images[person])))
            arrival += timedelta(seconds=rng.expovariate(1 / 25) + 4)
        last_exit = max(v.exit for v in visits) if visits else t
        # the gap follows the run as it came out (the last arrivals stay up to two minutes past run_end), so
        # that run / (run + gap) is about the presence asked for
        gap = (last_exit - t).total_seconds() * (1 - spec.presence) / spec.presence
        t = last_exit + timedelta(seconds=max(6.0, gap * rng.uniform(0.6, 1.4)))
    return sorted(visits, key=lambda v: v.entry)


def presence_share(visits: list[PlannedVisit], start: datetime, seconds: float) -> float:
    spans = sorted((v.entry, v.exit) for v in visits if not v.is_staff)
    covered, cur_a, cur_b = 0.0, None, None
    for a, b in spans:
        if cur_b is None or a > cur_b:
            if cur_b is not None:
                covered += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_b is not None:
        covered += (cur_b - cur_a).total_seconds()
    return covered / seconds


class StaffPath:
    """Where the staff member stands behind the counter: walks between random spots, pauses, and now and
    then goes to the back for a minute or two (away)."""

    def __init__(self, seconds: float, rng: random.Random):
        times, xs = [0.0], [0.8]
        t = 0.0
        while t < seconds:
            target = rng.uniform(0.66, 0.93)
            t += abs(target - xs[-1]) / 0.12 + 0.1  # walks at 12% of the frame width per second
            times.append(t)
            xs.append(target)
            t += rng.uniform(2, 20)  # stands there a while (serving, filling cans)
            times.append(t)
            xs.append(target)
        self.times, self.xs = np.array(times), np.array(xs)
        self.away: list[tuple[float, float]] = []
        t = rng.uniform(120, 360)
        while t < seconds:
            length = rng.uniform(40, 120)
            self.away.append((t, t + length))
            t += length + rng.uniform(240, 720)

    def x(self, s: float) -> float | None:
        if any(a <= s < b for a, b in self.away):
            return None
        return float(np.interp(s, self.times, self.xs))


# -- drawing ---------------------------------------------------------------------------------------------


class DvrScene(ShopScene):
    """The simulator's shop with people placed the way a busy counter places them (queue slots, a staff member
    who moves) and a DVR's sensor noise, light drift and overlay. Drawing reuses ShopScene's room, counter
    and people."""

    SLOTS = (0.24, 0.35, 0.46, 0.57)  # where waiting customers stand, as a share of the width
    DOOR = 0.11

    def __init__(self, camera: CameraSpec, sprites: dict[str, HeadSprite], seed: int, noise_sigma: float):
        super().__init__(camera, sprites, seed)
        rng = np.random.default_rng(seed + 7)
        shape = self.background.shape
        # 32 fields drawn at random per frame (not cycled): uint8 halves for saturating add/subtract.
        self.noise_pos, self.noise_neg = [], []
        for _ in range(32):
            n = rng.normal(0, noise_sigma, shape)
            self.noise_pos.append(np.clip(n, 0, 255).astype(np.uint8))
            self.noise_neg.append(np.clip(-n, 0, 255).astype(np.uint8))
        self.rng = np.random.default_rng(seed + 11)

    def draw(
        self, t: datetime, s: float, staff: PlannedVisit | None, staff_x: float | None, customers, gain: float
    ) -> np.ndarray:
        """customers: (visit, slot index); positions from the time since entry and before exit."""
        W = self.cam.width
        frame = self.background.copy()
        if staff is not None and staff_x is not None:
            self._person(frame, staff, W * staff_x, 0.95, behind_counter=True)
        self._counter(frame)
        for v, slot in customers:
            total = (v.exit - v.entry).total_seconds()
            walk = min(3.0, total / 4)
            since = (t - v.entry).total_seconds()
            spot = self.SLOTS[slot]
            if since < walk:
                x = self.DOOR + (spot - self.DOOR) * since / walk
            elif since > total - walk:
                x = spot - (spot - self.DOOR) * (since - (total - walk)) / walk
            else:
                x = spot + 0.004 * np.sin(since * 1.3 + slot)  # sways a little while waiting
            self._person(frame, v, W * x, 1.0, behind_counter=False)
        if abs(gain - 1.0) > 1e-3:
            frame = cv2.convertScaleAbs(frame, alpha=gain)
        k = int(self.rng.integers(len(self.noise_pos)))
        frame = cv2.subtract(cv2.add(frame, self.noise_pos[k]), self.noise_neg[k])
        return frame


# -- encoding --------------------------------------------------------------------------------------------


def _open_stream(out, spec: FootageSpec, width: int, height: int):
    fps = int(round(spec.fps))
    gop = max(1, int(round(spec.gop_s * spec.fps)))
    kbps = spec.bitrate_kbps or BITRATE_KBPS[spec.size]
    if spec.codec == "h264":
        stream = out.add_stream("libx264", rate=fps)
        stream.options = {
            "preset": "superfast",  # keeps CABAC; B-frames set below, as camera encoders use them
            "bf": "3",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "b": f"{kbps}k",
            "maxrate": f"{kbps}k",
            "bufsize": f"{kbps}k",
        }
    elif spec.codec == "hevc":
        stream = out.add_stream("libx265", rate=fps)
        stream.options = {
            "preset": "superfast",
            "x265-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=3:bitrate={kbps}:vbv-maxrate={kbps}:"
                f"vbv-bufsize={kbps}:log-level=error"
            ),
        }
        stream.codec_tag = "hvc1"
    else:
        raise ValueError(f"unknown codec {spec.codec!r} (h264 or hevc)")
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = Fraction(1, 90000) if spec.vfr else Fraction(1, fps)
    return stream


def frame_times(spec: FootageSpec) -> list[float]:
    """Seconds from the file start of every frame written. VFR: each frame's time jitters by up to 40% of a
    frame interval and about 3% of frames are dropped (a loaded DVR)."""
    n = int(spec.seconds * spec.fps)
    if not spec.vfr:
        return [i / spec.fps for i in range(n)]
    rng = random.Random(spec.seed + 101)
    out, last = [], -1.0
    for i in range(n):
        if i and rng.random() < 0.03:
            continue
        t = (i + rng.uniform(-0.4, 0.4)) / spec.fps if i else 0.0
        t = max(t, last + 0.2 / spec.fps)
        out.append(t)
        last = t
    return out


def render_file(spec: FootageSpec, cast: Cast, visits: list[PlannedVisit], path: Path) -> dict:
    import av

    width, height = SIZES[spec.size]
    cam = CameraSpec("cam1", width, height, fps=spec.fps, face_fraction=0.13)
    scene = DvrScene(cam, cast.sprites, spec.seed, spec.noise_sigma)
    rng = random.Random(spec.seed + 5)
    staff_person = cast.staff[0]
    staff = PlannedVisit(
        staff_person.name,
        spec.start_time,
        spec.start_time + timedelta(seconds=spec.seconds),
        staff_person.images[0],
        is_staff=True,
    )
    path_staff = StaffPath(spec.seconds, rng)
    drift_period, drift_phase = rng.uniform(400, 900), rng.uniform(0, 2 * np.pi)
    customers = sorted((v for v in visits if not v.is_staff), key=lambda v: v.entry)
    slots: dict[int, int] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with av.open(str(path), "w") as out:
        stream = _open_stream(out, spec, width, height)
        tb = stream.codec_context.time_base
        for s in frame_times(spec):
            t = spec.start_time + timedelta(seconds=s)
            here = []
            for i, v in enumerate(customers):
                if v.entry <= t <= v.exit:
                    if i not in slots:
                        taken = {slots[j] for j, w in enumerate(customers) if j in slots and w.entry <= t <= w.exit}
                        slots[i] = min(k for k in range(len(DvrScene.SLOTS)) if k not in taken)
                    here.append((v, slots[i]))
            gain = 1.0 + 0.04 * np.sin(2 * np.pi * s / drift_period + drift_phase)
            image = scene.draw(t, s, staff, path_staff.x(s) if spec.staff else None, here, gain)
            if spec.clock:
                burn_in_clock(image, t, "CAM1 COUNTER")
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = int(round(s / float(tb)))
            frame.time_base = tb
            for packet in stream.encode(frame):
                out.mux(packet)
            written += 1
        for packet in stream.encode():
            out.mux(packet)
    return {"frames": written, "staff_away_s": sum(b - a for a, b in path_staff.away)}


# -- a data folder -----------------------------------------------------------------------------------------


def load_cast(customers: int = 14):
    """Real photos (WATERSHOP_SHARED_DATA/faces, a different photo per visit) when present, else the
    insightface demo photos."""
    from watershop_dagster.core.footage.faces import FaceEngine
    from watershop_dagster.sim.world import demo_cast, eval_cast

    engine = FaceEngine.from_models()
    shared = os.environ.get("WATERSHOP_SHARED_DATA")
    faces = Path(shared) / "faces" if shared else None
    if faces is not None and faces.exists():
        return eval_cast(engine, faces, customers=customers, staff=1)
    return demo_cast(engine)


def write_day(data_dir: Path, spec: FootageSpec, cast=None) -> dict:
    """The footage, staff photos, till file and truth of one day under `data_dir`. Returns a summary."""
    cast = cast or load_cast()
    data_dir = Path(data_dir)
    people = [c.name for c in cast.customers]
    images = {c.name: list(c.images) for c in cast.customers}
    visits = plan_customers(spec, people, images)
    plan = DayPlan(spec.day, visits=list(visits))
    for n, v in enumerate(visits, 1):
        # One sale per visit, a little before leaving (the till file the daily run links to visits).
        v.sale = Sale(
            f"T{spec.day:%Y%m%d}-{n:03d}",
            (v.exit - timedelta(seconds=15)).replace(microsecond=0),
            "20L",
            1,
            20.0,
            "Cash",
            "Paid",
            None,
        )
    for s in cast.staff:
        plan.visits.append(
            PlannedVisit(
                s.name, spec.start_time, spec.start_time + timedelta(seconds=spec.seconds), s.images[0], is_staff=True
            )
        )
    for name, photos in cast.enrolment.items():
        folder = data_dir / "staff" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(photos):
            cv2.imwrite(str(folder / f"{i + 1}.jpg"), img)
    write_till_day(plan, data_dir / "transactions")
    write_truth(plan, data_dir / "truth")
    path = data_dir / "footage" / spec.day.isoformat() / f"cam1_{spec.start_time:%H%M%S}.mp4"
    t0 = time.perf_counter()
    rendered = render_file(spec, cast, visits, path)
    summary = {
        "path": str(path),
        "spec": {k: (str(v) if isinstance(v, date) else v) for k, v in asdict(spec).items()},
        "visits": len(visits),
        "presence": round(presence_share(visits, spec.start_time, spec.seconds), 3),
        "max_waiting": max(
            (sum(1 for w in visits if w.entry <= v.entry <= w.exit) for v in visits),
            default=0,
        ),
        "megabytes": round(path.stat().st_size / 1e6, 1),
        "write_seconds": round(time.perf_counter() - t0, 1),
        **rendered,
    }
    (data_dir / "truth" / f"{spec.day.isoformat()}.footage.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="the data folder to write into")
    p.add_argument("--day", type=date.fromisoformat, default=FootageSpec.day)
    p.add_argument("--start", default=FootageSpec.start)
    p.add_argument("--minutes", type=float, default=FootageSpec.minutes)
    p.add_argument("--fps", type=float, default=FootageSpec.fps)
    p.add_argument("--size", choices=sorted(SIZES), default=FootageSpec.size)
    p.add_argument("--gop", type=float, default=FootageSpec.gop_s, help="seconds between keyframes")
    p.add_argument("--codec", choices=["h264", "hevc"], default=FootageSpec.codec)
    p.add_argument("--presence", type=float, default=FootageSpec.presence)
    p.add_argument("--vfr", action="store_true")
    p.add_argument("--no-clock", action="store_true")
    p.add_argument("--seed", type=int, default=FootageSpec.seed)
    a = p.parse_args(argv)
    spec = FootageSpec(
        day=a.day,
        start=a.start,
        minutes=a.minutes,
        fps=a.fps,
        size=a.size,
        gop_s=a.gop,
        codec=a.codec,
        presence=a.presence,
        vfr=a.vfr,
        clock=not a.no_clock,
        seed=a.seed,
    )
    print(json.dumps(write_day(a.data, spec), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
