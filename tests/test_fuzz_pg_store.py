"""Mutation fuzz over a real snapshot store (issue 14, cause 19): damaged Parquet files and a
damaged manifest give `InputError` naming the file, or a read of intact data; nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from perfkit.io.pg import read_pg_stat, snapshot_pg
from perfkit.sandbox.postgres import Cluster
from tests.fuzz import fuzz_loader

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    cluster = Cluster()
    try:
        cluster.psql("create extension pg_stat_statements")
        cluster.pgbench("-i", "-s", "1")
        cluster.pgbench("-c", "2", "-t", "50")
        folder = tmp_path_factory.mktemp("fuzz") / "store"
        snapshot_pg(cluster.dsn(), folder)
        cluster.pgbench("-c", "1", "-t", "20")
        snapshot_pg(cluster.dsn(), folder)
    finally:
        cluster.close()
    return folder


def damaged_store_reader(store: Path, relative: str, view: str):
    """A loader for fuzz_loader: a copy of `store` with `relative` replaced by the mutant."""

    def load(path: Path):
        copy = path.parent / "store"
        shutil.copytree(store, copy)
        shutil.copyfile(path, copy / relative)
        frame = read_pg_stat(copy, view)
        assert len(frame) > 0 and frame["snapshot_time"].notna().all()
        return frame

    return load


@pytest.mark.parametrize(
    ("part", "view"),
    [
        ("statements", "statements"),
        ("texts", "statements"),
        ("tables", "tables"),
        ("indexes", "indexes"),
        ("perfkit-store.json", "database"),
    ],
)
def test_fuzz_store(store, tmp_path, part, view):
    if part.endswith(".json"):
        relative = part
    else:
        relative = f"{part}/{sorted((store / part).glob('*.parquet'))[-1].name}"
    counts = fuzz_loader(
        damaged_store_reader(store, relative, view), store / relative, tmp_path, seed=14,
        per_mutation=8,
    )  # fmt: skip
    assert sum(counts.values()) == 64
    assert counts["input_error"] > 0  # the damage was seen, not read as data


def test_fuzz_recorded_legacy_store(tmp_path):
    """A store recorded by an earlier perfkit (no snapshot list in its manifest, no checksums)."""
    recorded = ROOT / "data" / "baseline" / "pg"
    relative = f"tables/{sorted((recorded / 'tables').glob('*.parquet'))[0].name}"
    counts = fuzz_loader(
        damaged_store_reader(recorded, relative, "tables"), recorded / relative, tmp_path,
        seed=14, per_mutation=8,
    )  # fmt: skip
    assert sum(counts.values()) == 64 and counts["input_error"] > 0
