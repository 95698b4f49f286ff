"""The model registry: every network brainage can train, with the defaults that suit it.

A model is a backbone (3D CNN ending in global pooling) plus heads; its spec names the backbone
and the settings it was tuned with. Add a model by writing its backbone module and one entry in
:data:`MODELS`; the CLI, training and reports pick it up from here.

Example:
    >>> MODELS["sfcn"].age_head, MODELS["seresnet"].age_head
    ('softlabel', 'regression')
    >>> sorted(MODELS)
    ['ensemble', 'resnet', 'ridge', 'scanner_robust', 'seresnet', 'sfcn']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: where its backbone lives, its keyword arguments and its defaults.

    ``backbone`` is ``"module:Class"``, imported only when a network is built (so the command
    line can list models without importing torch). The class takes ``in_channels``, ``width``
    and ``dropout`` plus ``backbone_kwargs`` and exposes ``out_channels``. ``kind`` ``classical``
    models have no backbone: scikit-learn fits them (:mod:`brainage.training.classical`).
    ``inputs`` and ``covariates``: what the model sees by default (see ``ModelConfig``).
    """

    name: str
    description: str
    backbone: str = ""
    backbone_kwargs: dict = field(default_factory=dict)
    age_head: str = "regression"
    dropout: float = 0.3
    lr: float = 1e-3
    kind: str = "cnn"
    inputs: tuple = ("t1",)
    modulate: bool = True
    covariates: tuple = ()
    width: float = 1.0
    #: TrainConfig settings this model was tuned with (e.g. its grid and epochs; ``augment``: a dict
    #: of AugmentConfig settings, e.g. the domain randomisation of
    #: :class:`brainage.data.corruptions.RandomTissueContrast`)
    train: dict = field(default_factory=dict)
    #: How it is run by default (``--seeds``, ``--precision``) unless the command line says otherwise
    run: dict = field(default_factory=dict)
    #: The preprocessing recipe it reads (``brainage preprocess --recipe``), checked when training
    #: starts; empty: any
    recipe: str = ""

    def build_backbone(self, width: float, dropout: float, in_channels: int = 1):
        module, cls = self.backbone.split(":")
        return getattr(importlib.import_module(module), cls)(
            in_channels=in_channels, width=width, dropout=dropout, **self.backbone_kwargs
        )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "sfcn",
            "Simple Fully Convolutional Network (Peng et al. 2021), soft-label age over 1-year bins",
            "brainage.models.sfcn:SFCNBackbone",
            age_head="softlabel",
            dropout=0.5,
            lr=5e-3,
        ),  # lr chosen on fold 0's validation subjects of IXI-HH (never a test fold)
        ModelSpec(
            "seresnet",
            "3D ResNet with squeeze-and-excitation blocks and global average pooling",
            "brainage.models.seresnet:SEResNetBackbone",
            backbone_kwargs={"se": True},
        ),
        ModelSpec(
            "resnet",
            "the same 3D ResNet with SE switched off (ablation)",
            "brainage.models.seresnet:SEResNetBackbone",
            backbone_kwargs={"se": False},
        ),
        # Unmodulated maps: inner cross-validation on fold 0's training folds of IXI-HH (never a test
        # fold) gave ridge age MAE 5.99 vs 6.21 modulated, same sex accuracy; head size enters as covariates.
        ModelSpec(
            "ridge",
            "ridge regression on tissue maps, then head-size covariates (classical baseline)",
            kind="classical",
            inputs=("tissue",),
            modulate=False,
            covariates=("brain_volume_ml", "affine_det"),
        ),
        ModelSpec(
            "ensemble",
            "SE-ResNet on T1 + tissue maps with head-size covariates, stacked with ridge",
            "brainage.models.seresnet:SEResNetBackbone",
            backbone_kwargs={"se": True},
            kind="ensemble",
            inputs=("t1", "tissue"),
            modulate=False,
            covariates=("brain_volume_ml", "affine_det"),
            width=0.5,
            # 4 mm grid, 30 epochs, 3 seeds in bf16: the 5-fold CV of IXI-HH-180 takes ~35 minutes on a
            # 2-core CPU and was the best configuration measured there (benchmarks/ixi_cv_cpu.py)
            train={"downsample": 2, "max_epochs": 30, "patience": 100},
            run={"seeds": "0,1,2", "precision": "bf16-mixed"},
        ),
        # The shipped model (docs/scanner_robustness.md): the same stack on the T1 anchored on its own
        # CSF and white matter and on partial-volume tissue fractions (the ridge on the fractions), the T1
        # randomised in gamma, noise and blur, and every scan also seen as two other acquisitions
        # preprocessed end to end (`brainage preprocess --recipe scanner-robust`). Since 0.10 the tissue
        # fractions are back in the CNN: with the renditions they are as robust as the anchored T1 alone
        # (robust_tissue in docs/scanner_robustness.md), and its CNN member was 1.1 y better for them.
        ModelSpec(
            "scanner_robust",
            "SE-ResNet on the tissue-anchored T1 and tissue fractions and ridge on the fractions, with head-size "
            "covariates, stacked; trained also on each scan rendered as other acquisitions",
            "brainage.models.seresnet:SEResNetBackbone",
            backbone_kwargs={"se": True},
            kind="ensemble",
            inputs=("t1", "tissue"),
            modulate=False,
            covariates=("brain_volume_ml", "affine_det"),
            width=0.5,
            train={
                "downsample": 2,
                "max_epochs": 30,
                "patience": 100,
                "renditions": True,
                # batched on the training device since 0.12: the same transforms as torchio's per-volume
                # pipeline, epochs 2.5x faster on 2 cores, the 3-seed CV 6.09 / 0.886 / 0.889 in 30 min
                # (benchmarks/ixi_cv_cpu.py robust_tissue_batched_seeds); the shipped bundle is 0.10's,
                # trained with torchio's (docs/scanner_robustness.md says why it was not replaced)
                "augment": {"log_gamma": 0.35, "intensity_inputs": ("t1",), "blur_std_voxels": 0.5, "device": "batch"},
                # since 0.12.2 each fold predicts with its last epoch, not the one of lowest validation MAE
                # on ~22 subjects (epochs 3-29 were picked): CV 6.07 / 0.888 / 0.883, CNN 6.26 (best: 6.09 /
                # 0.886 / 0.889, 6.35), the over-65s bias-corrected -2.1 y (-2.5); robust_tissue_batched_seeds_last
                "checkpoint": "last",
            },
            run={"seeds": "0,1,2", "precision": "bf16-mixed"},
            recipe="scanner-robust",
        ),
    )
}


#: What ``brainage train`` trains when no model is named: the best of the 5-fold CPU benchmark on
#: IXI-HH-180 (benchmarks/ixi_cv_cpu.py; docs/benchmarks.md).
DEFAULT_MODEL = "ensemble"
#: Training settings of a model that does not tune its own (``ModelSpec.train`` overrides them):
#: the single source of ``TrainConfig``'s defaults and of ``brainage train --help``.
TRAIN_DEFAULTS = {"downsample": 1, "max_epochs": 60, "patience": 15, "batch_size": 8}
#: The checkpoints a trained CNN fold can predict with (``TrainConfig.checkpoint``; a spec's ``train``
#: may name one, else ``best``).
CHECKPOINTS = ("best", "last")


def train_default(name: str, key: str):
    """A model's default for one ``TrainConfig`` setting: its own, else :data:`TRAIN_DEFAULTS`.

    Example:
        >>> train_default("ensemble", "max_epochs"), train_default("sfcn", "max_epochs")
        (30, 60)
    """
    return MODELS[name].train.get(key, TRAIN_DEFAULTS[key])


def model_spec(name: str) -> ModelSpec:
    """The registered spec of ``name``, or a clear error listing the choices."""
    if name not in MODELS:
        from brainage.errors import InputError

        raise InputError(None, f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    return MODELS[name]
