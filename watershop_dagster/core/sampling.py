"""Which frames to decode, and which of those to search for faces.

Most shop footage is an empty room. The sampler decodes at a fixed rate; a motion meter on a small grey copy
of each sample says whether anything changed; the gate analyses a frame when something moved, more rarely
while faces are present but still (someone waiting at the counter), and now and then when idle. The
sampler is one small class behind `FrameSource`, so a faster decoding strategy can replace it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np


@dataclass
class DecodedFrame:
    index: int
    offset_s: float
    image: np.ndarray


@dataclass
class DecodeReport:
    frames_read: int = 0
    frames_decoded: int = 0
    truncated_at: int | None = None
    error: str | None = None


class FrameSource(Protocol):
    report: DecodeReport

    def frames(self, path: str, fps: float, frame_count: int) -> Iterator[DecodedFrame]: ...


@dataclass
class OpenCVSampler:
    """Decode every frame (the codec needs them) but convert only every n-th to an image."""

    sample_fps: float = 4.0
    report: DecodeReport = field(default_factory=DecodeReport)

    def frames(self, path: str, fps: float, frame_count: int) -> Iterator[DecodedFrame]:
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
                    yield DecodedFrame(index, index / fps, image)
                index += 1
            if frame_count and index < frame_count * 0.98 - 1:
                self.report.truncated_at = index
                self.report.error = f"truncated: decoded {index} of {frame_count} frames"
        finally:
            cap.release()


class MotionMeter:
    """Share of a small, blurred grey copy of the frame that changed since the previous sample."""

    def __init__(self, width: int = 160, pixel_threshold: int = 14):
        self.width, self.pixel_threshold = width, pixel_threshold
        self.previous: np.ndarray | None = None

    def reset(self) -> None:
        self.previous = None

    def measure(self, image: np.ndarray) -> tuple[float, float]:
        h, w = image.shape[:2]
        small = cv2.resize(image, (self.width, max(1, int(h * self.width / w))), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        brightness = float(grey.mean())
        if self.previous is None or self.previous.shape != grey.shape:
            motion = 1.0
        else:
            motion = float((cv2.absdiff(grey, self.previous) > self.pixel_threshold).mean())
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
