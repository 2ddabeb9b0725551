"""People from their bodies: the COCO person detector, its boxes and the colour of the clothes in them.

Face tracks only see customers who face the camera. A body detector also sees the one who keeps his back to
it, wears a cap or stands under a high camera, so a person track without any face is still a presence
("unidentified visit"). The detector is YOLOX-Nano (Apache-2.0, Megvii), shipped in the package under
`models/person/` and loaded with importlib.resources: nothing is downloaded at run time. Boxes become tracks in
`body_tracks.py`, and tracks are joined to faces in `faces_on_bodies.py`.

Plain Python: no Dagster here.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

Region = tuple[int, int, int, int]  # x1, y1, x2, y2: where in the frame to look (None: everywhere)

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


def same_clothes(
    a: tuple[float, float, float], b: tuple[float, float, float], max_colour: float, max_lightness: float
) -> bool:
    """Two looks (L*, a*, b*) alike in colour (`look_distance`) and in lightness: greys, black and white all sit
    at the centre of a*b*, so colour alone takes a light grey shirt for a dark grey one."""
    return look_distance(a, b) <= max_colour and abs(a[0] - b[0]) <= max_lightness


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
