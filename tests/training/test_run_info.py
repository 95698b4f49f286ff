"""run_info.json is a typed, versioned record: written and read back the same, old files still
read, anything else refused in one line naming the file."""

import json
from pathlib import Path

import pytest

from brainage.errors import InputError
from brainage.preprocess.grids import GRIDS, CacheInfo
from brainage.training.run_info import SCHEMA_VERSION, RunInfo


def test_round_trip_keeps_every_field(tmp_path):
    info = RunInfo(
        cache_dir=Path("/c/cache/2mm"),
        folds_csv=Path("/s/folds.csv"),
        preprocessed_dir=Path("/c"),
        qc_verdicts=Path("/c/qc/qc_verdicts.csv"),
        n_subjects=12,
        cache=CacheInfo(GRIDS["2mm"], pooled=2),
        torch="2.13.0",
        stack_of=(Path("/m/a"), Path("/m/b")),
    )
    assert RunInfo.read(info.write(tmp_path / "run_info.json")) == info


def test_a_record_from_before_versions_is_read(tmp_path):
    path = tmp_path / "run_info.json"
    path.write_text(
        json.dumps(
            {
                "cache_dir": "/c/cache/2mm",
                "preprocessed_dir": None,
                "folds_csv": "/s/folds.csv",
                "qc_verdicts": None,
                "n_subjects": 3,
                "grid": GRIDS["2mm"].to_json(),
                "torch": "2.4",
            }
        )
    )
    info = RunInfo.read(path)
    assert info.schema_version == 0 and info.cache == CacheInfo(GRIDS["2mm"]) and info.preprocessed_dir is None


def test_a_version_1_record_of_a_packed_cache_reads_its_pooling(tmp_path):
    """Version 1 named a packed cache's grid "2mm/2", which no grid table resolves."""
    path = tmp_path / "run_info.json"
    packed = {"name": "2mm/2", "voxel_mm": 4.0, "shape": [40, 48, 40], "top_margin_mm": 4.0}
    path.write_text(json.dumps({"folds_csv": "/s/folds.csv", "grid": packed, "schema_version": 1}))
    cache = RunInfo.read(path).cache
    assert cache.grid == GRIDS["2mm"] and cache.pooled == 2 and cache.voxel_mm == 4.0 and cache.shape == (40, 48, 40)


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not a brainage run record"),
        (json.dumps({"cache_dir": "/c"}), "KeyError: 'folds_csv'"),
        (json.dumps({"folds_csv": "/s", "colour": "red"}), r"unknown keys \['colour'\]"),
        (json.dumps({"folds_csv": "/s", "schema_version": SCHEMA_VERSION + 1}), "newer than this brainage reads"),
    ],
)
def test_anything_else_is_refused_in_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "run_info.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as error:
        RunInfo.read(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(InputError, match="no run_info.json"):
        RunInfo.read(tmp_path / "missing" / "run_info.json")
