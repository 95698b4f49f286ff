"""Augmentation for brain age, in torchio (per volume, in DataLoader workers).

The batched equivalent for the training device is :mod:`brainage.training.gpu_augment`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AugmentConfig:
    """Augmentation suited to brain age: small affine jitter, intensity changes, no left-right flip
    (hemispheric asymmetry changes with age; flipping would erase it). ``device``: ``cpu`` runs
    torchio in the DataLoader workers; ``gpu`` runs the batched equivalent on the training
    device (:mod:`brainage.training.gpu_augment`), for when workers cannot keep up."""

    enabled: bool = True
    device: str = "cpu"
    scale: float = 0.03
    degrees: float = 5.0
    translation_mm: float = 4.0
    log_gamma: float = 0.2
    noise_std: float = 0.02
    bias_coefficients: float = 0.1
    flip_lr: bool = False


def build_augmentation(config: AugmentConfig, voxel_mm: float = 2.0):
    """A picklable torchio pipeline from an :class:`AugmentConfig` (``None`` when disabled or
    when augmentation runs on the GPU instead).

    Example:
        >>> t = build_augmentation(AugmentConfig())
        >>> type(t).__name__
        'Compose'
    """
    if not config.enabled or config.device == "gpu":
        return None
    import torchio as tio  # imported here so GPU-only training runs without torchio installed

    transforms = [
        tio.RandomAffine(scales=config.scale, degrees=config.degrees, translation=config.translation_mm / voxel_mm,
                         image_interpolation="linear", p=0.8),
        tio.RandomBiasField(coefficients=config.bias_coefficients, order=2, p=0.3),
        tio.RandomGamma(log_gamma=config.log_gamma, p=0.5),
        tio.RandomNoise(std=(0, config.noise_std), p=0.5),
    ]
    if config.flip_lr:
        transforms.insert(0, tio.RandomFlip(axes=("LR",)))
    return tio.Compose(transforms)
