"""The invariance benchmark's renditions: each changes what it says and keeps the brain where it was."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from brainage.data.variants import CSF, GM, NEW_SITES, VARIANTS, WM, Composite


@pytest.fixture(scope="module")
def head():
    """A 2 mm head stored P-S-R like IXI-HH: a bright shell (scalp), WM core, GM rim, CSF ventricle."""
    shape = (48, 52, 44)
    idx = np.indices(shape).astype(float)
    c = (np.array(shape) - 1)[:, None, None, None] / 2
    r = np.sqrt((((idx - c) / np.array([18, 20, 16])[:, None, None, None]) ** 2).sum(0))
    tissue = np.select([r < 0.25, r < 0.7, r < 0.9], [CSF, WM, GM], 0).astype(np.uint8)
    data = np.select([tissue == CSF, tissue == WM, tissue == GM, r < 1.15], [30.0, 100.0, 70.0, 60.0], 2.0)
    psr = np.array([[0, 0, 2, 0], [-2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1]], float)
    psr[:3, 3] = [-40, 50, -45]
    return nib.Nifti1Image(data.astype(np.float32), psr), tissue


def _brain_centre(img: nib.Nifti1Image, threshold: float) -> np.ndarray:
    ijk = np.argwhere(img.get_fdata() > threshold)
    return nib.affines.apply_affine(img.affine, ijk).mean(0)


def test_every_variant_keeps_the_brain_where_it_was(head):
    img, tissue = head
    centre = _brain_centre(img, 50)
    for name, variant in VARIANTS.items():
        out = variant(img, tissue, 0)
        offset = getattr(variant, "offset", 0.0)
        threshold = 50 * 7.3 + 100 if name == "intensity_scale" else (50 * 300 if name == "int16" else 50 + offset)
        moved = np.linalg.norm(_brain_centre(out, threshold) - centre)
        assert moved < 2.5, f"{name} moved the brain {moved:.1f} mm"
        assert variant.family in ("storage", "acquisition", "input")


def test_background_and_field_of_view_variants_keep_the_voxels(head):
    img, tissue = head
    data = img.get_fdata()
    assert np.allclose(VARIANTS["background_bright"](img, tissue).get_fdata() - 100, data)
    assert np.allclose(VARIANTS["background_dark"](img, tissue).get_fdata() + 100, data)
    wide = VARIANTS["wider_fov"](img, tissue)
    assert all(w == s + 24 for w, s in zip(wide.shape, img.shape))  # 12 voxels of 2 mm on each side
    assert np.array_equal(wide.get_fdata()[12:-12, 12:-12, 12:-12], data)


def test_storage_variants_keep_the_information(head):
    img, tissue = head
    canonical = nib.as_closest_canonical(img).get_fdata()
    reordered = VARIANTS["header_axes"](img, tissue)
    assert nib.aff2axcodes(reordered.affine) != nib.aff2axcodes(img.affine)
    assert np.array_equal(nib.as_closest_canonical(reordered).get_fdata(), canonical)
    fine = VARIANTS["restored_1mm"](img, tissue)
    assert fine.header.get_zooms()[:3] == (1.0, 1.0, 1.0) and fine.shape == tuple(2 * s for s in img.shape)
    assert VARIANTS["int16"](img, tissue).get_data_dtype() == np.int16


def test_acquisition_variants_change_what_they_say(head):
    img, tissue = head
    zooms = {
        name: tuple(float(z) for z in VARIANTS[name](img, tissue).header.get_zooms()[:3])
        for name in ("thick_slices_left-right", "thick_slices_front-back", "thick_slices_top-bottom", "low_resolution")
    }
    # stored P-S-R: left-right is the third stored axis, front-back the first, top-bottom the second
    assert zooms["thick_slices_left-right"] == (1.0, 1.0, 4.0)
    assert zooms["thick_slices_front-back"] == (4.0, 1.0, 1.0)
    assert zooms["thick_slices_top-bottom"] == (1.0, 4.0, 1.0)
    assert zooms["low_resolution"] == (3.0, 3.0, 3.0)
    data = img.get_fdata()
    contrast = VARIANTS["tissue_contrast"](img, tissue).get_fdata()
    assert np.median(contrast[tissue == GM]) > np.median(data[tissue == GM]) + 5  # grey moved towards white
    assert np.median(contrast[tissue == WM]) == pytest.approx(np.median(data[tissue == WM]))
    noisy = VARIANTS["noise_5pct"](img, tissue, 0).get_fdata()
    assert 3 < np.std(noisy[tissue == WM] - data[tissue == WM]) < 7  # 5% of WM = 5
    biased = VARIANTS["bias_1.5x"](img, tissue, 0).get_fdata()
    ratio = biased[tissue == WM] / data[tissue == WM]
    assert 1.2 < ratio.max() / ratio.min() <= 1.5 + 1e-3


def test_input_variants(head):
    img, tissue = head
    stripped = VARIANTS["skull_stripped"](img, tissue).get_fdata()
    assert (stripped[tissue == 0] == 0).all() and (stripped[tissue > 0] > 0).all()
    defaced = VARIANTS["defaced"](img, tissue).get_fdata()
    assert (defaced[tissue > 0] == img.get_fdata()[tissue > 0]).all()  # never touches the brain
    assert (defaced == 0).sum() > (img.get_fdata() == 0).sum()  # but zeroes some of the head


def test_a_composite_renders_its_parts_in_order_with_one_draw(head):
    img, tissue = head
    site = Composite("site", VARIANTS["gamma_0.7"], VARIANTS["noise_2pct"], VARIANTS["background_bright"])
    by_hand = img
    rng = np.random.default_rng(3)
    for part in site.parts:
        by_hand = part.render(by_hand, tissue, rng)
    assert np.array_equal(site(img, tissue, 3).get_fdata(), by_hand.get_fdata())
    assert site.family == "acquisition" and site.describe.startswith("gamma 0.7; Rician noise")


def test_every_new_site_is_a_clean_scan_of_the_same_head_on_its_grid(head):
    img, tissue = head
    centre = _brain_centre(img, 50)
    for name, site in NEW_SITES.items():
        out = site(img, tissue, 0)
        assert out.shape == img.shape and np.allclose(out.affine, img.affine), name
        assert site.family == "acquisition" and len(site.parts) >= 3, name
        offset = sum(getattr(p, "offset", 0.0) for p in site.parts)
        assert np.linalg.norm(_brain_centre(out, 50 + offset) - centre) < 2.5, name
        assert name not in VARIANTS  # the invariance benchmark's renditions stay one change each
