"""Shared fixtures: a small synthetic cohort (always) and the real IXI-HH data (when present)."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

os.environ.setdefault("BRAINAGE_NO_PROGRESS", "1")

SHARED_IXI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ixi-hh"


@pytest.fixture(scope="session")
def ixi_dir() -> Path:
    """The real IXI-HH folder; tests using it skip where ../shared is absent (e.g. a user's machine)."""
    if not (SHARED_IXI / "IXI.xls").is_file():
        pytest.skip(f"real IXI-HH data not found at {SHARED_IXI} (only present in CI and dev machines)")
    return SHARED_IXI


@pytest.fixture(scope="session")
def synth_cohort(tmp_path_factory) -> Path:
    """Eight synthetic heads (BIDS), no injected failures."""
    from brainage.data.synth import SynthConfig, make_cohort

    out = tmp_path_factory.mktemp("synth")
    make_cohort(out, SynthConfig(n_subjects=8, seed=3))
    return out


def write_nifti(path: Path, data: np.ndarray, zooms=(2.0, 2.0, 2.0), affine: np.ndarray | None = None) -> Path:
    """Save ``data`` as NIfTI (helper for bad-input tests)."""
    aff = np.diag(list(zooms) + [1.0]) if affine is None else affine
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, aff), str(path))
    return path


def head_like(shape=(60, 70, 60)) -> np.ndarray:
    """A bright ellipsoid in a dark field: passes image validation."""
    idx = np.indices(shape).astype(float)
    c = (np.array(shape) - 1)[:, None, None, None] / 2
    r = (((idx - c) / (np.array(shape)[:, None, None, None] / 3)) ** 2).sum(0)
    return (np.where(r < 1, 100.0, 0.0) + np.random.default_rng(0).normal(0, 1, shape)).astype(np.float32)
