"""brainage: raw T1 brain MRI -> quality-controlled data, brain-age and sex 3D CNNs, honest evaluation.

The public API, one stage per line (each also a ``brainage`` subcommand):

>>> from brainage import ingest, make_folds, make_cohort, preprocess_manifest, run_qc, train_cv, evaluate  # doctest: +SKIP
"""

from brainage.data.ingest import ingest, split
from brainage.data.ingest_bids import ingest_bids
from brainage.data.ingest_csv import ingest_csv
from brainage.data.ingest_ixi import ingest_ixi
from brainage.data.manifest import read_manifest, write_manifest
from brainage.data.splits import SplitConfig, make_folds
from brainage.data.synth import SynthConfig, make_cohort
from brainage.errors import BrainageError, InputError
from brainage.evaluation.bias import AgeBiasCorrector
from brainage.evaluation.report import evaluate
from brainage.models.network import BrainAgeNet, ModelConfig
from brainage.preprocess.dataset import AugmentConfig, BrainAgeDataset, build_augmentation, make_loader
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest
from brainage.qc.run import run_qc
from brainage.training.cv import TrainConfig, train_cv

__version__ = "0.1.0"

__all__ = [
    "AgeBiasCorrector", "AugmentConfig", "BrainAgeDataset", "BrainAgeNet", "BrainageError", "InputError", "ModelConfig",
    "PreprocessConfig", "SplitConfig", "SynthConfig", "TrainConfig", "build_augmentation", "evaluate", "ingest",
    "ingest_bids", "ingest_csv", "ingest_ixi", "make_cohort", "make_folds", "make_loader", "preprocess_manifest",
    "read_manifest", "run_qc", "split", "train_cv", "write_manifest",
]
