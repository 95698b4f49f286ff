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


def _textured_head(shape=(40, 44, 36)) -> nib.Nifti1Image:
    """A 2 mm head with detail at the voxel scale (what blurring or shifting the grid would change)."""
    rng = np.random.default_rng(3)
    idx = np.indices(shape).astype(np.float32)
    centre = (np.array(shape, np.float32) - 1)[:, None, None, None] / 2
    r = np.sqrt((((idx - centre) / np.array([15, 17, 13], np.float32)[:, None, None, None]) ** 2).sum(0))
    data = np.where(r < 1.0, 80 + 40 * rng.random(shape), 0).astype(np.float32)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-40.0, -44.0, -36.0]
    return nib.Nifti1Image(data, affine)


def test_a_2mm_head_re_stored_at_1mm_comes_back_on_its_own_grid_with_block_averages():
    """The Gaussian and a resampling grid a quarter of a 2 mm voxel off blurred a re-stored 1 mm copy
    (deepbet then took up to 26 ml off an IXI-HH brain mask); averaging whole runs of voxels puts it
    back on the stored grid, within the trilinear re-storage's own blur."""
    from brainage.data.variants import VARIANTS

    head = _textured_head()
    fine = VARIANTS["restored_1mm"](head, np.zeros(head.shape, np.int8), rng=0)
    original = head.get_fdata()
    inside = original > 0
    apart = {}
    for downsampling in ("gaussian", "block average"):
        out, moved = to_working_resolution(fine, 2.0, downsampling)
        assert moved and np.allclose(out.header.get_zooms()[:3], 2.0)
        if downsampling == "block average":
            assert out.shape == head.shape and np.allclose(out.affine, head.affine, atol=1e-6)
            apart[downsampling] = float(np.abs(out.get_fdata() - original)[inside].mean() / original[inside].mean())
        else:  # on another grid: compare where the voxel centres fall
            from nibabel.processing import resample_from_to

            back = resample_from_to(out, head, order=1).get_fdata()
            apart[downsampling] = float(np.abs(back - original)[inside].mean() / original[inside].mean())
    assert apart["block average"] < 0.09, apart  # voxel-sized white noise: the hardest case for any blur
    assert apart["gaussian"] > 1.4 * apart["block average"], apart


def test_block_averages_leave_coarser_and_non_whole_axes_to_the_gaussian_path():
    for zooms in ((1.0, 1.0, 4.0), (0.9, 1.2, 3.0)):
        out, moved = to_working_resolution(_ball(zooms), 2.0, "block average")
        assert moved and np.allclose(out.header.get_zooms()[:3], 2.0)
        data = out.get_fdata()
        centre = nib.affines.apply_affine(out.affine, np.argwhere(data > 50).mean(0))
        assert np.linalg.norm(centre) < 1.0, f"{zooms}: brain moved to {centre}"


def test_deepbet_on_the_head_box_gives_the_same_mask_whatever_the_field_of_view():
    """deepbet normalises and frames over the whole field of view: here a stand-in that does the
    same (a threshold at a multiple of the mean of every voxel) finds another mask in 24 mm more air, and the
    same one on the head's box."""
    from brainage.preprocess.ops import brain_mask_on_head_box

    head = _textured_head().get_fdata(dtype=np.float32)
    wider = np.pad(head, 12)
    inner = (slice(12, -12),) * 3

    def like_deepbet(array):
        return array > 5 * array.mean()

    assert not np.array_equal(like_deepbet(wider)[inner], like_deepbet(head))
    one = brain_mask_on_head_box(like_deepbet, head, 2.0)
    other = brain_mask_on_head_box(like_deepbet, wider, 2.0)
    assert np.array_equal(other[inner], one) and not other[:12].any()
    assert 0.1 < one.sum() / (head > 0).sum() < 0.9


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


def _head_in_air(air: np.ndarray) -> np.ndarray:
    data = air.astype(np.float32).copy()
    data[12:36, 12:40, 10:34] += np.float32(600)
    return data


def test_air_stored_at_a_constant_is_found_and_noise_is_not():
    from brainage.preprocess.ops import air_offset

    rng = np.random.default_rng(0)
    zero = _head_in_air(np.zeros((48, 52, 44)))
    rician = _head_in_air(np.hypot(rng.normal(0, 8, zero.shape), rng.normal(0, 8, zero.shape)))
    assert air_offset(zero) == 0.0 and air_offset(rician) == 0.0
    assert air_offset(zero * 7.3 + 100) == 100.0
    assert air_offset(zero - 100) == -100.0
    assert abs(air_offset(rician + 300) - 300) < 15


def test_removing_the_air_offset_gives_back_the_same_voxels_up_to_scale(tmp_path):
    from brainage.preprocess.ops import remove_air_offset

    zero = _head_in_air(np.zeros((48, 52, 44)))
    for stored in (zero * 7.3 + 100, zero - 100):
        img, offset = remove_air_offset(nib.Nifti1Image(stored, np.eye(4)))
        scale = 7.3 if offset > 0 else 1.0
        assert np.allclose(img.get_fdata() / scale, zero, atol=1e-3)
    same, offset = remove_air_offset(nib.Nifti1Image(zero, np.eye(4)))
    assert offset == 0.0 and np.array_equal(same.get_fdata(), zero)


def _ellipsoid_head(shape=(40, 44, 36)):
    """A synthetic head: an inner and outer ellipsoid of two intensities, their voxel indices and radius."""
    idx = np.indices(shape).astype(np.float32)
    centre = (np.array(shape, np.float32) - 1)[:, None, None, None] / 2
    r = np.sqrt((((idx - centre) / np.array([15, 17, 13], np.float32)[:, None, None, None]) ** 2).sum(0))
    return np.select([r < 0.5, r < 1.0], [110.0, 80.0], 0.0).astype(np.float32), idx, r


def test_n4_corrects_the_same_scan_stored_in_other_units_alike():
    """ANTs' N4 is not scale-equivariant: the same head times 123 (as int16 storage scales it) got a
    field of another shape. On the brain-median scale both get the same correction."""
    from brainage.preprocess.ops import bias_correct

    head, idx, r = _ellipsoid_head()
    shape = head.shape
    rng = np.random.default_rng(0)
    head = head * (1 + 0.004 * idx[0])
    head = np.where(r < 1.0, head + rng.normal(0, 3, shape), 0).astype(np.float32)
    mask = r < 0.95
    ratios = {}
    for scale in ("as stored", "brain median"):
        one, _ = bias_correct(nib.Nifti1Image(head, np.eye(4)), mask, scale=scale)
        other, _ = bias_correct(nib.Nifti1Image(head * 123.4, np.eye(4)), mask, scale=scale)
        ratio = other.get_fdata()[mask] / one.get_fdata()[mask] / 123.4
        ratios[scale] = float(ratio.std() / ratio.mean())
    assert ratios["brain median"] < 2e-4, ratios  # float32 rounding
    assert ratios["as stored"] > 10 * ratios["brain median"], ratios


def test_n4_with_half_its_iterations_still_takes_a_known_field_out():
    """The fast recipe's N4 schedule: a 1.4x field put on a head comes out as well as with antspyx's."""
    from brainage.preprocess.ops import bias_correct
    from brainage.preprocess.recipes import N4_ITERATIONS, N4_ITERATIONS_FAST

    head, idx, r = _ellipsoid_head()
    shape = head.shape
    rng = np.random.default_rng(1)
    head = np.where(r < 1.0, head + rng.normal(0, 2, shape), 0).astype(np.float32)
    field = (1.4 ** (idx[0] / shape[0] - 0.5)).astype(np.float32)
    mask = r < 0.95
    residual = {}
    for iterations in (N4_ITERATIONS, N4_ITERATIONS_FAST):
        clean, _ = bias_correct(nib.Nifti1Image(head, np.eye(4)), mask, scale="brain median", iterations=iterations)
        biased, _ = bias_correct(
            nib.Nifti1Image(head * field, np.eye(4)), mask, scale="brain median", iterations=iterations
        )
        ratio = biased.get_fdata()[mask] / clean.get_fdata()[mask]
        residual[iterations] = float(ratio.std() / ratio.mean())
    before = float(field[mask].std() / field[mask].mean())
    assert residual[N4_ITERATIONS_FAST] < 0.3 * before, (residual, before)  # most of the field is gone
    assert residual[N4_ITERATIONS_FAST] < 1.2 * residual[N4_ITERATIONS], residual  # about as much as with 50


def test_n4_on_the_brain_box_corrects_the_same_brain_alike_in_a_wider_field_of_view():
    """N4's B-spline lattice spans the image it is given: the same voxels inside 12 more voxels of
    air on every side got another field (an IXI-HH brain: 5 % apart on average, 18 % at most).
    Fitted on the brain mask's bounding box, the field is the same."""
    from brainage.preprocess.ops import bias_correct

    head, idx, r = _ellipsoid_head()
    rng = np.random.default_rng(2)
    field = (1.4 ** (idx[0] / head.shape[0] - 0.5) * 1.2 ** (idx[2] / head.shape[2] - 0.5)).astype(np.float32)
    head = np.where(r < 1.0, head * field + rng.normal(0, 2, head.shape), 0).astype(np.float32)
    mask = r < 0.95
    pad = 12
    shift = np.eye(4)
    shift[:3, 3] = -pad
    apart = {}
    for domain in ("image", "brain box"):
        one, _ = bias_correct(nib.Nifti1Image(head, np.eye(4)), mask, scale="brain median", domain=domain)
        wide, wide_field = bias_correct(
            nib.Nifti1Image(np.pad(head, pad), shift), np.pad(mask, pad), scale="brain median", domain=domain
        )
        inner = wide.get_fdata()[pad:-pad, pad:-pad, pad:-pad][mask]
        apart[domain] = float(np.abs(inner / one.get_fdata()[mask] - 1).max())
        assert (
            wide_field.shape
            == wide.shape
            == (head.shape[0] + 2 * pad, head.shape[1] + 2 * pad, head.shape[2] + 2 * pad)
        )
    assert apart["brain box"] < 1e-4, apart  # float32 rounding
    assert apart["image"] > 100 * max(apart["brain box"], 1e-6), apart


def test_tissue_segmentation_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    """antspyx's Atropos writes its probability images to temporary files it never deletes; a
    cohort's worth filled gigabytes of /tmp. The segmentation step cleans up after it."""
    import tempfile

    from brainage.preprocess.ops import segment_tissues

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (24, 24, 24))
    data = np.array([0.3, 0.6, 1.0], np.float32)[labels] + rng.normal(0, 0.02, labels.shape).astype(np.float32)
    mask = np.ones(labels.shape, bool)
    probs = segment_tissues(nib.Nifti1Image(data, np.eye(4)), mask)
    assert probs.shape == (24, 24, 24, 3)
    assert list(tmp_path.iterdir()) == []
    assert tempfile.tempdir == str(tmp_path)  # the caller's setting is put back
