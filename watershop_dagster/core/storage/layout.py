"""Where things live under the data folder. Inputs and generated files are named by day so retention can
delete whole folders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path


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
