"""brainage: raw T1 brain MRI -> quality-controlled data, brain-age and sex 3D CNNs, honest evaluation.

The public API, one stage per line (each also a ``brainage`` subcommand). Names are imported on
first use, so ``import brainage`` (and ``brainage --help``) stays fast:

>>> from brainage import ingest, make_folds, make_cohort, preprocess_manifest, run_qc, train_cv, evaluate
>>> callable(train_cv)
True
"""

from __future__ import annotations

import importlib

from brainage.version import __version__  # noqa: F401

#: public name -> module that defines it
_EXPORTS = {
    "ingest": "brainage.data.ingest",
    "ingest_bids": "brainage.data.ingest_bids",
    "ingest_csv": "brainage.data.ingest_csv",
    "ingest_ixi": "brainage.data.ingest_ixi",
    "read_manifest": "brainage.data.manifest",
    "write_manifest": "brainage.data.manifest",
    "SynthConfig": "brainage.data.synth",
    "make_cohort": "brainage.data.synth",
    "BrainageError": "brainage.errors",
    "InputError": "brainage.errors",
    "PreprocessConfig": "brainage.preprocess.pipeline",
    "recipe_preset": "brainage.preprocess.pipeline",
    "preprocess_manifest": "brainage.preprocess.pipeline",
    "Preprocessor": "brainage.preprocess.scan",
    "PreprocessedScan": "brainage.preprocess.scan",
    "GRIDS": "brainage.preprocess.grids",
    "GridSpec": "brainage.preprocess.grids",
    "CacheInfo": "brainage.preprocess.grids",
    "Executor": "brainage.parallel",
    "run_qc": "brainage.qc.run",
    "BrainAgeNet": "brainage.models.network",
    "ModelConfig": "brainage.models.network",
    "model_config": "brainage.models.network",
    "MODELS": "brainage.models.registry",
    "SplitConfig": "brainage.training.splits",
    "make_folds": "brainage.training.splits",
    "split": "brainage.training.splits",
    "AugmentConfig": "brainage.training.augment",
    "build_augmentation": "brainage.training.augment",
    "BrainAgeDataset": "brainage.training.dataset",
    "make_loader": "brainage.training.dataset",
    "TrainConfig": "brainage.training.config",
    "RunOptions": "brainage.training.config",
    "train_cv": "brainage.training.cv",
    "AgeBiasCorrector": "brainage.training.bias",
    "evaluate": "brainage.evaluation.report",
    "export_bundle": "brainage.bundle.export",
    "load_bundle": "brainage.bundle.bundle",
    "Bundle": "brainage.bundle.bundle",
    "predict_files": "brainage.predict.run",
    "explain_folder": "brainage.explain.run",
    "finetune_site": "brainage.predict.site",
    "FinetuneConfig": "brainage.training.finetune",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'brainage' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
