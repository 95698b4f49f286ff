"""Resampled MNI templates kept on disk are exactly nilearn's, and a broken copy is made again."""

import numpy as np

from brainage.preprocess import template


def test_a_kept_template_is_nilearns_and_a_broken_one_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINAGE_CACHE", str(tmp_path))
    template.template_image.cache_clear()
    fresh = template._from_nilearn("mask", 2)
    made = template.template_image("mask", 2)
    kept = next(tmp_path.rglob("mni152_mask_2mm.nii.gz"))
    template.template_image.cache_clear()
    again = template.template_image("mask", 2)  # read from disk this time
    for img in (made, again):
        assert np.array_equal(img.get_fdata(), fresh.get_fdata()) and np.array_equal(img.affine, fresh.affine)
    kept.write_bytes(b"not a nifti")
    template.template_image.cache_clear()
    assert np.array_equal(template.template_image("mask", 2).get_fdata(), fresh.get_fdata())
    assert kept.stat().st_size > 100  # written again
    template.template_image.cache_clear()
