"""Fixtures of the predict tests: a tiny bundle trained on the preprocessed synthetic heads."""

import shutil

import pandas as pd
import pytest

from brainage.layout import FINAL_FOLD, PreprocessedDir
from brainage.models.network import ModelConfig
from brainage.predict.export import export_bundle
from brainage.preprocess.cache import read_cache_index
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.cv import train_cv
from brainage.training.splits import SplitConfig, write_splits


def _doubled(source: PreprocessedDir, target: PreprocessedDir) -> PreprocessedDir:
    """A copy of a preprocessed folder whose cache lists every subject twice (``<id>`` and ``<id>-b``):
    cross-validated training needs at least 10 subjects."""
    for path in (source.config, source.manifest, source.report):
        target.root.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target.root / path.name)
    src, dst = source.cache("2mm"), target.cache("2mm")
    shutil.copytree(src.root, dst.root)
    index = pd.read_csv(src.index, dtype={"subject_id": str})
    twin = index.assign(subject_id=index.subject_id + "-b")
    for row, new in zip(index.itertuples(), twin.itertuples()):
        shutil.copy(src.root / row.path, dst.volume(new.subject_id))
        shutil.copy(src.root / row.tissue_path, dst.tissue(new.subject_id))
    twin["path"] = [dst.volume(s).name for s in twin.subject_id]
    twin["tissue_path"] = [dst.tissue(s).name for s in twin.subject_id]
    pd.concat([index, twin]).to_csv(dst.index, index=False)
    return target


@pytest.fixture(scope="session")
def tiny_bundle(preprocessed_synth, tmp_path_factory):
    """A 1-epoch SFCN trained on every preprocessed synthetic head (``train --final``), exported."""
    source, _, _ = preprocessed_synth
    root = tmp_path_factory.mktemp("bundle")
    out = _doubled(PreprocessedDir(source), PreprocessedDir(root / "pre"))
    index = read_cache_index(out.cache("2mm").root)
    write_splits(index.assign(included=True), root / "splits", SplitConfig(n_folds=2, age_bins=1))
    config = TrainConfig(model=ModelConfig(name="sfcn", width=0.25, dropout=0.0), max_epochs=1, batch_size=4,
                         val_fraction=0.3, downsample=2)
    train_cv(out.root, root / "splits", root / "run", config, RunOptions(folds=(FINAL_FOLD,), num_workers=0))
    path = root / "tiny.brainage"
    export_bundle(root / "run", path, licence="test", attribution="synthetic heads")
    return path, root / "run", out.cache("2mm").root
