"""Which frames to decode, and which of those to search for faces: the one sampler contract.

A sampler (`FrameSource`) walks one file and decides where to look. Where it wants faces it calls the face
stage it was given (`FaceLook`: a frame in, what was seen out) and uses the answer to decide where to decode
next; it yields each sample with what was measured and seen. Data flows one way: the face stage never
writes into the sampler's frames, and the sampler never reads its consumer's state.

`DenseSampler` decodes every frame and measures every sampled one, analysing where a motion gate says so;
it is the reference (and the fallback for long-GOP files) for `CoarseToFineSampler`, the default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

# Frame conversions (PyAV's swscale) on one thread, in every process. PyAV's default is one thread per core,
# and those threads wait for each other when another process holds a core (a backfill's other worker: 3.5x
# slower conversions); alone, one thread was faster at 720p and slower at 1080p. Figures: README, "Scaling
# out" and the footage matrix.
SCALER_THREADS = 1


def square_width(width: int, pixel_aspect: float) -> int:
    """A frame's width once its pixels are made square (`manifest.pixel_aspect`)."""
    return max(1, round(width * pixel_aspect))


class DecodedFrame:
    """A sampled frame. The full-size BGR image is made only when asked for: most sampled frames are only
    measured for motion, on a small grey copy the decoder makes cheaply. The sampler sets `region` (where to
    search for faces; None is the whole frame) and `fine` (a frame of the fine grid around a change: entry,
    exit) before handing the frame to the face stage.

    A decoder frame whose pixels are not square (`pixel_aspect`, from the manifest) is stretched to square
    pixels as it is converted: `image`, `whole` and `region` are all in those pixels, so faces keep their
    shape for the detector and the recognizer. An `image` given whole is taken as square already."""

    def __init__(
        self,
        index: int,
        offset_s: float,
        image: np.ndarray | None = None,
        av_frame=None,
        small_grey: np.ndarray | None = None,
        pixel_aspect: float = 1.0,
    ):
        self.index, self.offset_s = index, offset_s
        self._image, self._av_frame, self.small_grey = image, av_frame, small_grey
        self.pixel_aspect = pixel_aspect
        self.region: tuple[int, int, int, int] | None = None
        self.fine = False

    @property
    def image(self) -> np.ndarray:
        """Full-size BGR. With a `region`, only that part is converted from the decoder's YUV (the rest
        stays black): faces are searched, aligned and cropped inside it."""
        if self._image is None:
            self._image = _to_bgr(self._av_frame, self.region, self.pixel_aspect)
            if self.region is None:
                self._av_frame = None  # a frame converted in part keeps its source for whole()
        return self._image

    def whole(self, long_side: int) -> tuple[np.ndarray, float]:
        """The whole frame, BGR, scaled down so its longer side is at most `long_side`, and that scale: for a
        detector that takes in the whole scene at its own input size, whatever the region (scaling in the
        decoder's converter costs about 0.4 ms at 720p)."""
        source = self._av_frame  # None for a frame given whole (no decoder frame behind it)
        if source is not None:
            w, h = square_width(source.width, self.pixel_aspect), source.height
        else:
            w, h = self.image.shape[1::-1]
        scale = min(1.0, long_side / max(w, h))
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        if source is not None:
            small = source.reformat(
                width=nw, height=nh, format="bgr24", interpolation="BILINEAR", threads=SCALER_THREADS
            )
            return small.to_ndarray(), nw / w
        if scale == 1.0:
            return self.image, 1.0
        return cv2.resize(self.image, (nw, nh), interpolation=cv2.INTER_LINEAR), nw / w


def _to_bgr(frame, region: tuple[int, int, int, int] | None, pixel_aspect: float = 1.0) -> np.ndarray:
    if pixel_aspect != 1.0:
        return _to_square_bgr(frame, pixel_aspect)
    if region is None or frame.format.name != "yuv420p":
        return frame.to_ndarray(format="bgr24", threads=SCALER_THREADS)
    h, w = frame.height, frame.width
    # Chroma is stored at half resolution; bounds on multiples of 4 keep the I420 layout whole.
    x1, y1 = region[0] // 4 * 4, region[1] // 4 * 4
    x2, y2 = min(w // 4 * 4, -(-region[2] // 4) * 4), min(h // 4 * 4, -(-region[3] // 4) * 4)
    if x2 <= x1 or y2 <= y1:
        return frame.to_ndarray(format="bgr24", threads=SCALER_THREADS)

    def plane(i, scale):
        p = frame.planes[i]
        return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[y1 // scale : y2 // scale, x1 // scale : x2 // scale]

    luma, u, v = plane(0, 1), plane(1, 2), plane(2, 2)
    rows, cols = luma.shape
    i420 = np.concatenate([luma, u.reshape(rows // 4, cols), v.reshape(rows // 4, cols)])
    out = np.zeros((h, w, 3), np.uint8)
    out[y1:y2, x1:x2] = cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
    return out


def _to_square_bgr(frame, pixel_aspect: float) -> np.ndarray:
    """The whole frame stretched to square pixels (the converter scales as it converts). A region is not cut
    out here, as it is for square pixels: the face detector searches only the region in any case."""
    return frame.reformat(
        width=square_width(frame.width, pixel_aspect),
        height=frame.height,
        format="bgr24",
        interpolation="BILINEAR",
        threads=SCALER_THREADS,
    ).to_ndarray()


@dataclass(frozen=True)
class Sighting:
    """One face the face stage saw: where, and its embedding when it has one."""

    box: np.ndarray
    embedding: np.ndarray | None


class Findings(Protocol):
    """What the face stage returns for a frame. The sampler reads only `sightings`; the consumer keeps the
    rest (observations, crops) for its tables."""

    @property
    def sightings(self) -> list[Sighting]: ...


# The face stage as the sampler sees it: a frame to look at in, what was seen out.
FaceLook = Callable[[DecodedFrame], Findings]


@dataclass(frozen=True)
class Sample:
    """One sampled frame as the sampler hands it on: what it measured, and what the face stage saw when the
    sampler asked it to look (`findings` is None for frames only measured)."""

    frame: DecodedFrame
    motion: float
    brightness: float
    findings: Findings | None = None

    @property
    def analysed(self) -> bool:
        return self.findings is not None


@dataclass
class DecodeReport:
    frames_read: int = 0
    frames_decoded: int = 0
    truncated_at: int | None = None
    error: str | None = None
    detail: dict = field(default_factory=dict)  # sampler-specific counts, for logs and benchmarks


class FrameSource(Protocol):
    report: DecodeReport

    def samples(
        self, path: str, fps: float, frame_count: int, look: FaceLook, *, pixel_aspect: float = 1.0
    ) -> Iterator[Sample]: ...


@dataclass
class DenseSampler:
    """Decode every frame (the codec needs them), measure every `sample_fps` one for motion, and have the face
    stage look where the gate says: on motion, more rarely while faces are present but still, now and then
    when idle. With `analyse_every` it looks at every sampled frame (the reference for other samplers)."""

    sample_fps: float = 2.0
    gate: AnalysisGate = field(default_factory=lambda: AnalysisGate())
    analyse_every: bool = False
    report: DecodeReport = field(default_factory=DecodeReport)

    def samples(
        self, path: str, fps: float, frame_count: int, look: FaceLook, *, pixel_aspect: float = 1.0
    ) -> Iterator[Sample]:
        meter = MotionMeter()
        self.gate.reset()
        for frame in self.frames(path, fps, frame_count, pixel_aspect):
            motion, brightness = meter.measure(frame.image)
            if not (self.analyse_every or self.gate.should_analyse(frame.offset_s, motion)):
                yield Sample(frame, motion, brightness)
                continue
            findings = look(frame)
            self.gate.record(frame.offset_s, len(findings.sightings))
            yield Sample(frame, motion, brightness, findings)

    def frames(self, path: str, fps: float, frame_count: int, pixel_aspect: float = 1.0) -> Iterator[DecodedFrame]:
        """Every `sample_fps` frame, decoded to a full-size image (stretched to square pixels)."""
        self.report = DecodeReport()
        step = max(1, int(round(fps / self.sample_fps)))
        cap = cv2.VideoCapture(path)
        try:
            index = 0
            while True:
                if not cap.grab():
                    break
                self.report.frames_read += 1
                if index % step == 0:
                    ok, image = cap.retrieve()
                    if not ok:
                        break
                    self.report.frames_decoded += 1
                    if pixel_aspect != 1.0:
                        size = (square_width(image.shape[1], pixel_aspect), image.shape[0])
                        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
                    yield DecodedFrame(index, index / fps, image)
                index += 1
            if frame_count and index < frame_count * 0.98 - 1:
                self.report.truncated_at = index
                self.report.error = f"truncated: decoded {index} of {frame_count} frames"
        finally:
            cap.release()


def _small_grey(image: np.ndarray, width: int = 160) -> np.ndarray:
    h, w = image.shape[:2]
    small = cv2.resize(image, (width, max(1, int(h * width / w))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)


def small_grey_of(frame, width: int, height: int) -> np.ndarray:
    """A decoded (PyAV) frame as a small, blurred grey image, scaled inside the decoder's library."""
    return cv2.GaussianBlur(
        frame.reformat(width=width, height=height, format="gray", threads=SCALER_THREADS).to_ndarray(), (5, 5), 0
    )


def changed_mask(a: np.ndarray, b: np.ndarray, pixel_threshold: int) -> np.ndarray:
    """Pixels of two small grey images that differ by more than `pixel_threshold` levels."""
    return cv2.absdiff(a, b) > pixel_threshold


def changed_share(a: np.ndarray, b: np.ndarray, pixel_threshold: int) -> float:
    return float(changed_mask(a, b, pixel_threshold).mean())


class MotionMeter:
    """Share of a small, blurred grey copy of the frame that changed since the previous sample."""

    def __init__(self, width: int = 160, pixel_threshold: int = 14):
        self.width, self.pixel_threshold = width, pixel_threshold
        self.previous: np.ndarray | None = None

    def reset(self) -> None:
        self.previous = None

    def measure(self, image: np.ndarray | None = None, small_grey: np.ndarray | None = None) -> tuple[float, float]:
        if small_grey is not None:
            grey = small_grey
        else:
            assert image is not None, "measure needs the image or its small grey"
            grey = _small_grey(image, self.width)
        brightness = float(grey.mean())
        if self.previous is None or self.previous.shape != grey.shape:
            motion = 1.0
        else:
            motion = changed_share(grey, self.previous, self.pixel_threshold)
        self.previous = grey
        return motion, brightness


@dataclass
class AnalysisGate:
    motion_threshold: float = 0.003
    still_interval_s: float = 1.0
    idle_interval_s: float = 10.0
    last_analysed: float | None = None
    faces_present: bool = False

    def reset(self) -> None:
        self.last_analysed, self.faces_present = None, False

    def should_analyse(self, t: float, motion: float) -> bool:
        if self.last_analysed is None or motion >= self.motion_threshold:
            return True
        since = t - self.last_analysed
        return since >= (self.still_interval_s if self.faces_present else self.idle_interval_s)

    def record(self, t: float, faces: int) -> None:
        self.last_analysed, self.faces_present = t, faces > 0
