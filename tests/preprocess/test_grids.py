"""A cache's record (grid.json) says what its volumes are: grid, pooling, voxel size; old files still read."""

import json

import numpy as np
import pytest

from brainage.data.manifest import make_manifest
from brainage.errors import InputError
from brainage.layout import PreprocessedDir
from brainage.preprocess.cache import pack_cache, unpack_cache, write_cache_index, write_volume
from brainage.preprocess.grids import CACHE_INFO_VERSION, GRIDS, CacheInfo, GridSpec


def test_round_trip_and_actual_voxels(tmp_path):
    info = CacheInfo(GRIDS["1mm"], pooled=4)
    assert CacheInfo.read(info.write(tmp_path / "grid.json")) == info
    assert (info.voxel_mm, info.shape) == (4.0, (40, 48, 40))
    assert CacheInfo(GRIDS["2mm"]).identity() == {"grid": GRIDS["2mm"].to_json()}  # fingerprints of old runs hold
    assert info.identity() != CacheInfo(GRIDS["1mm"]).identity()


@pytest.mark.parametrize(
    "written, expected",
    [
        (GRIDS["2mm"].to_json(), CacheInfo(GRIDS["2mm"])),
        ({"name": "2mm/2", "voxel_mm": 4.0, "shape": [40, 48, 40], "top_margin_mm": 4.0}, CacheInfo(GRIDS["2mm"], 2)),
    ],
)
def test_bare_grids_of_older_versions_are_read(tmp_path, written, expected):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(written))
    assert CacheInfo.read(path) == expected


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "invalid JSON"),
        (json.dumps({"version": 1, "grid": GRIDS["2mm"].to_json(), "colour": "red"}), r"unknown keys \['colour'\]"),
        (json.dumps({"version": 1}), "KeyError: 'grid'"),
        (json.dumps({"version": CACHE_INFO_VERSION + 1, "grid": {}}), "newer than this brainage reads"),
    ],
)
def test_anything_else_is_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "grid.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as error:
        CacheInfo.read(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_packed_cache_records_its_pooling_not_a_new_grid_name(tmp_path):
    grid = GridSpec("2mm", 2.0, (8, 8, 8))
    cache = PreprocessedDir(tmp_path).cache("2mm")
    write_volume(cache.volume("a"), np.full((8, 8, 8), 0.5))
    write_cache_index(cache, grid, make_manifest([{"subject_id": "a"}]))
    back = unpack_cache(pack_cache(cache.root, tmp_path / "a.npz", downsample=2), tmp_path / "unpacked")
    info = CacheInfo.read(back / "grid.json")
    assert info == CacheInfo(grid, 2) and info.shape == (4, 4, 4) and np.load(back / "a.npy").shape == (4, 4, 4)
