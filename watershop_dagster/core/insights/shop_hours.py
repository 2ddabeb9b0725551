"""When the shop really opened and closed, read from the footage itself.

The strongest signal is light: the shutter going up or the lights coming on lifts the whole frame's
brightness, and the reverse at closing. Where the footage shows such a step (dark and lit levels at least
`min_step` grey levels apart), opening is the first lit frame and closing the first dark frame after the
last lit one, with high confidence. Without it (a DVR that records only while the shop is open), the first
and last motion or face is the best evidence, with lower confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ShopHoursRules:
    min_step: float = 30.0  # grey levels between dark and lit
    motion_threshold: float = 0.003
    # The dark and lit levels are the level_frames-th darkest and brightest sampled frames, not percentiles: a
    # DVR that records on motion keeps a few seconds of dark shop at opening and closing among a day of lit
    # recordings (seed 193, day 1: 23 dark frames of 915, under the 5th percentile that was used, so the day
    # fell back to the first and last customer, 1.7 and 1.9 hours off). Fewer frames than that at a level
    # (one odd frame) are not the lights.
    level_frames: int = 4


@dataclass
class ShopHours:
    opening: pd.Timestamp | None
    closing: pd.Timestamp | None
    method: str  # lighting / activity / none
    confidence: float


def detect_shop_hours(frames: pd.DataFrame, rules: ShopHoursRules | None = None) -> ShopHours:
    """`frames`: time, brightness, motion_score, faces (one row per sampled frame, all cameras)."""
    rules = rules or ShopHoursRules()
    if frames.empty:
        return ShopHours(None, None, "none", 0.0)
    f = frames.sort_values("time").reset_index(drop=True)
    b = f["brightness"].to_numpy(float)
    ordered = np.sort(b)
    k = min(rules.level_frames, len(b)) - 1
    dark, lit = ordered[k], ordered[-1 - k]
    if lit - dark >= rules.min_step:
        threshold = (dark + lit) / 2
        is_lit = b >= threshold
        lit_idx = np.flatnonzero(is_lit)
        first, last = lit_idx[0], lit_idx[-1]
        opening = f.loc[first, "time"] if first > 0 else None  # lit from the first frame: the step was not filmed
        closing = f.loc[last + 1, "time"] if last + 1 < len(f) else None
        # Confidence from how cleanly the frames split into two levels.
        spread = np.std(b[is_lit]) + np.std(b[~is_lit]) if (~is_lit).any() else np.std(b)
        confidence = float(np.clip(1 - spread / (lit - dark), 0.5, 0.99))
        activity = _activity_bounds(f, rules)
        if opening is None:
            opening = activity[0]
        if closing is None:
            closing = activity[1]
        return ShopHours(opening, closing, "lighting", round(confidence, 3))
    first, last = _activity_bounds(f, rules)
    if first is None:
        return ShopHours(None, None, "none", 0.0)
    return ShopHours(first, last, "activity", 0.5)


def _activity_bounds(f: pd.DataFrame, rules: ShopHoursRules) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    active = f[(f["faces"] > 0) | (f["motion_score"] >= rules.motion_threshold)]
    # The first sample of each file always counts as motion (nothing to compare it with): ignore it.
    active = active[active["motion_score"] < 1.0] if "motion_score" in active else active
    if active.empty:
        return None, None
    return active["time"].iloc[0], active["time"].iloc[-1]
