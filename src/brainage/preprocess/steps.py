"""The preprocessing steps as objects: each knows its name, parameters, outputs and how to run.

A step reads earlier steps' files from the subject's folder and writes its own; it returns a
small dict of what it found (volumes, quality figures), which ``steps.json`` records and the
preprocessing report shows. The pipeline (:mod:`brainage.preprocess.pipeline`) chains their
fingerprints, so a changed parameter redoes its step and every step after it.

Add a step by subclassing :class:`Step` and listing it in :func:`steps_for`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from brainage.layout import PreprocessedDir, SubjectDir
from brainage.preprocess import ops
from brainage.preprocess.cache import write_volume
from brainage.preprocess.grids import GRIDS, GridSpec
from brainage.preprocess.recipes import (
    AFFINE_ITERATIONS,
    BET_FRAMINGS,
    DOWNSAMPLINGS,
    N4_ITERATIONS,
    SEGMENTATION_METHODS,
)
from brainage.preprocess.template import tissue_priors
from brainage.preprocess.tissue import LEVELS, partial_volume_fractions
from brainage.preprocess.tissue import METHODS as PARTIAL_VOLUME_FITS


@dataclass
class SubjectContext:
    """What a step works on: the raw input, the subject's folder and the preprocessing folder."""

    source: Path
    folder: SubjectDir
    root: PreprocessedDir


class Step:
    """Base of every preprocessing step."""

    name: str = ""

    def params(self) -> dict:
        """What, besides the inputs, defines this step's outputs (part of its fingerprint)."""
        return {}

    def outputs(self, ctx: SubjectContext) -> list[Path]:
        raise NotImplementedError

    def run(self, ctx: SubjectContext) -> dict:
        """Do the step, write :meth:`outputs`, return what it found."""
        raise NotImplementedError


class Reorient(Step):
    """Load and validate the T1, reorient it to RAS and put it on the working resolution.

    ``working_voxel_mm``: every later step works on this isotropic voxel size, whatever the
    scanner stored (:func:`~brainage.preprocess.ops.to_working_resolution`); ``None`` (default)
    keeps the stored voxels. ``background``: ``offset removed`` puts air stored at a constant
    (bright, or below zero) back at zero (:func:`~brainage.preprocess.ops.remove_air_offset`);
    ``as stored`` (the default of recipes made before brainage 0.9) leaves it. ``downsampling``:
    how finer voxels come down to the working resolution (``gaussian``, the default and every
    recipe's, or ``block average``; :func:`~brainage.preprocess.ops.to_working_resolution`).
    """

    name = "reorient"

    def __init__(
        self, working_voxel_mm: float | None = None, background: str = "as stored", downsampling: str = "gaussian"
    ):
        if background not in BACKGROUNDS:
            raise ValueError(f"unknown background handling {background!r}; choose from {', '.join(BACKGROUNDS)}")
        if downsampling not in DOWNSAMPLINGS:
            raise ValueError(f"unknown downsampling {downsampling!r}; choose from {', '.join(DOWNSAMPLINGS)}")
        self.working_voxel_mm, self.background, self.downsampling = working_voxel_mm, background, downsampling

    def params(self):
        params = {} if self.working_voxel_mm is None else {"working_voxel_mm": self.working_voxel_mm}
        # the old defaults add nothing, so recipes and caches made before these settings stay valid
        params = params if self.background == "as stored" else {**params, "background": self.background}
        return params if self.downsampling == "gaussian" else {**params, "downsampling": self.downsampling}

    def outputs(self, ctx):
        return [ctx.folder.t1_ras]

    def run(self, ctx):
        img, info = ops.reorient(ctx.source)
        if self.background == "offset removed":
            img, info["air_offset"] = ops.remove_air_offset(img)
        if self.working_voxel_mm is not None:
            img, info["resampled"] = ops.to_working_resolution(img, self.working_voxel_mm, self.downsampling)
        ops.save_nifti(img, ctx.folder.t1_ras)
        return info


#: One deepbet model per process (loading it costs more than running it on a 2 mm head).
_EXTRACTORS: dict[float, ops.BrainExtractor] = {}


class BrainMask(Step):
    """Brain mask by deepbet, or from the image itself when the input is already skull-stripped.

    ``mode``: ``auto`` detects already-stripped inputs, ``yes``/``no`` force the decision.
    ``framing``: what deepbet is given, the whole ``field of view`` (the default and every
    recipe's) or the ``head box`` (:func:`~brainage.preprocess.ops.brain_mask_on_head_box`),
    so the field of view does not move the mask.
    """

    name = "brain_mask"

    def __init__(self, mode: str = "auto", threshold: float = 0.5, framing: str = "field of view"):
        if framing not in BET_FRAMINGS:
            raise ValueError(f"unknown brain-extraction framing {framing!r}; choose from {', '.join(BET_FRAMINGS)}")
        self.mode, self.threshold, self.framing = mode, threshold, framing

    def params(self):
        params = {"mode": self.mode, "threshold": self.threshold}
        # the old default adds nothing, so recipes and caches made before this setting stay valid
        return params if self.framing == "field of view" else {**params, "framing": self.framing}

    def outputs(self, ctx):
        return [ctx.folder.brain_mask]

    def run(self, ctx):
        img = nib.load(str(ctx.folder.t1_ras))
        data = img.get_fdata(dtype=np.float32)
        voxel_ml = float(np.prod(img.header.get_zooms()[:3])) / 1000
        stripped = ops.looks_skull_stripped(data, voxel_ml) if self.mode == "auto" else self.mode == "yes"
        if stripped:
            mask = ops.mask_from_stripped(data)
        else:
            if self.threshold not in _EXTRACTORS:
                _EXTRACTORS[self.threshold] = ops.BrainExtractor(threshold=self.threshold)
            extract = _EXTRACTORS[self.threshold]
            if self.framing == "head box":
                mask = ops.brain_mask_on_head_box(extract, data, float(np.min(img.header.get_zooms()[:3])))
            else:
                mask = extract(data)
        volume = ops.check_brain_volume(mask, voxel_ml)
        ops.save_nifti(nib.Nifti1Image(mask.astype(np.uint8), img.affine), ctx.folder.brain_mask, np.uint8)
        return {"input_skull_stripped": bool(stripped), "brain_volume_ml": round(volume, 1)}


class BiasCorrect(Step):
    """N4 bias-field correction inside the (dilated) brain mask; ``scale``: the intensity scale N4
    runs on, ``iterations``: at each fitting level (:func:`~brainage.preprocess.ops.bias_correct`)."""

    name = "bias_correct"

    def __init__(
        self, shrink_factor: int = 4, scale: str = "as stored", iterations: tuple = N4_ITERATIONS, domain: str = "image"
    ):
        if scale not in N4_SCALES:
            raise ValueError(f"unknown N4 intensity scale {scale!r}; choose from {', '.join(N4_SCALES)}")
        if domain not in ops.N4_DOMAINS:
            raise ValueError(f"unknown N4 domain {domain!r}; choose from {', '.join(ops.N4_DOMAINS)}")
        self.shrink_factor, self.scale, self.domain = shrink_factor, scale, domain
        self.iterations = tuple(int(i) for i in iterations)

    def params(self):
        # the old defaults add nothing, so recipes and caches made before these settings stay valid
        params = {"shrink": self.shrink_factor, **({} if self.scale == "as stored" else {"scale": self.scale})}
        params = params if self.iterations == N4_ITERATIONS else {**params, "iterations": list(self.iterations)}
        return params if self.domain == "image" else {**params, "domain": self.domain}

    def outputs(self, ctx):
        return [ctx.folder.t1_n4, ctx.folder.bias_field]

    def run(self, ctx):
        img = nib.load(str(ctx.folder.t1_ras))
        mask = nib.load(str(ctx.folder.brain_mask)).get_fdata() > 0
        corrected, field = ops.bias_correct(img, mask, self.shrink_factor, self.scale, self.iterations, self.domain)
        ops.save_nifti(corrected, ctx.folder.t1_n4)
        ops.save_nifti(field, ctx.folder.bias_field)
        f = np.asarray(field.dataobj)[mask]
        return {
            "bias_median": round(float(np.median(f)), 4),
            "bias_range": round(float(np.percentile(f, 99) - np.percentile(f, 1)), 4),
        }


class Register(Step):
    """Affine registration of the skull-stripped, bias-corrected brain to the MNI template.

    ``deterministic``: ANTs single-threaded with a fixed seed, so re-runs give identical
    transforms (brainage parallelises over subjects instead, which costs nothing in throughput).
    ``iterations``: the most iterations at each level of ANTs' pyramid (shrunk 6, 4, 2, 1 times);
    see :data:`~brainage.preprocess.recipes.AFFINE_ITERATIONS`.
    """

    name = "register"

    def __init__(
        self, kind: str = "Affine", deterministic: bool = True, seed: int = 42, iterations: tuple = AFFINE_ITERATIONS
    ):
        self.kind, self.deterministic, self.seed = kind, deterministic, seed
        self.iterations = tuple(int(i) for i in iterations)

    def params(self):
        params = {"kind": self.kind, "deterministic": self.deterministic, "seed": self.seed}
        # the old default adds nothing, so recipes and caches made before this setting stay valid
        return params if self.iterations == AFFINE_ITERATIONS else {**params, "iterations": list(self.iterations)}

    def outputs(self, ctx):
        return [ctx.folder.to_mni_affine, ctx.folder.brain_n4]

    def run(self, ctx):
        img = nib.load(str(ctx.folder.t1_n4))
        mask = nib.load(str(ctx.folder.brain_mask)).get_fdata() > 0
        brain = nib.Nifti1Image(np.where(mask, img.get_fdata(dtype=np.float32), 0).astype(np.float32), img.affine)
        ops.save_nifti(brain, ctx.folder.brain_n4)
        return ops.register_affine(
            brain,
            ctx.folder.to_mni_affine,
            self.kind,
            seed=self.seed if self.deterministic else None,
            iterations=self.iterations,
        )


class GridStep(Step):
    """A step done once per output grid; its name is ``<prefix>_<grid>``, the grid its parameters."""

    prefix = ""

    def __init__(self, grid: GridSpec):
        self.grid = grid
        self.name = f"{self.prefix}_{grid.name}"

    def params(self):
        return asdict(self.grid)


class Resample(GridStep):
    """The brain and its mask on one MNI output grid, intensity-normalised, plus the model cache.

    ``intensity``: ``percentiles`` (default) scales the 0.5th-99.5th percentiles inside the brain
    to [0, 1]; ``tissue`` anchors the CSF and white-matter means instead
    (:func:`~brainage.preprocess.ops.anchor_intensity`), a linear scaling that resolution, noise and
    storage do not move.
    """

    prefix = "resample"

    def __init__(self, grid: GridSpec, intensity: str = "percentiles"):
        super().__init__(grid)
        if intensity not in INTENSITY_REFERENCES:
            raise ValueError(
                f"unknown intensity reference {intensity!r}; choose from {', '.join(INTENSITY_REFERENCES)}"
            )
        self.intensity = intensity

    def params(self):
        # the default adds nothing, so caches made before this setting existed stay valid
        return (
            super().params() if self.intensity == "percentiles" else {**super().params(), "intensity": self.intensity}
        )

    def outputs(self, ctx):
        return [
            ctx.folder.t1_mni(self.grid.name),
            ctx.folder.mask_mni(self.grid.name),
            ctx.root.cache(self.grid.name).volume(ctx.folder.subject_id),
        ]

    def run(self, ctx):
        brain = nib.load(str(ctx.folder.brain_n4))
        mask = nib.load(str(ctx.folder.brain_mask))
        warped = ops.to_grid(brain, ctx.folder.to_mni_affine, self.grid)
        warped_mask = ops.to_grid(
            nib.Nifti1Image(mask.get_fdata(dtype=np.float32), mask.affine), ctx.folder.to_mni_affine, self.grid
        )
        inside = np.asarray(warped_mask.dataobj) > 0.5
        info = {}
        if self.intensity == "tissue":
            norm, info = ops.anchor_intensity(np.asarray(warped.dataobj), inside)
        else:
            norm = ops.normalise_intensity(np.asarray(warped.dataobj), inside)
        affine = self.grid.affine()
        t1_out, mask_out, cache_out = self.outputs(ctx)
        ops.save_nifti(nib.Nifti1Image(norm, affine), t1_out)
        ops.save_nifti(nib.Nifti1Image(inside.astype(np.uint8), affine), mask_out, np.uint8)
        write_volume(cache_out, norm)
        return {f"brain_fraction_in_grid_{self.grid.name}": round(float(inside.mean()), 4), **info}


class Segment(Step):
    """Grey matter, white matter and CSF maps in native space, their volumes, and the
    registration's determinant (head size, which affine registration removes).

    ``method``: ``atropos`` (default) is ANTs Atropos (k-means and a Markov random field);
    ``partial-volume`` gives each voxel its expected fraction of each tissue
    (:mod:`brainage.preprocess.tissue`), so a blurrier or sharper rendition of the same brain keeps
    its volumes, but without a spatial prior noise and contrast move it more than Atropos;
    ``partial-volume histogram`` fits the same model on every voxel's intensity, not a random
    subsample, so a brain mask a few voxels apart no longer moves the volumes by tens of ml;
    ``partial-volume prior`` weighs each voxel's tissues by where the MNI template has them (brought
    to the scan by the inverse of its registration), so blur, noise and contrast move a young brain's
    less, but blur gives an old brain's CSF to the template's grey and white matter (not a recipe's).
    """

    name = "segment"

    def __init__(self, method: str = "atropos", mrf: float = 0.1):
        if method not in SEGMENTATION_METHODS:
            raise ValueError(f"unknown segmentation {method!r}; choose from {', '.join(SEGMENTATION_METHODS)}")
        self.method, self.mrf = method, mrf

    def params(self):
        if self.method == "atropos":
            return {"method": "atropos-kmeans3", "mrf": self.mrf}
        return {"method": PARTIAL_VOLUME_FITS[_FITS[self.method]], "levels": LEVELS}

    def outputs(self, ctx):
        return [ctx.folder.tissue]

    def run(self, ctx):
        brain = nib.load(str(ctx.folder.brain_n4))
        mask = nib.load(str(ctx.folder.brain_mask)).get_fdata() > 0
        tissue = segment(brain, mask, ctx.folder.to_mni_affine, self.method, self.mrf)
        ops.save_nifti(tissue, ctx.folder.tissue)
        voxel_ml = float(np.prod(brain.header.get_zooms()[:3])) / 1000
        volumes = tissue.get_fdata(dtype=np.float32).sum(axis=(0, 1, 2)) * voxel_ml
        return {
            **{f"{t}_ml": round(float(v), 1) for t, v in zip(TISSUES, volumes)},
            "affine_det": round(ops.affine_det(ctx.folder.to_mni_affine), 5),
        }


def segment(
    brain: nib.Nifti1Image, mask: np.ndarray, to_mni: Path, method: str = "atropos", mrf: float = 0.1
) -> nib.Nifti1Image:
    """CSF, grey- and white-matter maps (x, y, z, 3) of a bias-corrected ``brain`` inside ``mask``, by one of
    :data:`~brainage.preprocess.recipes.SEGMENTATION_METHODS` (:class:`Segment`); ``to_mni``: the scan's
    affine registration, which brings the template's tissue maps to it for the ``partial-volume prior``."""
    if method == "atropos":
        return ops.segment_tissues(brain, mask, mrf)
    prior = _native_priors(to_mni, brain)[mask] if _FITS[method] == "prior" else None
    fractions, _ = partial_volume_fractions(brain.get_fdata(dtype=np.float32)[mask], fit=_FITS[method], prior=prior)
    maps = np.zeros(mask.shape + (3,), np.float32)
    maps[mask] = fractions
    return nib.Nifti1Image(maps, brain.affine)


def _native_priors(to_mni: Path, brain: nib.Nifti1Image) -> np.ndarray:
    """The template's CSF, grey- and white-matter maps (:func:`~brainage.preprocess.template.tissue_priors`)
    on the scan's own grid, through the inverse of its affine registration: ``(x, y, z, 3)``."""
    priors = tissue_priors()
    data = priors.get_fdata(dtype=np.float32)
    channels = [
        ops.from_grid(nib.Nifti1Image(np.ascontiguousarray(data[..., k]), priors.affine), to_mni, brain)
        for k in range(data.shape[-1])
    ]
    return np.stack([np.asarray(c.dataobj, np.float32) for c in channels], axis=-1)


#: How :class:`Reorient` treats air stored at a constant.
BACKGROUNDS = ("as stored", "offset removed")
#: The intensity scales :class:`BiasCorrect` runs N4 on.
N4_SCALES = ("as stored", "brain median")
#: How :class:`Resample` scales intensities.
INTENSITY_REFERENCES = ("percentiles", "tissue")

#: How each partial-volume segmentation fits its model (:data:`~brainage.preprocess.tissue.METHODS`).
_FITS = {"partial-volume": "subsample", "partial-volume histogram": "histogram", "partial-volume prior": "prior"}


class ResampleTissue(GridStep):
    """The tissue probabilities on one MNI output grid, plus their model cache (uint8, 3 channels)."""

    prefix = "tissue"

    def outputs(self, ctx):
        return [ctx.folder.tissue_mni(self.grid.name), ctx.root.cache(self.grid.name).tissue(ctx.folder.subject_id)]

    def run(self, ctx):
        tissue = nib.load(str(ctx.folder.tissue))
        data = tissue.get_fdata(dtype=np.float32)
        warped = np.stack(
            [
                np.asarray(
                    ops.to_grid(
                        nib.Nifti1Image(data[..., k], tissue.affine), ctx.folder.to_mni_affine, self.grid
                    ).dataobj
                )
                for k in range(data.shape[-1])
            ]
        )
        warped = np.clip(warped, 0, 1)
        nifti_out, cache_out = self.outputs(ctx)
        ops.save_nifti(nib.Nifti1Image(np.moveaxis(warped, 0, -1), self.grid.affine()), nifti_out)
        write_volume(cache_out, warped)
        return {}


#: Tissue classes of :class:`Segment`, in channel order.
TISSUES = ("csf", "gm", "wm")


def steps_for(config) -> list[Step]:
    """The step list of a :class:`~brainage.preprocess.pipeline.PreprocessConfig`, in order.

    Tissue segmentation comes after the intensity grids, so turning it on or off never redoes them.
    """
    steps = [
        Reorient(config.working_voxel_mm, config.background, config.downsampling),
        BrainMask(config.skull_stripped, config.bet_threshold, config.bet_framing),
        BiasCorrect(config.n4_shrink_factor, config.n4_scale, config.n4_iterations, config.n4_domain),
        Register(config.registration, config.deterministic, config.seed, config.affine_iterations),
        *[Resample(GRIDS[name], config.intensity_reference) for name in config.grids],
    ]
    if config.tissue:
        steps += [Segment(config.segmentation), *[ResampleTissue(GRIDS[name]) for name in config.grids]]
    return steps
