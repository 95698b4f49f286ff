"""``run_info.json``: where a training run's data came from, as one typed, versioned record.

Training writes it (:func:`~brainage.training.cv.train_cv`, :func:`~brainage.training.stack.stack_runs`);
evaluation, explain and export read it. Reading validates it and names the file in one line when
it is not a run record, so no later stage decodes a bare dict by hand.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run_info.json"
    >>> info = RunInfo(cache_dir=Path("/data/pre/cache/2mm"), folds_csv=Path("/data/splits/folds.csv"), n_subjects=180)
    >>> _ = info.write(path)
    >>> info = RunInfo.read(path)
    >>> info.n_subjects, info.folds_csv.name, info.schema_version
    (180, 'folds.csv', 2)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from brainage.errors import InputError
from brainage.files import write_json
from brainage.preprocess.grids import CacheInfo

#: Version of the record written now. Files without one are version 0 (brainage before 0.5, the
#: same keys); versions 0 and 1 recorded the cache's bare ``grid`` where 2 records its ``cache``
#: (:class:`~brainage.preprocess.grids.CacheInfo`); every version is read.
SCHEMA_VERSION = 2


def _path(value) -> Path | None:
    return Path(value) if value not in (None, "") else None


@dataclass(frozen=True)
class RunInfo:
    """The data a run was trained on.

    ``cache_dir``: the model cache; ``folds_csv``: the split; ``preprocessed_dir``: the
    ``brainage preprocess`` folder (its recipe travels into exported bundles); ``qc_verdicts``:
    the QC table that excluded subjects, if any; ``cache``: what the cache's volumes are (grid,
    pooling); ``stack_of``: the
    runs a stacked run combines (empty for a trained run).
    """

    cache_dir: Path | None
    folds_csv: Path
    preprocessed_dir: Path | None = None
    qc_verdicts: Path | None = None
    n_subjects: int | None = None
    cache: CacheInfo | None = None
    torch: str = ""
    stack_of: tuple[Path, ...] = ()
    schema_version: int = field(default=SCHEMA_VERSION)

    def write(self, path: str | Path) -> Path:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["cache"] = self.cache.to_json() if self.cache else None
        data["stack_of"] = [str(p) for p in self.stack_of]
        return write_json(path, {k: str(v) if isinstance(v, Path) else v for k, v in data.items()})

    @classmethod
    def read(cls, path: str | Path) -> "RunInfo":
        """The record of a run folder's ``run_info.json``, or one line saying why it is not one."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "not a `brainage train` output folder (no run_info.json)")
        try:
            data = json.loads(path.read_text())
            version = int(data.get("schema_version", 0))
            if version > SCHEMA_VERSION:
                raise InputError(
                    path,
                    f"run record version {version} is newer than this brainage reads "
                    f"({SCHEMA_VERSION}): upgrade brainage",
                )
            if version < 2 and "grid" in data:  # the bare grid of versions 0 and 1
                data["cache"] = data.pop("grid")
            unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            return cls(
                cache_dir=_path(data.get("cache_dir")),
                folds_csv=Path(data["folds_csv"]),
                preprocessed_dir=_path(data.get("preprocessed_dir")),
                qc_verdicts=_path(data.get("qc_verdicts")),
                n_subjects=data.get("n_subjects"),
                cache=CacheInfo.from_json(data["cache"], path) if data.get("cache") else None,
                torch=data.get("torch", ""),
                stack_of=tuple(Path(p) for p in data.get("stack_of", [])),
                schema_version=version,
            )
        except InputError:
            raise
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(path, f"not a brainage run record ({type(exc).__name__}: {exc})") from None
