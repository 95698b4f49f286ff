"""The working resolution: one voxel size for every later step, whatever the scanner stored."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from brainage.preprocess.ops import to_working_resolution


def _ball(zooms) -> nib.Nifti1Image:
    zooms = np.asarray(zooms, float)
    shape = np.round(np.array([100, 110, 90]) / zooms).astype(int)
    xyz = (np.indices(shape).T * zooms).T - (shape[:, None, None, None] - 1) * zooms[:, None, None, None] / 2
    data = (np.sqrt((xyz**2).sum(0)) < 35).astype(np.float32) * 100
    affine = np.diag([*zooms, 1.0])
    affine[:3, 3] = -(shape - 1) * zooms / 2  # world origin at the ball's centre
    return nib.Nifti1Image(data, affine)


def test_images_at_the_working_resolution_are_untouched():
    img = _ball((2.0, 2.0, 2.0))
    out, moved = to_working_resolution(img, 2.0)
    assert out is img and not moved


def test_other_voxel_sizes_come_out_at_the_working_resolution_with_the_same_brain():
    reference = _ball((2.0, 2.0, 2.0))
    ref_volume = reference.get_fdata().sum() * 8
    for zooms in ((1.0, 1.0, 1.0), (1.0, 1.0, 4.0), (0.9, 1.2, 3.0)):
        out, moved = to_working_resolution(_ball(zooms), 2.0)
        assert moved and np.allclose(out.header.get_zooms()[:3], 2.0)
        data = out.get_fdata()
        assert data.min() >= 0
        centre = nib.affines.apply_affine(out.affine, np.argwhere(data > 50).mean(0))
        assert np.linalg.norm(centre) < 1.0, f"{zooms}: brain moved to {centre}"
        assert abs(data.sum() * 8 / ref_volume - 1) < 0.02, f"{zooms}: volume changed"


def _three_tissues(rng, noise=0.0):
    """A block phantom: CSF (0.3), grey (0.6) and white matter (1.0) slabs, with optional noise."""
    volume = np.zeros((24, 24, 24), np.float32)
    volume[2:22, 2:22, 2:8], volume[2:22, 2:22, 8:14], volume[2:22, 2:22, 14:22] = 0.3, 0.6, 1.0
    mask = volume > 0
    return (volume + rng.normal(0, noise, volume.shape) * mask).astype(np.float32), mask


def test_tissue_anchored_intensities_put_csf_and_white_matter_at_their_anchors():
    import pytest

    from brainage.errors import InputError
    from brainage.preprocess.ops import ANCHOR_CSF, ANCHOR_WM, anchor_intensity

    rng = np.random.default_rng(0)
    volume, mask = _three_tissues(rng, noise=0.02)
    for scale, offset in ((1.0, 0.0), (7.3, 100.0)):  # any linear storage gives the same scaled image
        scaled, info = anchor_intensity(volume * scale + offset * mask, mask)
        assert abs(float(np.median(scaled[2:22, 2:22, 2:8])) - ANCHOR_CSF) < 0.02
        assert abs(float(np.median(scaled[2:22, 2:22, 14:22])) - ANCHOR_WM) < 0.02
        assert abs(info["grey_white_contrast"] - 0.4 / 0.7) < 0.03 and (scaled[~mask] == 0).all()
    with pytest.raises(InputError, match="almost\\) empty"):
        anchor_intensity(volume, np.zeros_like(mask))


def test_the_default_intensity_scaling_keeps_existing_caches_valid():
    from brainage.preprocess.grids import GRIDS
    from brainage.preprocess.steps import Resample

    assert Resample(GRIDS["2mm"]).params() == Resample(GRIDS["2mm"], "percentiles").params()
    assert "intensity" not in Resample(GRIDS["2mm"]).params()
    assert Resample(GRIDS["2mm"], "tissue").params()["intensity"] == "tissue"
