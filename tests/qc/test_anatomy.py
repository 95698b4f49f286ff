import numpy as np
import pytest

from brainage.qc.anatomy import border_contact_mm2, native_to_mni, rotation_degrees


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


def test_border_contact():
    mask = np.zeros((10, 10, 10), bool)
    mask[3:6, 3:6, 3:6] = True
    assert border_contact_mm2(mask, (2, 2, 2)) == 0
    mask[3:6, 3:6, 9] = True  # touches the top face with 9 voxels of 4 mm2
    assert border_contact_mm2(mask, (2, 2, 2)) == 36


def test_native_to_mni_inverts_ants_lps_affine():
    forward = np.eye(4)
    forward[:3, 3] = [10, 0, 0]  # MNI LPS point p maps to native LPS p + (10, 0, 0)
    native_ras = np.array([[-10.0, 0, 0]])  # = LPS (10, 0, 0)
    assert np.allclose(native_to_mni(native_ras, forward), [[0, 0, 0]])
