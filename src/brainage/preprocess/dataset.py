"""Model-ready loading: the uint8 cache through a torchio transform pipeline into a DataLoader.

Every transform here is a module-level class or a torchio transform, so datasets pickle cleanly
and DataLoaders work with ``num_workers > 0`` under the ``fork``, ``spawn`` and ``forkserver``
start methods. A lambda or local function in a transform used to *hang forever* under ``fork``
(the worker's pickling error is only printed) and fail at once under ``spawn``;
:func:`make_loader` checks picklability before any worker starts and fails fast, naming the
culprit.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from brainage.errors import BrainageError
from brainage.preprocess.cache import read_volume

SEX_TO_LABEL = {"F": 0, "M": 1}


@dataclass
class AugmentConfig:
    """Augmentation suited to brain age: small affine jitter, intensity changes, no left-right flip
    (hemispheric asymmetry changes with age; flipping would erase it). ``device``: ``cpu`` runs
    torchio in the DataLoader workers; ``gpu`` runs the batched equivalent on the training
    device (:mod:`brainage.preprocess.gpu_augment`), for when workers cannot keep up."""

    enabled: bool = True
    device: str = "cpu"
    scale: float = 0.03
    degrees: float = 5.0
    translation_mm: float = 4.0
    log_gamma: float = 0.2
    noise_std: float = 0.02
    bias_coefficients: float = 0.1
    flip_lr: bool = False


def build_augmentation(config: AugmentConfig, voxel_mm: float = 2.0):
    """A picklable torchio pipeline from an :class:`AugmentConfig` (``None`` when disabled or
    when augmentation runs on the GPU instead).

    Example:
        >>> t = build_augmentation(AugmentConfig())
        >>> type(t).__name__
        'Compose'
    """
    if not config.enabled or config.device == "gpu":
        return None
    import torchio as tio  # imported here so GPU-only training runs without torchio installed

    transforms = [
        tio.RandomAffine(scales=config.scale, degrees=config.degrees, translation=config.translation_mm / voxel_mm,
                         image_interpolation="linear", p=0.8),
        tio.RandomBiasField(coefficients=config.bias_coefficients, order=2, p=0.3),
        tio.RandomGamma(log_gamma=config.log_gamma, p=0.5),
        tio.RandomNoise(std=(0, config.noise_std), p=0.5),
    ]
    if config.flip_lr:
        transforms.insert(0, tio.RandomFlip(axes=("LR",)))
    return tio.Compose(transforms)


class BrainAgeDataset(Dataset):
    """Cached volumes with age and sex labels, through an optional torchio transform.

    Items are ``(volume [1, X, Y, Z] float32 in [0, 1], age float32, sex int64 (F=0, M=1))``.

    Example:
        >>> ds = BrainAgeDataset(read_cache_index("out/cache/2mm"), build_augmentation(AugmentConfig()))  # doctest: +SKIP
        >>> volume, age, sex = ds[0]  # doctest: +SKIP
    """

    def __init__(self, index: pd.DataFrame, transform=None, downsample: int = 1):
        self.paths = index["path"].tolist()
        self.ages = index["age"].to_numpy(np.float32)
        self.sexes = index["sex"].map(SEX_TO_LABEL).fillna(-1).to_numpy(np.int64)
        self.subject_ids = index["subject_id"].astype(str).tolist()
        self.transform = transform
        self.downsample = downsample

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        volume = torch.from_numpy(np.asarray(read_volume(self.paths[i]), dtype=np.float32) / 255.0)[None]
        if self.downsample > 1:
            # Coarser grid for CPU-scale runs: average pooling keeps the tissue contrast.
            volume = torch.nn.functional.avg_pool3d(volume[None], self.downsample)[0]
        if self.transform is not None:
            import torchio as tio

            volume = self.transform(tio.ScalarImage(tensor=volume)).data
        return volume.float(), torch.tensor(self.ages[i]), torch.tensor(self.sexes[i])


def ensure_picklable(dataset: Dataset) -> None:
    """Raise a clear :class:`BrainageError` if ``dataset`` cannot be sent to worker processes."""
    try:
        pickle.dumps(dataset)
        return
    except Exception as exc:  # pickling raises several types (PicklingError, AttributeError, TypeError)
        culprit = type(dataset).__name__
        transform = getattr(dataset, "transform", None)
        for t in getattr(transform, "transforms", [transform] if transform is not None else []):
            try:
                pickle.dumps(t)
            except Exception:
                culprit = repr(t)
                break
        raise BrainageError(
            f"cannot use num_workers>0: {culprit} is not picklable ({type(exc).__name__}: {exc}). "
            "Replace lambdas and local functions in transforms with module-level functions or classes, "
            "or set num_workers=0.") from None


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, num_workers: int = 0,
                start_method: str | None = None, timeout_s: float = 600.0, seed: int = 0, **kwargs) -> DataLoader:
    """A DataLoader that checks picklability before starting workers and never hangs silently."""
    extra: dict = {}
    if num_workers > 0:
        ensure_picklable(dataset)
        extra = {"multiprocessing_context": start_method, "timeout": timeout_s,
                 "persistent_workers": True, "worker_init_fn": seed_worker}
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      generator=generator, **extra, **kwargs)


def seed_worker(worker_id: int) -> None:
    """Give each worker distinct, reproducible numpy/random seeds (torch seeds itself per worker)."""
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
