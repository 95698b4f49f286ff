"""Augmentation for brain age, in torchio (per volume, in DataLoader workers).

The random transforms are torchio's own, and the tissue-contrast randomisation comes from the
one home of corruptions, :mod:`brainage.data.corruptions`. The batched equivalent on the
training device is :mod:`brainage.training.batch_augment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brainage.config import ADDED_LATER

#: Where augmentation runs: per volume in DataLoader workers (torchio), or batched on the training
#: device ("gpu": the name of "batch" before 0.12, kept so older configurations read the same).
AUGMENT_DEVICES = ("cpu", "batch", "gpu")
#: Each transform's probability, and the bias field's polynomial order: one declaration for both
#: paths (torchio's per volume here, :mod:`brainage.training.batch_augment`'s per batch).
P_AFFINE, P_TISSUE_CONTRAST, P_BIAS, P_GAMMA, P_BLUR, P_NOISE = 0.8, 0.8, 0.3, 0.5, 0.5, 0.5
BIAS_ORDER = 2


@dataclass
class AugmentConfig:
    """Augmentation suited to brain age: small affine jitter, intensity changes, no left-right flip
    (hemispheric asymmetry changes with age; flipping would erase it). ``device``: ``cpu`` runs
    torchio per volume in the DataLoader workers; ``batch`` runs the batched equivalent on the
    training device, a GPU or the CPU itself (:mod:`brainage.training.batch_augment`), for when
    workers cannot keep up; ``gpu`` is its name before 0.12.

    Example:
        >>> AugmentConfig(device="batch").batched, AugmentConfig().batched
        (True, False)
    """

    enabled: bool = True
    device: str = "cpu"
    scale: float = 0.03
    degrees: float = 5.0
    translation_mm: float = 4.0
    log_gamma: float = 0.2
    noise_std: float = 0.02
    bias_coefficients: float = 0.1
    flip_lr: bool = False
    #: Input channels the intensity changes touch (``t1``, ``tissue``); empty: every channel, as
    #: before 0.4. Tissue maps carry no scanner contrast, so gamma and bias fields do not belong on them.
    intensity_inputs: tuple = field(default=(), metadata=ADDED_LATER)
    #: Domain randomisation: each tissue's T1 intensity times ``1 +- tissue_contrast``
    #: (:class:`~brainage.data.corruptions.RandomTissueContrast`; needs tissue maps), and a Gaussian
    #: blur of up to ``blur_std_voxels`` (another scanner's resolution); 0 = off.
    tissue_contrast: float = field(default=0.0, metadata=ADDED_LATER)
    blur_std_voxels: float = field(default=0.0, metadata=ADDED_LATER)

    def __post_init__(self):
        if self.device not in AUGMENT_DEVICES:
            raise ValueError(f"augmentation device {self.device!r}: choose one of {', '.join(AUGMENT_DEVICES)}")

    @property
    def batched(self) -> bool:
        """Whether the batch is augmented on the training device instead of per volume in workers."""
        return self.enabled and self.device != "cpu"


def build_augmentation(config: AugmentConfig, voxel_mm: float = 2.0):
    """A picklable torchio pipeline from an :class:`AugmentConfig` (``None`` when disabled or
    when augmentation runs batched on the training device instead).

    Parameters
    ----------
    config
        The augmentation settings (a :class:`AugmentConfig`).
    voxel_mm
        Voxel size of the volumes it will see, in mm (the blur is given in their voxels; the
        datasets give torchio the same voxel size, so translations act in mm).

    Returns
    -------
    torchio.Compose or None
        The transform, or ``None`` when augmentation is off or runs batched on the training device.

    Example:
        >>> t = build_augmentation(AugmentConfig())
        >>> type(t).__name__
        'Compose'
    """
    if not config.enabled or config.batched:
        return None
    import torchio as tio  # imported here so GPU-only training runs without torchio installed

    only = {"include": list(config.intensity_inputs)} if config.intensity_inputs else {}
    transforms = [
        tio.RandomAffine(
            scales=config.scale,
            degrees=config.degrees,
            translation=config.translation_mm,  # mm: the dataset gives torchio the volumes' voxel size
            image_interpolation="linear",
            p=P_AFFINE,
        )
    ]
    if config.tissue_contrast:
        from brainage.data.corruptions import RandomTissueContrast

        transforms.append(RandomTissueContrast(config.tissue_contrast, p=P_TISSUE_CONTRAST))
    transforms += [
        tio.RandomBiasField(coefficients=config.bias_coefficients, order=BIAS_ORDER, p=P_BIAS, **only),
        tio.RandomGamma(log_gamma=config.log_gamma, p=P_GAMMA, **only),
    ]
    if config.blur_std_voxels:
        # the setting is in voxels of the volumes trained on; torchio's blur is in mm
        transforms.append(tio.RandomBlur(std=(0, config.blur_std_voxels * voxel_mm), p=P_BLUR, **only))
    transforms.append(tio.RandomNoise(std=(0, config.noise_std), p=P_NOISE, **only))
    if config.flip_lr:
        transforms.insert(0, tio.RandomFlip(axes=("LR",)))
    return tio.Compose(transforms)
