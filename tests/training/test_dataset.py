"""Model-ready loading in multi-worker DataLoaders under every start method."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torchio as tio

from brainage.data.manifest import make_manifest
from brainage.errors import BrainageError
from brainage.layout import PreprocessedDir
from brainage.preprocess.cache import pack_cache, read_cache_index, unpack_cache, write_cache_index, write_volume
from brainage.preprocess.grids import GridSpec
from brainage.training.augment import AugmentConfig, build_augmentation
from brainage.training.dataset import BrainAgeDataset, make_loader


@pytest.fixture
def tiny_cache(tmp_path):
    rng = np.random.default_rng(0)
    manifest = make_manifest(
        [{"subject_id": f"s{i}", "age": 20.0 + 5 * i, "sex": "FM"[i % 2], "site": "x", "t1_path": ""} for i in range(6)]
    )
    cache = PreprocessedDir(tmp_path).cache("2mm")
    for sid in manifest.subject_id:
        write_volume(cache.volume(sid), rng.random((16, 20, 16)))
    write_cache_index(cache, GridSpec("2mm", 2.0, (16, 20, 16)), manifest)
    return cache.root


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiworker_loading_with_augmentation(tiny_cache, method):
    ds = BrainAgeDataset(read_cache_index(tiny_cache), build_augmentation(AugmentConfig()))
    loader = make_loader(ds, batch_size=2, shuffle=True, num_workers=2, start_method=method, timeout_s=120)
    batches = list(loader)
    x, covariates, age, sex = batches[0]
    assert (
        len(batches) == 3 and x.shape == (2, 1, 16, 20, 16) and x.dtype == torch.float32 and covariates.shape == (2, 0)
    )
    assert sorted(torch.cat([b[2] for b in batches]).tolist()) == [20.0, 25.0, 30.0, 35.0, 40.0, 45.0]
    assert set(torch.cat([b[3] for b in batches]).tolist()) == {0, 1}


def test_tissue_channels_modulation_and_covariates(tmp_path):
    cache = PreprocessedDir(tmp_path).cache("2mm")
    rows = []
    for i, det in enumerate([0.8, 1.2]):
        write_volume(cache.volume(f"s{i}"), np.full((4, 4, 4), 0.5))
        write_volume(cache.tissue(f"s{i}"), np.full((3, 4, 4, 4), 0.4))
        rows.append({"subject_id": f"s{i}", "age": 30.0, "sex": "F", "site": "x", "t1_path": "", "affine_det": det})
    report = pd.DataFrame(rows)[["subject_id", "affine_det"]]
    write_cache_index(cache, GridSpec("2mm", 2.0, (4, 4, 4)), make_manifest(rows), report)
    index = read_cache_index(cache.root)
    ds = BrainAgeDataset(index, inputs=("t1", "tissue"), covariates=("affine_det",))
    x0, c0, _, _ = ds[0]
    x1, c1, _, _ = ds[1]
    assert x0.shape == (4, 4, 4, 4)
    assert float(x0[2].mean()) == pytest.approx(0.4 * 0.8, abs=0.01) and float(x1[2].mean()) == pytest.approx(
        0.4 * 1.2, abs=0.01
    )
    assert float(c0[0]) == pytest.approx(-1) and float(c1[0]) == pytest.approx(1)  # standardised
    plain = BrainAgeDataset(index, inputs=("tissue",), modulate=False)
    assert float(plain[1][0].mean()) == pytest.approx(0.4, abs=0.01)
    archive = pack_cache(cache.root, tmp_path / "t.npz")
    back = read_cache_index(unpack_cache(archive, tmp_path / "unpacked"))
    assert np.array_equal(np.load(back.tissue_path[1]), np.load(index.tissue_path[1])) and back.affine_det.tolist() == [
        0.8,
        1.2,
    ]
    pooled = read_cache_index(
        unpack_cache(pack_cache(cache.root, tmp_path / "p.npz", downsample=2), tmp_path / "pooled")
    )
    assert np.load(pooled.tissue_path[0]).shape == (3, 2, 2, 2) and np.load(pooled.path[0]).shape == (2, 2, 2)
    assert json.loads((tmp_path / "pooled" / "grid.json").read_text())["voxel_mm"] == 4.0


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_unpicklable_transform_fails_fast_with_clear_message(tiny_cache, method):
    bad = tio.Compose([tio.RandomNoise(), tio.Lambda(lambda x: x * 2)])
    ds = BrainAgeDataset(read_cache_index(tiny_cache), bad)
    with pytest.raises(BrainageError, match="Lambda.*is not picklable.*module-level"):
        make_loader(ds, batch_size=2, shuffle=False, num_workers=2, start_method=method)
    # the same pipeline is fine in the main process
    assert len(list(make_loader(ds, batch_size=2, shuffle=False, num_workers=0))) == 3


def test_downsample_and_no_left_right_flip_by_default(tiny_cache):
    ds = BrainAgeDataset(read_cache_index(tiny_cache), downsample=2)
    assert ds[0][0].shape == (1, 8, 10, 8)
    names = [type(t).__name__ for t in build_augmentation(AugmentConfig()).transforms]
    assert "RandomFlip" not in names and "RandomAffine" in names


def test_pack_unpack_round_trip(tiny_cache, tmp_path):
    archive = pack_cache(tiny_cache, tmp_path / "c.npz")
    back = unpack_cache(archive, tmp_path / "unpacked")
    a, b = read_cache_index(tiny_cache), read_cache_index(back)
    assert a.subject_id.tolist() == b.subject_id.tolist()
    assert np.array_equal(np.load(a.path[3]), np.load(b.path[3]))
    pd.testing.assert_series_equal(a.age, b.age)


def test_augmentation_acts_in_millimetres_whatever_the_voxel_size():
    """The dataset gives torchio the volumes' real voxel size, so the same drawn translation (in mm)
    moves a 2 mm volume twice as many voxels as a 4 mm one (it once went to torchio as 1 mm voxels,
    each setting converted by hand)."""
    import torch
    from scipy import ndimage

    from brainage.training.augment import AugmentConfig, build_augmentation

    config = AugmentConfig(
        scale=0.0, degrees=0.0, translation_mm=4.0, log_gamma=0.0, noise_std=0.0, bias_coefficients=0.0
    )
    grid = np.indices((24, 24, 24)).astype(np.float32)
    blob = np.exp(-(((grid - 12) ** 2).sum(0)) / (2 * 3.0**2))
    shift = {}
    for voxel in (2.0, 4.0):
        index = pd.DataFrame(
            {"subject_id": ["s"], "age": [40.0], "sex": ["F"], "path": [(blob * 255).astype(np.uint8)]}
        )
        dataset = BrainAgeDataset(index, build_augmentation(config, voxel), voxel_mm=voxel)
        torch.manual_seed(0)  # the same draw of the translation, in mm
        shift[voxel] = np.array(ndimage.center_of_mass(dataset[0][0][0].numpy())) - 12
    assert np.abs(shift[4.0]).max() > 0.2  # it moved
    np.testing.assert_allclose(shift[2.0], 2 * shift[4.0], atol=0.1)
