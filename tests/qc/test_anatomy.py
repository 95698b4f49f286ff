import numpy as np
import pytest

from brainage.qc.anatomy import fov_contact_mm2, native_to_mni, rotation_degrees, unmeasured_region


def _rot_x(deg):
    a = np.deg2rad(deg)
    m = np.eye(4)
    m[1:3, 1:3] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    return m


@pytest.mark.parametrize("deg", [0, 15, 90, 180])
def test_rotation_degrees(deg):
    m = _rot_x(deg)
    m[:3, :3] *= 1.1  # scaling does not count as rotation
    angle, mirrored = rotation_degrees(m)
    assert angle == pytest.approx(deg, abs=1e-6) and not mirrored


def test_mirror_detected():
    assert rotation_degrees(np.diag([-1.0, 1, 1, 1]))[1]


def test_fov_contact_counts_the_mask_surface_on_the_array_edge():
    mask = np.zeros((10, 10, 10), bool)
    mask[3:6, 3:6, 3:6] = True
    assert fov_contact_mm2(mask, (2, 2, 2)) == 0
    mask[3:6, 3:6, 9] = True  # touches the top face with 9 voxels of 4 mm2
    assert fov_contact_mm2(mask, (2, 2, 2)) == 36


def test_zero_filled_slab_inside_the_array_counts_as_an_edge():
    rng = np.random.default_rng(0)
    head = rng.uniform(10, 20, (40, 40, 40)).astype(np.float32)  # noisy everywhere: nothing unmeasured
    assert not unmeasured_region(head).any()
    head[:, :, 30:] = 0  # the top slab zero-filled inside the array
    slab = unmeasured_region(head)
    assert slab[:, :, 31:].all() and not slab[:, :, :29].any()
    brain = np.zeros(head.shape, bool)
    brain[10:30, 10:30, 10:30] = True
    assert fov_contact_mm2(brain, (2, 2, 2), slab) == 0
    brain[10:30, 10:30, 10:35] = True  # the brain runs into the slab: cut off, though far from the array edge
    assert fov_contact_mm2(brain, (2, 2, 2), slab) >= 20 * 20 * 4


def test_native_to_mni_inverts_ants_lps_affine():
    forward = np.eye(4)
    forward[:3, 3] = [10, 0, 0]  # MNI LPS point p maps to native LPS p + (10, 0, 0)
    native_ras = np.array([[-10.0, 0, 0]])  # = LPS (10, 0, 0)
    assert np.allclose(native_to_mni(native_ras, forward), [[0, 0, 0]])


def test_white_grey_ratio_tells_a_t1_from_an_inverted_contrast(preprocessed_synth):
    import nibabel as nib

    from brainage.layout import SubjectDir
    from brainage.preprocess.ops import read_affine_transform
    from brainage.qc.anatomy import white_grey_ratio
    from brainage.qc.checks import CHECKS

    out, report, _ = preprocessed_synth
    folder = SubjectDir(out / "subjects" / report[report.subject_id.str.startswith("sub-")].subject_id.iloc[0])
    brain, transform = nib.load(str(folder.brain_n4)), read_affine_transform(folder.to_mni_affine)
    assert white_grey_ratio(brain, transform) > 1.05
    data = brain.get_fdata(dtype=np.float32)
    inverted = nib.Nifti1Image(np.where(data > 0, data.max() - data, 0), brain.affine)  # CSF brightest: T2-like
    ratio = white_grey_ratio(inverted, transform)
    assert ratio < 1.0
    finding = next(c for c in CHECKS if c.name == "t1_weighting").judge({"white_grey_ratio": ratio}, {}, stripped=False)
    assert finding.level == "fail" and "not T1-weighted" in finding.text
