"""Where things live under the data folder. Inputs and generated files are named by day so retention can
delete whole folders.

Each shop has its own folder, `data/shops/<shop>/` (transactions/, footage/, staff/, optout/, and the crops and
reports written for it). The single-shop layout of earlier versions, with those folders directly under
`data/`, is the shop named `main`: nothing to migrate. The warehouse is one for all shops, at the top."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

MAIN_SHOP = "main"
SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # a folder name, a partition key and a column value
_SHOP_INPUTS = ("transactions", "footage", "staff", "optout")


def shop_layout(data_dir: Path, shop: str) -> DataLayout:
    """The folders of one shop: `data/shops/<shop>/`, or `data/` itself for `main` in the single-shop layout."""
    if not SHOP_NAME.match(shop):
        raise ValueError(f"shop name {shop!r}: use lower-case letters, digits, '-' and '_' (e.g. 'anna-nagar')")
    folder = data_dir / "shops" / shop
    if shop == MAIN_SHOP and not folder.is_dir():
        return DataLayout(data_dir)
    return DataLayout(folder)


def discover_shops(data_dir: Path) -> tuple[list[str], list[str]]:
    """The shops with a folder (and `main` where the single-shop layout has inputs), and the problems found
    (folders under data/shops/ whose names cannot be shop names)."""
    shops, problems = [], []
    if any((data_dir / name).is_dir() for name in _SHOP_INPUTS):
        shops.append(MAIN_SHOP)
    root = data_dir / "shops"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if not SHOP_NAME.match(folder.name):
            problems.append(f"shops/{folder.name}: not a usable shop name (lower-case letters, digits, '-', '_')")
        elif folder.name not in shops:
            shops.append(folder.name)
    return shops, problems


def first_data_day(data_dir: Path) -> date | None:
    """The earliest day any shop has a till file (transactions/<day>.csv) or footage folder (footage/<day>/)
    for; None when there is none. Names only: nothing is opened."""
    days = []
    for shop in discover_shops(data_dir)[0]:
        layout = shop_layout(data_dir, shop)
        names = [p.stem for p in layout.transactions_dir.glob("*.csv")] if layout.transactions_dir.is_dir() else []
        names += [p.name for p in layout.footage_dir.iterdir()] if layout.footage_dir.is_dir() else []
        for name in names:
            try:
                days.append(date.fromisoformat(name))
            except ValueError:
                continue
    return min(days, default=None)


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def transactions_dir(self) -> Path:
        return self.root / "transactions"

    def transactions_file(self, day: date) -> Path:
        return self.transactions_dir / f"{day.isoformat()}.csv"

    @property
    def footage_dir(self) -> Path:
        return self.root / "footage"

    def footage_day_dir(self, day: date) -> Path:
        return self.footage_dir / day.isoformat()

    @property
    def staff_dir(self) -> Path:
        return self.root / "staff"

    @property
    def optout_dir(self) -> Path:
        return self.root / "optout"

    def crops_dir(self, day: date) -> Path:
        return self.root / "crops" / day.isoformat()

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def relative(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)
