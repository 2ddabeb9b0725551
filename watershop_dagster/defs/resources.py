"""Resources: where the shop's files are and where the warehouse lives. All settings come from the
environment (WATERSHOP_*) through EnvVar, with defaults that work in a fresh checkout."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from watershop_dagster.core.layout import DataLayout
from watershop_dagster.core.till import PriceList
from watershop_dagster.core.warehouse import Warehouse


class ShopDataResource(dg.ConfigurableResource):
    """The data folder (inputs, crops, reports) and the shop's price list."""

    data_dir: str = Field(default="data", description="WATERSHOP_DATA_DIR: the folder with transactions/, footage/, staff/ ...")
    price_10l: float = Field(default=10.0, description="rupees per 10 L can")
    price_20l: float = Field(default=20.0, description="rupees per 20 L can")

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.data_dir))

    @property
    def prices(self) -> PriceList:
        return PriceList({10: self.price_10l, 20: self.price_20l})


class WarehouseResource(dg.ConfigurableResource):
    """The one DuckDB file every asset reads and writes."""

    data_dir: str = Field(default="data", description="WATERSHOP_DATA_DIR")
    path: str = Field(default="", description="WATERSHOP_WAREHOUSE; default <data_dir>/warehouse.duckdb")
    encryption_key: str = Field(default="", description="WATERSHOP_ENCRYPTION_KEY: encrypt the file at rest")
    lock_timeout_s: float = Field(default=600.0, description="how long a writer waits for another process's lock")

    def get(self) -> Warehouse:
        path = self.path or str(Path(self.data_dir) / "warehouse.duckdb")
        return Warehouse(path, encryption_key=self.encryption_key or None, lock_timeout_s=self.lock_timeout_s)


def _env(name: str, default: str) -> str | dg.EnvVar:
    """EnvVar when the variable is set (so the UI shows where a value came from), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def default_resources() -> dict:
    data_dir = _env("WATERSHOP_DATA_DIR", "data")
    return {
        "shop": ShopDataResource(data_dir=data_dir),
        "faces": _face_engine_resource(),
        "warehouse": WarehouseResource(
            data_dir=data_dir,
            path=_env("WATERSHOP_WAREHOUSE", ""),
            encryption_key=_env("WATERSHOP_ENCRYPTION_KEY", ""),
        ),
    }


def _face_engine_resource():
    from watershop_dagster.defs.vision import FaceEngineResource

    return FaceEngineResource(model_dir=_env("WATERSHOP_MODEL_DIR", ""))
