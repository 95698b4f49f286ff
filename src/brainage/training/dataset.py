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
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from brainage.errors import BrainageError
from brainage.preprocess.cache import read_volume

SEX_TO_LABEL = {"F": 0, "M": 1}


class BrainAgeDataset(Dataset):
    """Cached volumes with age and sex labels, through an optional torchio transform.

    Items are ``(volume [1, X, Y, Z] float32 in [0, 1], age float32, sex int64 (F=0, M=1))``.

    Example:
        >>> import pandas as pd, tempfile
        >>> from brainage.preprocess.cache import write_volume
        >>> path = write_volume(Path(tempfile.mkdtemp()) / "s1.npy", np.full((8, 8, 8), 0.5))
        >>> ds = BrainAgeDataset(pd.DataFrame({"subject_id": ["s1"], "age": [40.0], "sex": ["M"], "path": [str(path)]}))
        >>> volume, age, sex = ds[0]
        >>> tuple(volume.shape), float(age), int(sex)
        ((1, 8, 8, 8), 40.0, 1)
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
