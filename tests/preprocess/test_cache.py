"""The cache index is read through its schema: what a later stage relies on is checked on read."""

import numpy as np
import pandas as pd
import pytest

from brainage.errors import InputError
from brainage.layout import CacheDir
from brainage.preprocess.cache import read_cache_index, write_cache_index, write_volume
from brainage.preprocess.grids import GridSpec


@pytest.fixture
def cache(tmp_path) -> CacheDir:
    cache = CacheDir(tmp_path / "cache")
    manifest = pd.DataFrame(
        {"subject_id": ["007", "012"], "age": [30.0, 61.5], "sex": ["F", "M"], "site": "HH", "included": True}
    )
    for sid in manifest.subject_id:
        write_volume(cache.volume(sid), np.zeros((4, 4, 4)))
    report = manifest[["subject_id"]].assign(brain_volume_ml=[1100.0, 1250.0], affine_det=[0.9, 1.1])
    write_cache_index(cache, GridSpec("tiny", 2.0, (4, 4, 4)), manifest, report)
    return cache


def test_an_index_reads_back_typed_with_absolute_paths(cache):
    index = read_cache_index(cache.root)
    assert index.subject_id.tolist() == ["007", "012"]  # identifiers stay text
    assert index.source_subject.tolist() == ["007", "012"] and (index.rendition == "").all()
    assert index.brain_volume_ml.tolist() == [1100.0, 1250.0]
    assert all(path.startswith(str(cache.root)) for path in index.path)


def test_an_index_written_before_renditions_gets_each_scan_as_its_own_source(cache):
    old = pd.read_csv(cache.index, dtype={"subject_id": str}).drop(columns=["source_subject", "rendition"])
    old.to_csv(cache.index, index=False)
    index = read_cache_index(cache.root)
    assert index.source_subject.tolist() == ["007", "012"] and (index.rendition == "").all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.assign(scanner_gain=1.0), "unknown column scanner_gain"),
        (lambda t: t.drop(columns="age"), "no column age"),
        (lambda t: t.assign(affine_det="big"), "column affine_det holds text"),
    ],
)
def test_a_broken_index_is_refused_in_one_line_naming_it(cache, change, message):
    change(pd.read_csv(cache.index, dtype={"subject_id": str})).to_csv(cache.index, index=False)
    with pytest.raises(InputError, match=message) as raised:
        read_cache_index(cache.root)
    assert "index.csv" in str(raised.value) and "\n" not in str(raised.value)
