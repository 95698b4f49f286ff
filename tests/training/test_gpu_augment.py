import torch

from brainage.training.augment import AugmentConfig
from brainage.training.gpu_augment import augment_batch


def _blob():
    x = torch.zeros(3, 1, 24, 28, 24)
    x[:, :, 6:18, 7:21, 6:18] = 0.8
    return x


def test_zero_strength_is_identity():
    x = _blob()
    cfg = AugmentConfig(degrees=0, scale=0, translation_mm=0, log_gamma=0, noise_std=0)
    assert torch.allclose(augment_batch(x, cfg), x, atol=1e-6)


def test_augmentation_is_seeded_per_sample_and_mild():
    x = _blob()
    a = augment_batch(x, AugmentConfig(), generator=torch.Generator().manual_seed(1))
    b = augment_batch(x, AugmentConfig(), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1])  # each volume gets its own transform
    # small affine: the object keeps roughly its volume and stays put
    kept = (a > 0.4).float().sum(dim=(1, 2, 3, 4)) / (x > 0.4).float().sum(dim=(1, 2, 3, 4))
    assert ((kept > 0.8) & (kept < 1.25)).all()


def test_translation_moves_in_millimetres():
    x = _blob()
    cfg = AugmentConfig(degrees=0, scale=0, translation_mm=4.0, log_gamma=0, noise_std=0)
    out = augment_batch(x, cfg, voxel_mm=2.0, generator=torch.Generator().manual_seed(0))

    def centre(v):
        idx = torch.stack(torch.meshgrid(*[torch.arange(s, dtype=torch.float32) for s in v.shape], indexing="ij"))
        return (idx * v).sum(dim=(1, 2, 3)) / v.sum()

    shift_vox = (centre(out[0, 0]) - centre(x[0, 0])).abs()
    assert (shift_vox <= 2.0 + 0.3).all()  # at most 4 mm = 2 voxels per axis
