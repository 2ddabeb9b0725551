"""People from their bodies: a COCO person detector, person tracks over sampled frames, and which face track
belongs to which person track.

Face tracks only see customers who face the camera. A body detector also sees the one who keeps his back to
it, wears a cap or stands under a high camera, so a person track without any face is still a presence
("unidentified visit"). The detector is YOLOX-Nano (Apache-2.0, Megvii), shipped in the package under
`models/person/` and loaded with importlib.resources: nothing is downloaded at run time.

Plain Python: no Dagster here. Times are datetimes (as in face tracks) or plain seconds; only differences
are taken.
"""

from __future__ import annotations

import bisect
import importlib.resources
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import pandas as pd

from watershop_dagster.core.footage.tracking import SURVIVES_MISS_S, greedy_pairs
from watershop_dagster.core.storage.schemas import PERSON_DETECTIONS, PERSON_TRACKS

Region = tuple[int, int, int, int]  # x1, y1, x2, y2: where in the frame to look (None: everywhere)
Time = datetime | float

PERSON_CLASS = 0  # COCO class 0 is "person"
STRIDES = (8, 16, 32)
PAD_VALUE = 114  # YOLOX's letterbox fill


@dataclass(frozen=True)
class PersonBox:
    """One detected person: box corners in frame pixels and the detector's score (objectness x person)."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float = 1.0
    # What the clothes look like (`body_look`), where the frame was at hand: tells two people apart where
    # their boxes alone cannot (a crowded counter). Stored with the box (person_detections.look_*).
    look: tuple[float, float, float] | None = field(default=None, compare=False)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0

    def as_array(self) -> np.ndarray:
        return np.array([self.x1, self.y1, self.x2, self.y2], np.float32)

    def scaled(self, factor: float) -> PersonBox:
        return PersonBox(self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor, self.score, self.look)


def body_look(image_bgr: np.ndarray, box: PersonBox) -> tuple[float, float, float] | None:
    """The median colour (CIELAB, 8-bit scale) of the middle of a body's box: below the head of a standing
    person and inside the arms, so mostly shirt. The median, not the mean: a neighbour covering less than half
    of the patch (people side by side at a counter) does not move it. None when the patch is too small to say,
    or too dark or too bright for its colour to show (near black or white, CIELAB's colour axes collapse)."""
    x1, y1, x2, y2 = (int(v) for v in look_patch(box))
    patch = image_bgr[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)]
    if patch.shape[0] * patch.shape[1] < 16:
        return None
    lab = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_BGR2LAB).reshape(-1, 3)
    lightness, a, b = np.median(lab, axis=0)
    if not 25 <= lightness <= 230:
        return None
    return float(lightness), float(a), float(b)


def look_patch(box: PersonBox) -> tuple[float, float, float, float]:
    """Where in a body's box its look is read (x1, y1, x2, y2): the middle 40% of its width, from a quarter to
    55% of its height down."""
    w, h = box.width, box.height
    return box.x1 + 0.3 * w, box.y1 + 0.25 * h, box.x2 - 0.3 * w, box.y1 + 0.55 * h


def median_look(boxes: Sequence[PersonBox]) -> tuple[float, float, float] | None:
    """The median look of some boxes (one occluded box is not the person); None when no box had one."""
    looks = [b.look for b in boxes if b.look is not None]
    if not looks:
        return None
    lightness, a, b = np.median(np.array(looks), axis=0)
    return float(lightness), float(a), float(b)


def look_distance(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """How different two looks are in colour (CIELAB a* and b*), whatever their lightness: the light of a door
    or a dim corner changes how light a shirt looks far more than its colour (on the real walk-in clip one
    visitor's shirt went from 109 to 195 in lightness on his way out, and 6 in colour)."""
    return float(np.hypot(a[1] - b[1], a[2] - b[2]))


def bundled_model_path() -> Path:
    """The YOLOX-Nano file shipped inside the package (see models/person/README.md for origin and licence)."""
    return Path(str(importlib.resources.files("watershop_dagster") / "models" / "person" / "yolox_nano.onnx"))


def _session_options(threads: int):
    """`threads` intra-op threads and no spin-waiting after a run: spinning threads would take the CPU from
    the video decoder and the face models that run between person inferences on the same cores."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def _next_stride(x: float) -> int:
    return max(STRIDES[-1], int(np.ceil(x / STRIDES[-1])) * STRIDES[-1])


def letterbox(image: np.ndarray, size: int, square: bool = False) -> tuple[np.ndarray, float]:
    """The frame scaled so its longer side is `size` (aspect kept, INTER_LINEAR) and pasted at the top-left
    of a grey (114) canvas, as YOLOX was trained; returns the canvas and the scale r (network px = frame px
    * r). The canvas's sides are the next multiples of the largest stride (a 16:9 frame: 416x256, 36% less
    work than 416x416 and the same people), or `size` x `size` when `square` (a model with a fixed input)."""
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    nh, nw = max(1, int(round(h * r))), max(1, int(round(w * r)))
    shape = (size, size) if square else (_next_stride(nh), _next_stride(nw))
    canvas = np.full((*shape, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, r


def anchor_grid(
    height: int, width: int | None = None, strides: Sequence[int] = STRIDES
) -> tuple[np.ndarray, np.ndarray]:
    """Cell (x, y) and stride of every output row for a height x width input (square when width is None):
    grids of (height/s) x (width/s) cells for s = 8, 16, 32, row-major, in that order (3549 rows at 416)."""
    width = height if width is None else width
    cells, steps = [], []
    for s in strides:
        ny, nx = height // s, width // s
        ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        steps.append(np.full((ny * nx, 1), s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(steps).astype(np.float32)


def _with_free_input_size(model: Any) -> bytes:
    """The model (an onnx ModelProto, changed in place) with its input's height and width (and so its output's
    rows) left free. YOLOX is fully convolutional, but exports write the 416x416 they were traced at into the
    graph's declared shapes."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_param = "rows"
    del model.graph.value_info[:]  # intermediate shapes traced at 416x416; onnxruntime infers them per input
    return model.SerializeToString()


def decode_persons(
    output: np.ndarray, cells: np.ndarray, steps: np.ndarray, threshold: float, nms_iou: float
) -> np.ndarray:
    """Raw YOLOX rows [tx, ty, tw, th, obj, cls0..cls79] (obj and cls already sigmoided) -> person boxes
    (n, 5) x1, y1, x2, y2, score in network pixels, after NMS."""
    rows = output.reshape(-1, output.shape[-1])
    scores = rows[:, 4] * rows[:, 5 + PERSON_CLASS]
    keep = scores >= threshold  # decode only the few rows that can survive
    if not keep.any():
        return np.zeros((0, 5), np.float32)
    rows, scores, cells, steps = rows[keep], scores[keep], cells[keep], steps[keep]
    centre = (rows[:, 0:2] + cells) * steps
    wh = np.exp(np.minimum(rows[:, 2:4], 10.0)) * steps  # clamp: exp of a wild logit must not overflow
    xywh = np.concatenate([centre - wh / 2.0, wh], axis=1)
    picked = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), threshold, nms_iou), dtype=int).reshape(-1)
    boxes = np.concatenate([xywh[picked, :2], xywh[picked, :2] + xywh[picked, 2:], scores[picked, None]], axis=1)
    return boxes.astype(np.float32)


class PersonDetector:
    """YOLOX-Nano (COCO) through onnxruntime, people only. One job: frame in, person boxes out.

    The frame (or the region of it) is letterboxed so its longer side is the network's 416 (the shorter one
    padded to a multiple of 32 only, not to a square) as raw BGR 0-255 (YOLOX exports take no mean/std),
    decoded over the three stride grids, scored obj x cls(person), and NMS-ed. Threshold 0.3 counted people
    correctly on the shop-like clips (SOURCES.md of the shared models). A model whose graph will not take
    another input shape runs on square canvases, as exported."""

    def __init__(self, path: Path | str, threshold: float = 0.3, nms_iou: float = 0.45, threads: int = 1):
        import onnx
        import onnxruntime

        def session(model: bytes | str) -> onnxruntime.InferenceSession:
            return onnxruntime.InferenceSession(
                model, sess_options=_session_options(threads), providers=["CPUExecutionProvider"]
            )

        # The declared shapes are read from the graph itself: one session is built, not one to read them.
        model = onnx.load(str(path))
        self.input_name = model.graph.input[0].name
        self.input_size = int(model.graph.input[0].type.tensor_type.shape.dim[-1].dim_value)
        self.threshold, self.nms_iou = threshold, nms_iou
        rows = int(model.graph.output[0].type.tensor_type.shape.dim[1].dim_value)
        expected = len(anchor_grid(self.input_size)[0])
        if rows != expected:
            raise ValueError(f"{path}: {rows} output rows, expected {expected} for a YOLOX at {self.input_size}")
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self.square = False
        try:
            self.session = session(_with_free_input_size(model))
            probe = (STRIDES[-1] * 2, STRIDES[-1] * 3)
            out = self.session.run(None, {self.input_name: np.zeros((1, 3, *probe), np.float32)})[0]
            if out.shape[1] != len(self._grid(*probe)[0]):
                raise ValueError(f"{out.shape[1]} rows")
        except Exception:  # an export with shapes fixed inside the graph: square canvases, as traced
            self.session, self.square = session(str(path)), True

    def _grid(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        if (height, width) not in self._grids:
            self._grids[height, width] = anchor_grid(height, width)
        return self._grids[height, width]

    @classmethod
    def default(cls, threshold: float = 0.3, threads: int = 1) -> PersonDetector:
        """The shipped YOLOX-Nano; one intra-op thread by default (it shares cores with decoding and faces)."""
        return cls(bundled_model_path(), threshold=threshold, threads=threads)

    def detect(self, image_bgr: np.ndarray, region: Region | None = None) -> list[PersonBox]:
        """People in a BGR frame, or only in `region` of it (boxes are still in frame pixels). The region is
        letterboxed to the network's size, so a small region is enlarged: it costs as much as a frame of its
        shape but finds smaller (farther) people in it."""
        h, w = image_bgr.shape[:2]
        x1, y1, x2, y2 = region if region is not None else (0, 0, w, h)
        x1, y1, x2, y2 = max(0, int(x1)), max(0, int(y1)), min(w, int(x2)), min(h, int(y2))
        crop = image_bgr[y1:y2, x1:x2]
        if crop.size == 0:
            return []
        canvas, r = letterbox(crop, self.input_size, square=self.square)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        output = self.session.run(None, {self.input_name: blob})[0]
        cells, steps = self._grid(*canvas.shape[:2])
        found = decode_persons(output, cells, steps, self.threshold, self.nms_iou)
        out = []
        for bx1, by1, bx2, by2, score in found:
            # back to frame pixels, clipped to the searched area (boxes may reach into the letterbox padding)
            out.append(
                PersonBox(
                    float(np.clip(bx1 / r + x1, x1, x2)),
                    float(np.clip(by1 / r + y1, y1, y2)),
                    float(np.clip(bx2 / r + x1, x1, x2)),
                    float(np.clip(by2 / r + y1, y1, y2)),
                    float(score),
                )
            )
        return out


@dataclass(frozen=True)
class PersonRules:
    """Every threshold of person tracking, face joining and person-only presences, in one place.

    Shifts are in person-box heights, so the same rules hold for a near and a far camera."""

    max_gap_s: float = SURVIVES_MISS_S
    # ...and a track seen at the previous analysed frame survives the wait until the next one up to this long
    # (the sampler did not look between them: a long group of pictures, keyframes 8-20 s apart on DVRs set to
    # save disk). Longer is a gap between recordings, where nobody was watching.
    max_unlooked_s: float = 20.0
    min_iou: float = 0.2  # overlapping boxes of consecutive samples are the same person...
    min_shift: float = 0.35  # ...and so is a box whose centre moved at most this (detector jitter, bending)
    shift_per_s: float = 0.8  # plus this per second between samples (walking ~1.4 m/s ~ 0.8 heights/s)
    max_shift: float = 1.0  # but never more, however long the gap: a still room does not hide a walk
    # ...except in the same clothes (look within same_clothes): a customer walks from the door to the counter,
    # 1.1 box heights, between two keyframes 4 s apart; the next one to come in at the door is someone else.
    max_shift_same_clothes: float = 2.0
    same_clothes: float = 5.0
    max_height_ratio: float = 2.0  # a box twice as tall or half as tall is someone else (or a merged pair)
    predict_horizon_s: float = 1.0  # a walk is extrapolated this far at most (people stop, turn)
    # ...and a box overlapping the last one this much is also scored as the walker stopped there: on seed 137
    # (day 3, 08:11:59) a customer who walked up to the counter and stopped lost his box to the one standing
    # still beside him, whose track then went on as him.
    still_iou: float = 0.5
    # Clothes (`body_look`, `look_distance`): a box that looks unlike the track's recent boxes scores less, by up
    # to look_weight at look_scale, and one further than look_max is someone else. Set on the tune half's
    # evaluation days (`bench/evaluate_visits.py --half tune --seed 5 --condition shopcam_all`, 3 days): a
    # track's box to its next box 98% under 2.2 (1.2% over 10, mostly the tracker switching people), two
    # people in one frame 12% under 20, 82% over 30; on the real walk-in clip one body moved up to 14.
    look_scale: float = 20.0
    look_weight: float = 1.0
    look_max: float = 30.0
    look_samples: int = 5  # a track's look is the median of its last this many looks (one occluded box is not it)
    join_max_dt_s: float = 0.5  # a face and a body box are "at the same time" within this
    face_top_share: float = 0.5  # the face centre lies in the top half of the body box (seated, from above)
    face_side_margin: float = 0.1  # ...and within its width, with this share of slack on each side
    min_join_share: float = 0.5  # the winning body must hold the face in at least this share of voting frames
    min_presence_s: float = 5.0  # a faceless person seen for less is a passer-by, not a visit
    min_box_height_px: float = 0.0  # a faceless person never taller than this is too far (0: no limit)
    part_containment: float = 0.8  # a box this much inside a larger box of someone whose face was seen...
    part_share: float = 0.5  # ...in this share of its samples is that person's upper body, found again
    # (also: a body holding a named face, or given two people's faces, in this share is not a visit of its own)
    # ...unless that face was seen away from the body's head in this many of the body's samples: then the body
    # is somebody else who stood in front of that person (a faceless customer walking in from the door to stand
    # before a named one at the counter, their two bodies one box)
    apart_samples: int = 3
    # ...if at most this share of the larger box's height: a whole body as tall as the box it stands in is the
    # next person in the queue, seen a moment earlier or later on the same path (0.96-0.98 on a busy day).
    part_max_height_share: float = 0.85
    # A body that ends at most continue_gap_s before an identified body starts (or starts that soon after it
    # ends), its last box within continue_shift heights of the other's first box (or the other way round), is
    # that person lost and found again by the tracker, not someone else: a newcomer walks in from the door.
    # A body mostly inside an identified body's box seen within part_max_dt_s (not only at the same frame): the
    # detector finds the whole body in some frames and only the upper body in the frames between.
    part_max_dt_s: float = 3.0
    continue_gap_s: float = 10.0
    # 0.35, not 0.5: on the real walk-in clip the next visitor, found 7 s after the last one left the standing
    # table, began 0.42 box heights from where the last one was last seen; a person re-found where they
    # stood moves less (the evaluation days' rows are the same at 0.35 and at 0.5).
    continue_shift: float = 0.35
    # Two people standing side by side come out of the detector as one wider box; the tracker follows it as one
    # of them, the other's track ends, and when they part the one that comes out of it starts a new track,
    # too short to be a visit (`relink_merged`). Such a pair is told apart again when they part, by their
    # clothes before and after, if they stood as one box at most merge_max_s and the box was at least
    # merge_min_widen times as wide as the host's own, and the clothes say which way round by merge_look_margin.
    merge_max_s: float = 180.0
    merge_min_widen: float = 1.15
    merge_look_margin: float = 4.0
    merge_touch: float = 0.25  # boxes this share of their height apart (or overlapping) touch


def _seconds(a: Time, b: Time) -> float:
    """b - a in seconds, for datetimes or plain seconds."""
    if isinstance(a, datetime):
        assert isinstance(b, datetime), "both times are datetimes or both are seconds"
        return (b - a).total_seconds()
    assert not isinstance(b, datetime), "both times are datetimes or both are seconds"
    return float(b - a)


@dataclass
class PersonTrack:
    """One person's continuous presence on one camera: a box per sampled frame where the body was found."""

    camera: str = ""
    track_id: str = ""
    times: list[Any] = field(default_factory=list)
    boxes: list[PersonBox] = field(default_factory=list)

    @property
    def first_time(self) -> Time:
        return self.times[0]

    @property
    def last_time(self) -> Time:
        return self.times[-1]

    @property
    def duration_s(self) -> float:
        return _seconds(self.times[0], self.times[-1])

    @property
    def max_height(self) -> float:
        return max(b.height for b in self.boxes)

    def add(self, t: Time, box: PersonBox) -> None:
        self.times.append(t)
        self.boxes.append(box)

    def look(self, samples: int) -> tuple[float, float, float] | None:
        """The median of the last `samples` looks (None when no box had one)."""
        return median_look(self.boxes[-samples:])

    def velocity(self, max_dt_s: float = 2.0) -> tuple[float, float]:
        """Centre speed (px/s) between the last two samples; zero when they are far apart in time (sparse
        samples of a still room say nothing about a walk)."""
        if len(self.boxes) < 2:
            return 0.0, 0.0
        dt = _seconds(self.times[-2], self.times[-1])
        if not 0 < dt <= max_dt_s:
            return 0.0, 0.0
        (ax, ay), (bx, by) = self.boxes[-2].centre, self.boxes[-1].centre
        return (bx - ax) / dt, (by - ay) / dt

    def sample_near(self, t: Time, tolerance_s: float) -> tuple[Time, PersonBox] | None:
        """(time, box) of the sample nearest to t, if one lies within tolerance_s (times are kept sorted)."""
        i = bisect.bisect_left(self.times, t)
        best = None
        for j in (i - 1, i):
            if 0 <= j < len(self.times):
                dt = abs(_seconds(self.times[j], t))
                if dt <= tolerance_s and (best is None or dt < best[0]):
                    best = (dt, j)
        return (self.times[best[1]], self.boxes[best[1]]) if best else None

    def box_near(self, t: Time, tolerance_s: float) -> PersonBox | None:
        """The box of the sample nearest to t, if one lies within tolerance_s."""
        sample = self.sample_near(t, tolerance_s)
        return sample[1] if sample else None


def box_iou(a: PersonBox, b: PersonBox) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    inter = max(0.0, w) * max(0.0, h)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def match_score(
    last: PersonBox,
    box: PersonBox,
    dt_s: float,
    rules: PersonRules,
    velocity: tuple[float, float] = (0.0, 0.0),
    look: tuple[float, float, float] | None = None,
) -> float | None:
    """How well `box`, seen dt_s after `last`, continues the same person; None when it cannot.

    Overlap alone fails at 2 fps on a walk (boxes barely overlap) and centre distance alone lets neighbours
    swap; a box qualifies by either, of a plausible size, and the best-scoring pairs are taken first. The
    box and its centre are compared with where the last one was heading (velocity in px/s, for at most
    predict_horizon_s): someone who walked out of the side of the view must not become the next customer
    who walks in from the door a few seconds later. Where both the track (`look`) and the box have a look,
    the clothes count too: four people at a counter overlap each other's boxes, their shirts do not."""
    ratio = box.height / max(last.height, 1e-6)
    if not 1.0 / rules.max_height_ratio <= ratio <= rules.max_height_ratio:
        return None
    unlike = 0.0
    limit = rules.max_shift
    if look is not None and box.look is not None:
        distance = look_distance(look, box.look)
        if distance > rules.look_max:
            return None
        unlike = rules.look_weight * min(1.0, distance / rules.look_scale)
        if distance <= rules.same_clothes:
            limit = rules.max_shift_same_clothes
    ahead = min(max(dt_s, 0.0), rules.predict_horizon_s)
    allowed = min(limit, rules.min_shift + rules.shift_per_s * max(dt_s, 0.0)) * max(last.height, box.height)
    # Compared with where the box was heading (when a walker passes in front of someone standing still, the
    # walker's next box overlaps the still one's last box more than the walker's own last box), and with where
    # it was when it is mostly still there (still_iou): a walker who stopped at the counter, not where the walk
    # would have taken them. Only mostly: someone who walked out of the side is not the next one coming in.
    fits = [_placed(last, box, velocity[0] * ahead, velocity[1] * ahead, allowed, rules)]
    if velocity != (0.0, 0.0) and box_iou(last, box) >= rules.still_iou:
        fits.append(_placed(last, box, 0.0, 0.0, allowed, rules))
    placed = [fit for fit in fits if fit is not None]
    return max(placed) - unlike if placed else None


def _placed(last: PersonBox, box: PersonBox, dx: float, dy: float, allowed: float, rules: PersonRules) -> float | None:
    """How well `box` sits where `last` moved by (dx, dy) would be: overlap plus closeness of the centres (None
    when it neither overlaps min_iou nor lies within `allowed` pixels)."""
    overlap = box_iou(PersonBox(last.x1 + dx, last.y1 + dy, last.x2 + dx, last.y2 + dy), box)
    shift = float(np.hypot(box.centre[0] - last.centre[0] - dx, box.centre[1] - last.centre[1] - dy))
    if overlap < rules.min_iou and shift > allowed:
        return None
    return overlap + max(0.0, 1.0 - shift / max(allowed, 1e-6))


class PersonTracker:
    """Feeds sampled frames in time order (one camera) and grows person tracks, greedy on match_score."""

    def __init__(self, rules: PersonRules | None = None, camera: str = ""):
        self.rules = rules or PersonRules()
        self.camera = camera
        self.active: list[PersonTrack] = []
        self.finished: list[PersonTrack] = []
        self.previous: Time | None = None  # the frame analysed before the one being fed

    def update(self, t: Time, boxes: Sequence[PersonBox]) -> None:
        """The people found in the frame sampled at t (an empty list is a frame with nobody: it ages tracks).

        A track survives a miss of `max_gap_s`, and a wait of up to `max_unlooked_s` from the analysed frame in
        which it was last seen to the next one: where the sampler did not look (a long group of pictures with
        the same people at both keyframes), nobody was missed. Ending those tracks cut faceless customers into
        pieces too short to be visits (keyframes every 8 s)."""
        still: list[PersonTrack] = []
        gaps: list[float] = []  # per track kept: seconds since it was last seen
        for tr in self.active:
            gap = _seconds(tr.last_time, t)
            unlooked = self.previous is not None and tr.last_time == self.previous and gap <= self.rules.max_unlooked_s
            if unlooked or gap <= self.rules.max_gap_s:
                still.append(tr)
                gaps.append(gap)
            else:
                self.finished.append(tr)
        self.active = still
        self.previous = t
        candidates = []
        looks = [tr.look(self.rules.look_samples) for tr in self.active]
        for di, box in enumerate(boxes):
            for ti, tr in enumerate(self.active):
                score = match_score(tr.boxes[-1], box, gaps[ti], self.rules, tr.velocity(), looks[ti])
                if score is not None:
                    candidates.append((score, di, ti))
        pairs = greedy_pairs(candidates)
        used_d = {di for di, _ in pairs}
        for di, ti in pairs:
            self.active[ti].add(t, boxes[di])
        for di, box in enumerate(boxes):
            if di not in used_d:
                tr = PersonTrack(self.camera)
                tr.add(t, box)
                self.active.append(tr)

    def finish(self, id_prefix: str = "") -> list[PersonTrack]:
        """All tracks, ordered by first sighting and numbered `<id_prefix>P0001`, ...; the tracker is emptied."""
        tracks = numbered(self.finished + self.active, id_prefix)
        self.active, self.finished, self.previous = [], [], None
        return tracks


def build_person_tracks(
    detections_by_time: Mapping[Any, Sequence[PersonBox]],
    rules: PersonRules | None = None,
    camera: str = "",
    id_prefix: str = "",
) -> list[PersonTrack]:
    """time -> people found in the frame sampled then (one camera; include sampled frames with nobody, so that
    gaps are real) -> person tracks numbered by first sighting."""
    tracker = PersonTracker(rules, camera)
    for t in sorted(detections_by_time):
        tracker.update(t, detections_by_time[t])
    return numbered(relink_merged(tracker.finish(), rules), id_prefix)


def numbered(tracks: Sequence[PersonTrack], id_prefix: str = "") -> list[PersonTrack]:
    """The tracks ordered by first sighting and numbered `<id_prefix>P0001`, ..."""
    out = sorted(tracks, key=lambda tr: tr.times[0])
    for n, tr in enumerate(out, start=1):
        tr.track_id = f"{id_prefix}P{n:04d}"
    return out


def _touching(a: PersonBox, b: PersonBox, slack: float) -> bool:
    """Whether two boxes overlap or lie within `slack` of the taller one's height of each other."""
    gap = slack * max(a.height, b.height)
    return a.x1 - gap <= b.x2 and b.x1 - gap <= a.x2 and a.y1 - gap <= b.y2 and b.y1 - gap <= a.y2


def _part_of_box(box: PersonBox, big: PersonBox, rules: PersonRules) -> bool:
    """Whether `box` is mostly inside `big` and clearly shorter: the detector's second box on one person (their
    upper body), not a second person. Not where both looks are read at about the same height (`_same_band`)
    and differ as someone else's clothes do (over look_max): a customer standing just behind
    another at the counter, her legs hidden by him, is a shorter box inside his (seed 167, day 2, 18:14: 0.8 of
    his height, 54 apart in colour; her faceless visit was lost as his upper body). A head-and-shoulders box
    reads its look higher up than the whole body's does (the chest, not the waist): not compared."""
    if box.height > rules.part_max_height_share * big.height:
        return False
    if (
        box.look is not None
        and big.look is not None
        and _same_band(box, big)
        and look_distance(box.look, big.look) > rules.look_max
    ):
        return False
    w = max(0.0, min(box.x2, big.x2) - max(box.x1, big.x1))
    h = max(0.0, min(box.y2, big.y2) - max(box.y1, big.y1))
    return w * h / max(box.width * box.height, 1e-6) >= rules.part_containment


def _same_band(a: PersonBox, b: PersonBox) -> bool:
    """Whether two boxes read their looks at about the same height in the frame: their look patches' rows
    overlap by at least half of the shorter patch (the same part of a body, whoever's it is)."""
    pa, pb = look_patch(a), look_patch(b)
    rows = min(pa[3], pb[3]) - max(pa[1], pb[1])
    return rows >= 0.5 * min(pa[3] - pa[1], pb[3] - pb[1])


def _track_of(camera: str, times: Sequence[Any], boxes: Sequence[PersonBox]) -> PersonTrack:
    return PersonTrack(camera, times=list(times), boxes=list(boxes))


def _merge_split(
    ended: PersonTrack, host: PersonTrack, started: PersonTrack, rules: PersonRules
) -> tuple[PersonTrack, PersonTrack] | None:
    """If `ended` walked into `host`'s box (one wider box for both) and `started` walked out of it, the two
    people as tracks again, (host's person, ended's person), both holding the merged boxes; else None. The
    host's samples are found by bisection: a staff member's track holds a whole day of boxes."""
    k = rules.look_samples
    met = bisect.bisect_left(host.times, ended.last_time)  # the host's first sample from `ended`'s last on
    inside = bisect.bisect_right(host.times, ended.last_time)  # ...and first one after it: the merged box
    split = bisect.bisect_left(host.times, started.first_time)  # the host's first sample from the split on
    if not (met > 0 and inside < split < len(host.times)):
        return None
    if _seconds(ended.last_time, host.times[met]) > rules.max_gap_s:
        return None
    touching = _touching(ended.boxes[-1], host.boxes[met], rules.merge_touch) and _touching(
        host.boxes[split - 1], started.boxes[0], rules.merge_touch
    )
    before, merged, after = host.boxes[max(0, met - k) : met], host.boxes[inside:split], host.boxes[split : split + k]
    if not touching or np.median([b.width for b in merged]) < rules.merge_min_widen * np.median(
        [b.width for b in before]
    ):
        return None
    # A piece that ends or starts inside the host's box, clearly shorter, is the host's own upper body found
    # apart (a clerk behind the counter), not somebody walking in or out of it.
    if _part_of_box(ended.boxes[-1], host.boxes[met], rules) or _part_of_box(
        started.boxes[0], host.boxes[split], rules
    ):
        return None
    host_before, host_after = median_look(before), median_look(after)
    ended_look, started_look = median_look(ended.boxes[-k:]), median_look(started.boxes[:k])
    if host_before is None or host_after is None or ended_look is None or started_look is None:
        return None
    keep = look_distance(host_before, host_after) + look_distance(ended_look, started_look)
    swap = look_distance(host_before, started_look) + look_distance(ended_look, host_after)
    merged_times = host.times[inside:split]
    if keep + rules.merge_look_margin <= swap:  # the host came out as itself: `started` is `ended` again
        times = ended.times + merged_times + started.times
        return host, _track_of(host.camera, times, ended.boxes + merged + started.boxes)
    if swap + rules.merge_look_margin <= keep:  # the tracker kept the other one: each takes the other's way out
        host_person = _track_of(host.camera, host.times[:split] + started.times, host.boxes[:split] + started.boxes)
        times = ended.times + merged_times + host.times[split:]
        return host_person, _track_of(host.camera, times, ended.boxes + merged + host.boxes[split:])
    return None


def relink_merged(tracks: Sequence[PersonTrack], rules: PersonRules | None = None) -> list[PersonTrack]:
    """Person tracks with each merge and split of two people told apart again (`PersonRules.merge_max_s`).

    Side by side at a counter two people are often one box. The tracker follows that box as one of them (the
    host) and ends the other's track where they met; when they part, whoever comes out of the box starts a new
    track. Both pieces are short (a walk in, a walk out), and the person they belong to loses the visit. For a
    track that ended touching a host whose box then widened, and a track that started touching that host's box
    within merge_max_s while the host went on, the clothes decide: if the one who came out looks like the one
    who went in, the two pieces are one person through the merged boxes; if it looks like the host before the
    merge while the host after the split looks like the one who went in, the tracker kept the wrong person
    and each takes the other's way out. Otherwise nothing is changed."""
    rules = rules or PersonRules()
    out = list(tracks)
    changed = True
    while changed:
        changed = False
        for ended in sorted(out, key=lambda tr: tr.last_time):
            starts = sorted(
                (
                    tr
                    for tr in out
                    if tr is not ended
                    and tr.camera == ended.camera
                    and 0 < _seconds(ended.last_time, tr.first_time) <= rules.merge_max_s
                ),
                key=lambda tr: tr.first_time,
            )
            if not starts:
                continue
            hosts = [
                tr
                for tr in out
                if tr is not ended
                and tr.camera == ended.camera
                and _seconds(tr.first_time, ended.last_time) > 0  # there before `ended` was last seen
                and _seconds(ended.last_time, tr.last_time) > 0  # and still there after
            ]
            for started in starts:
                found = next(
                    (
                        (host, pair)
                        for host in hosts
                        if host is not started
                        and _seconds(started.first_time, host.last_time) > 0
                        and (pair := _merge_split(ended, host, started, rules)) is not None
                    ),
                    None,
                )
                if found is not None:
                    host, pair = found
                    out = [tr for tr in out if all(tr is not gone for gone in (ended, host, started))] + list(pair)
                    changed = True
                    break
            if changed:
                break
    return out


class FaceTrackLike(Protocol):
    """What joining needs of a face track: `tracking.Track` has it (times, boxes as x1, y1, x2, y2 arrays,
    camera); so has FaceTrackBoxes, rebuilt from the face_tracks and face_detections tables."""

    times: list[Any]
    boxes: list[Any]


@dataclass
class FaceTrackBoxes:
    """A stored face track's faces: their times and boxes (x1, y1, x2, y2), in time order."""

    camera: str
    times: list[Any] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)


def face_tracks_from_tables(face_tracks: pd.DataFrame, face_detections: pd.DataFrame) -> dict[str, FaceTrackBoxes]:
    """face_tracks rows (track_id, camera, detection_ids) + face_detections rows (detection_id, time,
    x1..y2) -> track_id -> its faces' boxes, the shape join_faces_to_persons takes."""
    by_id = face_detections.set_index("detection_id")
    out = {}
    for row in face_tracks.itertuples(index=False):
        ids = [d for d in (row.detection_ids if row.detection_ids is not None else []) if d in by_id.index]
        faces = by_id.loc[ids].sort_values("time")
        out[row.track_id] = FaceTrackBoxes(
            str(row.camera),
            [t.to_pydatetime() if hasattr(t, "to_pydatetime") else t for t in faces["time"]],
            [np.array(b, np.float32) for b in faces[["x1", "y1", "x2", "y2"]].to_numpy()],
        )
    return out


def face_fits_body(face: Sequence[float], body: PersonBox, rules: PersonRules) -> float | None:
    """How close a face box sits to where a head is in a body box (smaller is better); None when it is not in
    the body's upper part. A face taller than the body is not its face (a close face over a far body)."""
    fx, fy = (face[0] + face[2]) / 2.0, (face[1] + face[3]) / 2.0
    margin = rules.face_side_margin * body.width
    if not body.x1 - margin <= fx <= body.x2 + margin:
        return None
    # the head may stick out a little above a tight body box
    if not body.y1 - 0.05 * body.height <= fy <= body.y1 + rules.face_top_share * body.height:
        return None
    if face[3] - face[1] > body.height:
        return None
    head_x, head_y = body.centre[0], body.y1 + 0.12 * body.height
    return float(np.hypot(fx - head_x, fy - head_y) / max(body.height, 1e-6))


def join_faces_to_persons(
    person_tracks: Sequence[PersonTrack],
    face_tracks: Mapping[str, FaceTrackLike],
    rules: PersonRules | None = None,
    assignments: Sequence[tuple[Any, str, str]] | None = None,
) -> dict[str, str]:
    """face track id -> person track id. Each face votes, at its time, for a body on the same camera whose
    upper part holds it (`frame_votes`); the track goes to the body with most votes if it won at least
    min_join_share of the frames that voted for it or for a body seen at the same time as it (votes for
    bodies before or after it are the same person's body, split by the person tracker). Several face tracks
    may join one body one after another (a face lost and found again), but not at the same time: one body has
    one face, so of face tracks seen together on one body only the one with most votes joins it. A face track
    whose body was never detected joins none. `assignments`: frame_assignments of the same tracks, if the
    caller has them already."""
    rules = rules or PersonRules()
    if assignments is None:
        assignments = frame_assignments(person_tracks, face_tracks, rules)
    by_id = {p.track_id: p for p in person_tracks}
    winners = []  # (votes, face id, body id)
    for face_id, votes in frame_votes(face_tracks, assignments).items():
        if votes:
            winner, n = votes.most_common(1)[0]
            # Only bodies seen at the same time as the winner compete with it: bodies before or after it are
            # the same person's body lost and found again (the person tracker split it), not rivals.
            competing = sum(
                v for pid, v in votes.items() if pid != winner and _overlap_in_time(by_id[pid], by_id[winner])
            )
            if n / (n + competing) >= rules.min_join_share:
                winners.append((n, face_id, winner))
    joined: dict[str, str] = {}
    for _, face_id, person_id in sorted(winners, key=lambda w: (-w[0], w[1])):
        rivals = [face_tracks[f].times for f, p in joined.items() if p == person_id]
        if not any(_seen_together(face_tracks[face_id].times, other, rules.join_max_dt_s) for other in rivals):
            joined[face_id] = person_id
    return joined


def frame_assignments(
    person_tracks: Sequence[PersonTrack], face_tracks: Mapping[str, FaceTrackLike], rules: PersonRules
) -> list[tuple[Any, str, str]]:
    """(time, face track id, body id) for every face placed in a body. The faces of one frame are given to
    distinct bodies, the assignment with the best total fit that places the most faces: two customers side
    by side each get the body they stand in, not both the body whose head is nearest to either of them."""
    frames: dict[tuple[str, Any], list[tuple[str, Any]]] = defaultdict(list)  # (camera, time) -> (face id, box)
    for face_id, ft in face_tracks.items():
        for t, box in zip(ft.times, ft.boxes):
            frames[(getattr(ft, "camera", ""), t)].append((face_id, box))
    out = []
    for (camera, t), faces in frames.items():
        bodies = [
            (p.track_id, box)
            for p in person_tracks
            if (not (camera and p.camera) or p.camera == camera)
            and (box := p.box_near(t, rules.join_max_dt_s)) is not None
        ]
        fits = np.full((len(faces), len(bodies)), np.inf)
        for i, (_, face) in enumerate(faces):
            for j, (_, body) in enumerate(bodies):
                fit = face_fits_body(face, body, rules)
                if fit is not None:
                    fits[i, j] = fit
        out += [(t, faces[i][0], bodies[j][0]) for i, j in _assign(fits)]
    return out


def frame_votes(
    face_tracks: Mapping[str, FaceTrackLike], assignments: Sequence[tuple[Any, str, str]]
) -> dict[str, Counter[str]]:
    """face track id -> body id -> frames in which that body held the face (from `frame_assignments`)."""
    votes: dict[str, Counter[str]] = {face_id: Counter() for face_id in face_tracks}
    for _, face_id, body_id in assignments:
        votes[face_id][body_id] += 1
    return votes


def own_spans(
    person_tracks: Sequence[PersonTrack],
    joined: Mapping[str, str],
    face_tracks: Mapping[str, FaceTrackLike],
    rules: PersonRules | None = None,
    assignments: Sequence[tuple[Any, str, str]] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """face track id -> (first, last) time of the part of its joined body's track that is the face's person.

    The person tracker can follow one person and go on with another: two people crossing, or the next customer
    stepping into the spot the last one left a few seconds before. A body that held another face (any face
    track but this one, `frame_assignments`, also in a box it shares with another track: `_in_shared_boxes`)
    before this face was first seen was someone else until then: the face's part starts after the longest
    break in the body's samples between the two (the spot stood empty, or the people swapped), and likewise
    after this face was last seen. So was a body while this face sat in another body and it stood elsewhere,
    before it first held the face (`apart_samples` such frames): the face's part starts at its first sighting.
    A face lost and found on one body splits the body between its two tracks; both get one ID, and their
    visits join again. `assignments`: frame_assignments of the same tracks, if the caller has them already."""
    rules = rules or PersonRules()
    if assignments is None:
        assignments = frame_assignments(person_tracks, face_tracks, rules)
    bodies = {p.track_id: p for p in person_tracks}
    held: dict[str, list[tuple[Any, str]]] = defaultdict(list)  # body id -> (time, face id) it held
    holders: dict[str, list[tuple[Any, str]]] = defaultdict(list)  # face id -> (time, body id) holding it
    for t, face_id, body_id in _in_shared_boxes(person_tracks, assignments, rules):
        held[body_id].append((t, face_id))
        holders[face_id].append((t, body_id))
    out = {}
    for face_id, body_id in joined.items():
        body, face = bodies.get(body_id), face_tracks.get(face_id)
        if body is None or face is None or not face.times:
            continue
        first, last = face.times[0], face.times[-1]
        other = [t for t, f in held[body_id] if f != face_id]
        before = [t for t in other if t < first]
        after = [t for t in other if t > last]
        start, end = body.first_time, body.last_time
        if before:
            start = (_longest_break(body.times, max(before), first) or (None, first))[1]
        if after:
            end = (_longest_break(body.times, last, min(after)) or (last, None))[0]
        # The face seen in another body while this one stood elsewhere, before this one first held it: this
        # body was somebody else until then (the tracker went on with the face's person after the two met).
        mine = {t for t, b in holders[face_id] if b == body_id}
        away = {t for t, _ in holders[face_id] if t not in mine and body.box_near(t, rules.join_max_dt_s) is not None}
        if mine:
            came, went = min(mine), max(mine)
            if len([t for t in away if t < came]) >= rules.apart_samples:
                start = first
            if len([t for t in away if t > went]) >= rules.apart_samples:
                end = last
        out[face_id] = (min(start, first), max(end, last))
    return out


def _in_shared_boxes(
    person_tracks: Sequence[PersonTrack], assignments: Sequence[tuple[Any, str, str]], rules: PersonRules
) -> list[tuple[Any, str, str]]:
    """`assignments` (time, face id, body id), each repeated for every other track holding the same box then.
    A box that two tracks share (relink_merged gives both people of a merged box its samples) holds the face
    for both: the face is in that box, whichever of the two tracks the frame's assignment placed it in."""
    bodies = {p.track_id: p for p in person_tracks}
    sharing: dict[tuple[str, Any, PersonBox], list[str]] = defaultdict(list)  # (camera, time, box) -> bodies
    for body in person_tracks:
        for t, box in zip(body.times, body.boxes):
            sharing[(body.camera, t, box)].append(body.track_id)
    out = []
    for t, face_id, body_id in assignments:
        holder = bodies.get(body_id)
        sample = holder.sample_near(t, rules.join_max_dt_s) if holder is not None else None
        owners = sharing[(holder.camera, *sample)] if holder is not None and sample else [body_id]
        out += [(t, face_id, owner) for owner in owners]
    return out


def _longest_break(times: Sequence[Any], lo: Any, hi: Any) -> tuple[Any, Any] | None:
    """The two consecutive samples in [lo, hi] with the longest gap between them (None with fewer than two)."""
    inside = [t for t in times if lo <= t <= hi]
    pairs = list(zip(inside, inside[1:]))
    return max(pairs, key=lambda ab: _seconds(*ab)) if pairs else None


def _assign(costs: np.ndarray) -> list[tuple[int, int]]:
    """(row, column) pairs of finite cost, each row and column used once: most pairs first, then least cost."""
    finite = np.isfinite(costs)
    if not finite.any():
        return []
    if costs.shape[0] == 1:  # one face in the frame, the common case: its best body
        j = int(np.argmin(costs[0]))
        return [(0, j)]
    from scipy.optimize import linear_sum_assignment  # imported when needed: a second of start-up

    # an unplaced face costs more than any placed one, so the assignment places as many as it can
    rows, cols = linear_sum_assignment(np.where(finite, costs, 1e6))
    return [(int(i), int(j)) for i, j in zip(rows, cols) if finite[i, j]]


def _overlap_in_time(a: PersonTrack, b: PersonTrack) -> bool:
    """Whether two tracks were seen over overlapping spans of time."""
    return _seconds(a.first_time, b.last_time) >= 0 and _seconds(b.first_time, a.last_time) >= 0


def _seen_together(a: Sequence[Any], b: Sequence[Any], tolerance_s: float) -> bool:
    """Whether two sorted time lists have a pair of times within tolerance_s of each other."""
    i = j = 0
    while i < len(a) and j < len(b):
        d = _seconds(a[i], b[j])  # b - a
        if abs(d) <= tolerance_s:
            return True
        if d > 0:
            i += 1
        else:
            j += 1
    return False


def person_only_presences(
    person_tracks: Sequence[PersonTrack],
    joined: Mapping[str, str],
    rules: PersonRules | None = None,
    face_tracks: Mapping[str, FaceTrackLike] | None = None,
    identifiable: Collection[str] = (),
    assignments: Sequence[tuple[Any, str, str]] | None = None,
) -> list[tuple[Any, Any, PersonTrack]]:
    """(entry, exit, track) for every person track no face joined: candidates for unidentified visits.
    Passers-by (shorter than min_presence_s) and people never taller than min_box_height_px are left out, and
    so is a body mostly inside the larger box of someone whose face was seen or of a faceless person followed
    for longer (its upper body, found again), and a body that holds, in at least part_share of its samples,
    the face of a face track joined to another body (`face_tracks`): the person tracker lost that person for a
    moment (standing still between sparse samples, half hidden) and found them again as a new track, while
    their face track went on. The same holds for the face of an `identifiable` face track that joined no body
    (its body was only ever found in pieces, e.g. a clerk behind the counter): that face makes its person's
    visit, and a body holding it is that person, not somebody else. Nor is a body a visit of its own that the
    frame-by-frame assignment (`frame_assignments`, one face per body) gave such faces of two or more people,
    in at least part_share of its samples together: in a tight group at the counter the tracker hands one box
    from person to person (each face's own body may be in view beside it, or never found alone). A faceless
    customer standing in front of one named one, their bodies one box, is given that one face only and keeps
    the visit. And a body the assignment gave the face of a face track joined to another body, in at least
    part_share of its samples, is that person found again, whether that body was in view then or not (the
    face sat better on this one: the tracker's body for the face had gone on with someone else). A faceless
    customer at a named one's shoulder is not given the face, which sits better on its own body.
    `assignments`: frame_assignments of the same tracks, if the caller has them already."""
    rules = rules or PersonRules()
    with_face = set(joined.values())
    named_faces = set(joined) | set(identifiable)
    if assignments is None:
        assignments = frame_assignments(person_tracks, face_tracks, rules) if face_tracks else []
    given: dict[str, dict[Any, str]] = defaultdict(dict)  # body id -> time -> the named face it was given
    for t, face_id, body_id in _in_shared_boxes(person_tracks, assignments, rules):
        if face_id in named_faces:
            given[body_id][t] = face_id
    faced = [tr for tr in person_tracks if tr.track_id in with_face]
    body = {tr.track_id: tr for tr in person_tracks}
    joined_faces = [
        (ft, body.get(joined.get(fid, "")))
        for fid, ft in (face_tracks or {}).items()
        if fid in joined or fid in identifiable
    ]
    out = []
    for tr in person_tracks:
        if (
            tr.track_id in with_face
            or tr.duration_s < rules.min_presence_s
            or tr.max_height < rules.min_box_height_px
            or _passed_between_faces(given[tr.track_id], len(tr.boxes), rules)
            or _found_again(given[tr.track_id], joined, len(tr.boxes), rules)
            or _holds_a_joined_face(tr, joined_faces, rules)
        ):
            continue
        # the upper body of someone whose face was seen, or of a faceless person followed for longer
        longer = [o for o in person_tracks if o.track_id not in with_face and o.duration_s > tr.duration_s]
        if _part_of_someone(tr, faced + longer, rules):
            continue
        out.append((tr.first_time, tr.last_time, tr))
    return sorted(out, key=lambda x: x[0])


def _passed_between_faces(given: Mapping[Any, str], samples: int, rules: PersonRules) -> bool:
    """Whether a body given named faces (time -> face track) held two or more people's faces in at least
    part_share of its samples: one box the tracker passed between people in a group."""
    return len(set(given.values())) >= 2 and len(given) >= rules.part_share * samples


def _found_again(given: Mapping[Any, str], joined: Mapping[str, str], samples: int, rules: PersonRules) -> bool:
    """Whether a body no face joined was given (time -> face track) the faces of face tracks joined to other
    bodies in at least part_share of its samples: that person found again, their own body gone on with someone
    else or out of view."""
    return sum(face_id in joined for face_id in given.values()) >= rules.part_share * samples


def _holds_a_joined_face(
    track: PersonTrack, faces: Sequence[tuple[FaceTrackLike, PersonTrack | None]], rules: PersonRules
) -> bool:
    """Whether, in at least part_share of a body track's samples, a face of an already joined face track sits
    where its head is (face_fits_body) at the same time, while the body that face joined is out of view.
    `faces` pairs each face track with the body it joined (None for none). One person is one body at a time:
    a body seen beside the face's own body is somebody else, however well the face sits on it (a customer at
    another's shoulder in a group at the counter, the two boxes overlapping), not that person found again; and
    so is a body seen elsewhere than that face while both were in view (apart_samples), which later stood in
    front of that person."""
    if not faces:
        return False
    fits: list[set[int]] = [set() for _ in faces]  # per face: the body's samples where it sits on its head
    apart = [0] * len(faces)  # ...and where it was seen away from it
    for k, (t, box) in enumerate(zip(track.times, track.boxes, strict=True)):
        for f, (ft, own) in enumerate(faces):
            camera = getattr(ft, "camera", "")
            if camera and track.camera and camera != track.camera:
                continue
            if own is not None and own is not track and own.box_near(t, rules.join_max_dt_s) is not None:
                continue  # that face's own body is in view at this moment: this body is somebody else
            i = bisect.bisect_left(ft.times, t)
            near = [
                ft.boxes[j]
                for j in (i - 1, i)
                if 0 <= j < len(ft.times) and abs(_seconds(ft.times[j], t)) <= rules.join_max_dt_s
            ]
            if any(face_fits_body(face, box, rules) is not None for face in near):
                fits[f].add(k)
            elif near:
                apart[f] += 1
    held = set().union(*(fits[f] for f in range(len(faces)) if apart[f] < rules.apart_samples))
    return len(held) >= rules.part_share * len(track.boxes)


def _part_of_someone(track: PersonTrack, faced: Sequence[PersonTrack], rules: PersonRules) -> bool:
    """Whether a faceless track is mostly a smaller box inside the body of someone whose face was seen, at the
    same times: the detector found that person's upper body as well (NMS keeps it, the overlap being small).
    Judged over the track, not per frame, and only for boxes clearly shorter than the body they lie in, so
    two real people standing close, or one walking the other's path a moment apart, are kept apart."""
    inside = 0
    for t, box in zip(track.times, track.boxes, strict=True):
        for other in faced:
            if other.camera != track.camera:
                continue
            for t2, big in zip(other.times, other.boxes, strict=True):
                if abs(_seconds(t, t2)) <= rules.join_max_dt_s and _part_of_box(box, big, rules):
                    inside += 1
                    break
            else:
                continue
            break
    return inside >= rules.part_share * len(track.boxes)


def person_tracks_frame(
    day: date,
    tracks: Sequence[PersonTrack],
    joined: Mapping[str, str],
    rules: PersonRules | None = None,
    face_tracks: Mapping[str, FaceTrackLike] | None = None,
    identifiable: Collection[str] = (),
    assignments: Sequence[tuple[Any, str, str]] | None = None,
) -> pd.DataFrame:
    """Rows of PERSON_TRACKS (without the partition column `day`), each marked whether it is an unidentified
    visit (person_only_presences)."""
    presences = {
        tr.track_id for _, _, tr in person_only_presences(tracks, joined, rules, face_tracks, identifiable, assignments)
    }
    faces_of: dict[str, list[str]] = {}
    for face_id, person_id in sorted(joined.items()):
        faces_of.setdefault(person_id, []).append(face_id)
    rows = [
        {
            "track_id": tr.track_id,
            "camera": tr.camera,
            "first_time": tr.first_time,
            "last_time": tr.last_time,
            "duration_seconds": tr.duration_s,
            "detections": len(tr.boxes),
            "max_box_height": tr.max_height,
            "mean_score": float(np.mean([b.score for b in tr.boxes])),
            "face_track_ids": faces_of.get(tr.track_id, []),
            "unidentified_presence": tr.track_id in presences,
        }
        for tr in tracks
    ]
    return pd.DataFrame(rows, columns=[c for c in PERSON_TRACKS.column_names if c != "day"])


LOOK_COLUMNS = ("look_l", "look_a", "look_b")  # PERSON_DETECTIONS' columns for a box's look (CIELAB)


def person_detections_frame(tracks: Sequence[PersonTrack]) -> pd.DataFrame:
    """Rows of PERSON_DETECTIONS (without `day`): every body box, with the track it went to."""
    rows = [
        {
            "track_id": tr.track_id,
            "camera": tr.camera,
            "time": t,
            "x1": b.x1,
            "y1": b.y1,
            "x2": b.x2,
            "y2": b.y2,
            "score": b.score,
            **dict(zip(LOOK_COLUMNS, b.look or (None, None, None), strict=True)),
        }
        for tr in tracks
        for t, b in zip(tr.times, tr.boxes)
    ]
    return pd.DataFrame(rows, columns=[c for c in PERSON_DETECTIONS.column_names if c != "day"])


def person_tracks_from_rows(rows: pd.DataFrame) -> list[PersonTrack]:
    """PERSON_DETECTIONS rows -> the person tracks they were written from (boxes in time order), in track id
    order."""
    tracks: list[PersonTrack] = []
    if rows is None or rows.empty:
        return tracks
    for track_id, part in rows.sort_values(["track_id", "time"]).groupby("track_id", sort=True):
        tr = PersonTrack(str(part["camera"].iloc[0]), str(track_id))
        looks = part.reindex(columns=list(LOOK_COLUMNS)).astype(float).to_numpy()
        for r, look in zip(part.itertuples(index=False), looks, strict=True):
            t = r.time.to_pydatetime() if hasattr(r.time, "to_pydatetime") else r.time
            kept = None if np.isnan(look).any() else (float(look[0]), float(look[1]), float(look[2]))
            tr.add(t, PersonBox(float(r.x1), float(r.y1), float(r.x2), float(r.y2), float(r.score), kept))
        tracks.append(tr)
    return tracks
