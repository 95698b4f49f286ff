import gzip

import numpy as np
import pytest

from brainage.data.images import check_t1_file, load_t1
from brainage.errors import InputError
from tests.conftest import head_like, write_nifti


def test_good_image_loads(tmp_path):
    img, data = load_t1(write_nifti(tmp_path / "ok.nii.gz", head_like()))
    assert data.shape == (60, 70, 60) and data.dtype == np.float32


def test_singleton_4d_is_squeezed(tmp_path):
    _, data = load_t1(write_nifti(tmp_path / "ok4d.nii.gz", head_like()[..., None]))
    assert data.ndim == 3


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "does not exist"),
        ("truncated", "truncated"),
        ("not_nifti", "not a readable"),
        ("four_d", "expected a 3D image"),
        ("nan", "NaN"),
        ("empty", "image is empty"),
        ("voxel", "implausible voxel size"),
        ("fov", "implausible field of view"),
    ],
)
def test_bad_inputs_give_one_line_error_naming_file(tmp_path, case, expected):
    path = tmp_path / f"{case}.nii.gz"
    if case == "truncated":
        write_nifti(path, head_like())
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    elif case == "not_nifti":
        path.write_bytes(gzip.compress(b"this is not an image" * 100))
    elif case == "four_d":
        write_nifti(path, np.stack([head_like()] * 3, axis=-1))
    elif case == "nan":
        data = head_like()
        data[5, 5, 5] = np.nan
        write_nifti(path, data)
    elif case == "empty":
        write_nifti(path, np.zeros((60, 70, 60), np.float32))
    elif case == "voxel":
        write_nifti(path, head_like(), zooms=(20.0, 2.0, 2.0))
    elif case == "fov":
        write_nifti(path, head_like((20, 20, 20)), zooms=(1.0, 1.0, 1.0))
    with pytest.raises(InputError) as info:
        load_t1(path)
    message = str(info.value)
    assert str(path) in message and expected in message and "\n" not in message
    assert check_t1_file(path)  # the non-raising variant returns the reason
