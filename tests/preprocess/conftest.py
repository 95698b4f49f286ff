from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from brainage.data.ingest_bids import ingest_bids
from brainage.data.manifest import make_manifest, write_manifest
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest
from tests.conftest import write_nifti

FAST = PreprocessConfig(workers=2, registration="AffineFast")


def _degenerate_header(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    """A file whose sform maps every voxel to one plane (nibabel refuses to write such an affine
    directly, but scanners and broken converters do produce them)."""
    header = nib.Nifti1Header()
    header.set_data_shape(data.shape)
    header.set_data_dtype(np.float32)
    header["sform_code"], header["qform_code"] = 1, 0
    header["srow_x"], header["srow_y"], header["srow_z"] = affine[0], affine[1], [0, 0, 0, 0]
    header["pixdim"][1:4] = 2.0
    nib.save(nib.Nifti1Image(data, None, header=header), str(path))
    return path


@pytest.fixture(scope="session")
def preprocessed_synth(synth_cohort, tmp_path_factory):
    """4 synthetic heads, one already-stripped head and 4 bad inputs, preprocessed once."""
    root = tmp_path_factory.mktemp("pre")
    good = ingest_bids(synth_cohort).head(4)
    bad_dir = root / "bad"
    head = nib.load(good.t1_path[0])
    data = head.get_fdata(dtype=np.float32)
    truth = nib.load(str(synth_cohort / "derivatives" / "synth" / "sub-001_desc-brain_mask.nii.gz")).get_fdata() > 0
    corrupt = bad_dir / "corrupt.nii.gz"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(Path(good.t1_path[1]).read_bytes()[:5000])
    bad = {
        "bad-corrupt": corrupt,
        "bad-4d": write_nifti(bad_dir / "four_d.nii.gz", np.stack([data, data], -1), affine=head.affine),
        "bad-zeros": write_nifti(bad_dir / "zeros.nii.gz", np.zeros_like(data), affine=head.affine),
        "bad-header": _degenerate_header(bad_dir / "header.nii.gz", data, head.affine),
        "stripped": write_nifti(bad_dir / "stripped.nii.gz", np.where(truth, data, 0).astype(np.float32), affine=head.affine),
    }
    records = good.to_dict("records") + [{"subject_id": k, "age": 50.0, "sex": "F", "site": "synth", "t1_path": str(v),
                                          "source": "test"} for k, v in bad.items()]
    manifest = make_manifest(records)
    write_manifest(manifest, root / "manifest.csv")
    report = preprocess_manifest(root / "manifest.csv", root / "out", FAST)
    return root / "out", report, synth_cohort
