"""Fixtures of the training tests."""

import numpy as np
import pandas as pd
import pytest

from brainage.data.manifest import make_manifest
from brainage.layout import PreprocessedDir
from brainage.preprocess.cache import write_cache_index, write_volume
from brainage.preprocess.grids import GridSpec
from brainage.training.splits import SplitConfig, write_splits


@pytest.fixture(scope="session")
def tissue_cache(tmp_path_factory):
    """60 subjects: grey matter thins with age in one corner; men have bigger heads (affine_det)."""
    root = tmp_path_factory.mktemp("classical")
    cache = PreprocessedDir(root).cache("2mm")
    rng = np.random.default_rng(1)
    rows = []
    for i in range(60):
        age, sex = float(rng.uniform(20, 80)), "FM"[i % 2]
        tissue = rng.uniform(0.2, 0.4, (3, 12, 12, 12))
        tissue[1, :6, :6, :6] = 0.9 - 0.008 * age + rng.normal(0, 0.02, (6, 6, 6))
        det = (1.15 if sex == "M" else 1.0) * rng.normal(1, 0.03)
        write_volume(cache.volume(f"s{i:02d}"), tissue[1])
        write_volume(cache.tissue(f"s{i:02d}"), np.clip(tissue, 0, 1))
        rows.append(
            {
                "subject_id": f"s{i:02d}",
                "age": age,
                "sex": sex,
                "site": "x",
                "t1_path": "",
                "affine_det": det,
                "brain_volume_ml": 1200 * det,
            }
        )
    manifest = make_manifest(rows)
    report = pd.DataFrame(rows)[["subject_id", "affine_det", "brain_volume_ml"]]
    write_cache_index(cache, GridSpec("2mm", 2.0, (12, 12, 12)), manifest, report)
    write_splits(manifest, root / "splits", SplitConfig(n_folds=3, age_bins=2))
    return root
