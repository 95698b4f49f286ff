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
from brainage.models.network import n_channels
from brainage.preprocess.cache import read_volume

SEX_TO_LABEL = {"F": 0, "M": 1}
#: P(male) above which a prediction is called male (evaluation, explain and the logged accuracy use it).
MALE_THRESHOLD = 0.5


def load_inputs(row, inputs: tuple = ("t1",), modulate: bool = True, downsample: int = 1) -> np.ndarray:
    """The model input of one cache-index row, float32 ``(C, X, Y, Z)``. ``path`` and ``tissue_path``
    name cache files, or are the cached uint8 arrays themselves (scans preprocessed in memory,
    :class:`~brainage.preprocess.scan.PreprocessedScan`).

    ``downsample`` average-pools (coarser grid for CPU-scale runs; averaging keeps tissue
    contrast and, for probabilities, partial volumes).

    Example:
        >>> import tempfile
        >>> from brainage.preprocess.cache import write_volume
        >>> folder = Path(tempfile.mkdtemp())
        >>> row = {"path": write_volume(folder / "s.npy", np.full((4, 4, 4), 0.5)),
        ...        "tissue_path": write_volume(folder / "s_tissue.npy", np.full((3, 4, 4, 4), 0.2)), "affine_det": 1.5}
        >>> x = load_inputs(row, ("t1", "tissue"), downsample=2)
        >>> x.shape, round(float(x[0].mean()), 2), round(float(x[1].mean()), 2)
        ((4, 2, 2, 2), 0.5, 0.3)
    """
    n_channels(inputs)  # validates the names
    parts = []
    for name in inputs:
        if name == "t1":
            parts.append(_cached(row["path"])[None] / 255.0)
        else:
            path = row.get("tissue_path")
            if not (isinstance(path, np.ndarray) or (isinstance(path, (str, Path)) and str(path))):
                raise BrainageError(
                    "subject has no tissue maps in the cache: run `brainage preprocess` with tissue "
                    "segmentation (the default) first"
                )
            tissue = _cached(path) / 255.0
            parts.append(tissue * float(row["affine_det"]) if modulate else tissue)
    x = np.concatenate(parts)
    if downsample > 1:
        x = torch.nn.functional.avg_pool3d(torch.from_numpy(x)[None], downsample)[0].numpy()
    return x


def _cached(volume) -> np.ndarray:
    """A cached uint8 volume as float32: read from its file, or the array it already is."""
    return np.asarray(volume if isinstance(volume, np.ndarray) else read_volume(volume), dtype=np.float32)


class BrainAgeDataset(Dataset):
    """Cached volumes with covariates and age and sex labels, through an optional torchio transform.

    Items are ``(inputs [C, X, Y, Z] float32, covariates [K] float32, age float32, sex int64
    (F=0, M=1))``. Covariates are columns of the cache index (e.g. ``affine_det``), standardised
    with the given ``(mean, std)``; ``K`` is 0 without them. ``voxel_mm``: the volumes' voxel size
    as read (after ``downsample``), which the transform's millimetres refer to.

    Example:
        >>> import pandas as pd, tempfile
        >>> from brainage.preprocess.cache import write_volume
        >>> path = write_volume(Path(tempfile.mkdtemp()) / "s1.npy", np.full((8, 8, 8), 0.5))
        >>> ds = BrainAgeDataset(pd.DataFrame({"subject_id": ["s1"], "age": [40.0], "sex": ["M"], "path": [str(path)]}))
        >>> volume, covariates, age, sex = ds[0]
        >>> tuple(volume.shape), tuple(covariates.shape), float(age), int(sex)
        ((1, 8, 8, 8), (0,), 40.0, 1)
    """

    def __init__(
        self,
        index: pd.DataFrame,
        transform=None,
        downsample: int = 1,
        inputs: tuple = ("t1",),
        modulate: bool = True,
        covariates: tuple = (),
        covariate_stats: tuple | None = None,
        voxel_mm: float = 2.0,
    ):
        self.rows = index.to_dict("records")
        self.ages = index["age"].to_numpy(np.float32)
        self.sexes = index["sex"].map(SEX_TO_LABEL).fillna(-1).to_numpy(np.int64)
        self.subject_ids = index["subject_id"].astype(str).tolist()
        cov = index[list(covariates)].to_numpy(np.float32) if covariates else np.zeros((len(index), 0), np.float32)
        if covariates:
            mean, std = covariate_stats if covariate_stats is not None else (cov.mean(0), cov.std(0))
            cov = (cov - np.asarray(mean, np.float32)) / np.maximum(np.asarray(std, np.float32), 1e-6)
        self.covariates = cov
        self.transform = transform
        self.downsample, self.inputs, self.modulate = downsample, tuple(inputs), modulate
        # the volumes' real voxel size, so a transform given in millimetres (a translation, a blur)
        # acts in millimetres whatever the grid and the pooling; their position in MNI space does
        # not matter to any transform, only the spacing does
        self.affine = np.diag([float(voxel_mm)] * 3 + [1.0])
        self._loaded: list[torch.Tensor] | None = None

    def preload(self, max_bytes: float) -> bool:
        """Read every volume into memory now, if they fit in ``max_bytes``; ``True`` when they did.

        Items are then the same tensors, read once instead of once an epoch, with no worker
        process needed to hide the reading. At the CPU's 4 mm grid a fold's 400 training volumes
        take 0.5 GB and reading them took a third of an epoch.

        Example:
            >>> import pandas as pd, tempfile
            >>> from brainage.preprocess.cache import write_volume
            >>> path = write_volume(Path(tempfile.mkdtemp()) / "s1.npy", np.full((8, 8, 8), 0.5))
            >>> index = pd.DataFrame({"subject_id": ["s1"], "age": [40.0], "sex": ["M"], "path": [str(path)]})
            >>> ds = BrainAgeDataset(index)
            >>> ds.preload(max_bytes=1e3), ds.preload(max_bytes=1e6)
            (False, True)
        """
        if not self.rows:
            return False
        first = self._read(0)
        if first.numel() * first.element_size() * len(self.rows) > max_bytes:
            return False
        self._loaded = [first] + [self._read(i) for i in range(1, len(self.rows))]
        return True

    def _read(self, i: int) -> torch.Tensor:
        return torch.from_numpy(load_inputs(self.rows[i], self.inputs, self.modulate, self.downsample))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        volume = self._loaded[i] if self._loaded is not None else self._read(i)
        if self.transform is not None:
            import torchio as tio

            # One image per input (t1, tissue): spatial transforms move them together, intensity
            # transforms can be limited to the ones that carry scanner contrast.
            parts = torch.split(volume, [n_channels((name,)) for name in self.inputs])
            subject = self.transform(
                tio.Subject(
                    {name: tio.ScalarImage(tensor=part, affine=self.affine) for name, part in zip(self.inputs, parts)}
                )
            )
            volume = torch.cat([subject[name].data for name in self.inputs])
        return (
            volume.float(),
            torch.from_numpy(self.covariates[i]),
            torch.tensor(self.ages[i]),
            torch.tensor(self.sexes[i]),
        )


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
            "or set num_workers=0."
        ) from None


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int = 0,
    start_method: str | None = None,
    timeout_s: float = 600.0,
    seed: int = 0,
    **kwargs,
) -> DataLoader:
    """A DataLoader that checks picklability before starting workers and never hangs silently.

    Parameters
    ----------
    dataset
        The dataset (e.g. :class:`BrainAgeDataset`).
    batch_size
        Volumes per batch.
    shuffle
        Shuffle every epoch (training) or keep the order (prediction).
    num_workers
        Worker processes; 0 loads in the calling process.
    start_method
        ``fork``, ``spawn`` or ``forkserver`` for the workers (default: the platform's).
    timeout_s
        Seconds a worker may take for one batch before the loader fails instead of hanging.
    seed
        Seeds the shuffle and every worker's random augmentation.
    **kwargs
        Passed on to :class:`torch.utils.data.DataLoader`.

    Returns
    -------
    torch.utils.data.DataLoader
        The loader.
    """
    extra: dict = {}
    if num_workers > 0:
        ensure_picklable(dataset)
        extra = {
            "multiprocessing_context": start_method,
            "timeout": timeout_s,
            "persistent_workers": True,
            "worker_init_fn": seed_worker,
        }
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers, generator=generator, **extra, **kwargs
    )


def seed_worker(worker_id: int) -> None:
    """Give each worker distinct, reproducible numpy/random seeds (torch seeds itself per worker)."""
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
