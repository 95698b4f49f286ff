"""Named preprocessing recipes: settings that belong together, declared once.

Kept apart from :mod:`brainage.preprocess.pipeline` so the command line can list them without
importing the imaging stack.
"""

from __future__ import annotations

#: antspyx's own affine schedule: the most iterations at each level of the pyramid (shrunk 6, 4, 2
#: and 1 times); the recipes' before brainage 0.9.
AFFINE_ITERATIONS = (2100, 1200, 1200, 10)
#: The same without the last, full-resolution level: its 10 iterations cost more than half of the
#: registration (scales and samples are set up on every voxel), and leaving them out moved the
#: brain by 0.40 mm on average (at most 1.20 mm, on 2 mm voxels) at the same correlation with the
#: template, on 8 IXI-HH brains (benchmarks/fast_recipe.py; docs/pipeline.md, "A faster recipe").
AFFINE_ITERATIONS_FAST = (2100, 1200, 1200, 0)
#: antspyx's N4 schedule: iterations at each of its four B-spline fitting levels (ANTs' tolerance,
#: 1e-7, is never reached on a brain: every level runs them all); the recipes' before brainage 0.9.
N4_ITERATIONS = (50, 50, 50, 50)
#: Half of them, half the time: a known 1.5x field put on 8 IXI-HH heads was taken out to within
#: 0.31 % of the same heads corrected without it (0.30 % with 50; benchmarks/fast_recipe.py).
N4_ITERATIONS_FAST = (25, 25, 25, 25)

#: Tissue segmentations (:class:`~brainage.preprocess.steps.Segment`): ANTs Atropos classes, or
#: partial-volume fractions fitted on a subsample of the brain's voxels or on all of them, or on a
#: subsample with the MNI template's tissue maps as a spatial prior.
SEGMENTATION_METHODS = ("atropos", "partial-volume", "partial-volume histogram", "partial-volume prior")

#: How finer voxels come down to the working resolution (:func:`~brainage.preprocess.ops.to_working_resolution`).
DOWNSAMPLINGS = ("gaussian", "block average")
#: What brain extraction is given (:class:`~brainage.preprocess.steps.BrainMask`): the whole field of
#: view as stored, or the head's bounding box (:func:`~brainage.preprocess.ops.brain_mask_on_head_box`).
BET_FRAMINGS = ("field of view", "head box")

#: The acquisitions a training scan is rendered as by default (the recipes before brainage 0.9),
#: dealt out in this order (names of :data:`brainage.data.variants.VARIANTS`): a 1 mm re-storage,
#: 4 mm slices along each axis, a 3 mm acquisition, gamma 0.7 and 1.4, 5 % Rician noise and a
#: grey/white contrast change. A recipe may name others (``rendition_kinds``).
RENDITION_KINDS = (
    "restored_1mm",
    "thick_slices_left-right",
    "thick_slices_front-back",
    "thick_slices_top-bottom",
    "low_resolution",
    "gamma_0.7",
    "gamma_1.4",
    "noise_5pct",
    "tissue_contrast",
)

#: Named recipes: settings that belong together, declared once (``brainage preprocess --recipe``).
#: ``scanner-robust`` is the recipe of the shipped model and of the ``scanner_robust`` model of the
#: registry: every step on 2 mm voxels whatever the scanner stored, partial-volume tissue fractions,
#: the T1 anchored on its CSF and white-matter means, training renditions of every scan
#: (docs/scanner_robustness.md). Since brainage 0.9: the same answer whatever the storage (air
#: stored at a constant put back at zero, N4 on the brain-median intensity scale), half the time
#: (the affine registration without its full-resolution level, N4 with half its iterations), and
#: two renditions of every scan, storage changes and stripped or defaced heads among them. Since
#: brainage 0.10: N4's field fitted on the brain's bounding box, so the same brain in a wider field of
#: view gets the same correction. A model file keeps the recipe it was trained on. Not in it (options,
#: measured in docs/scanner_robustness.md): the tissue fit with the MNI template's tissue maps as a
#: prior (``segmentation: partial-volume prior``): the model on it cross-validated 0.9 y better, but
#: blur takes an old brain's CSF towards the template's and the model reads it years younger. Deepbet
#: on the head's box (``bet_framing``), whole-voxel downsampling (``downsampling``) and the tissue
#: fractions fitted on every voxel (``segmentation: partial-volume histogram``): the 2 ml by which
#: the first moves the shipped model's brain masks moves its ages by 0.9 y (SD), and the model
#: retrained on all three cross-validated 0.27 y worse.
RECIPES: dict[str, dict] = {
    "default": {},
    "scanner-robust": {
        "working_voxel_mm": 2.0,
        "segmentation": "partial-volume",
        "intensity_reference": "tissue",
        "background": "offset removed",
        "n4_scale": "brain median",
        "affine_iterations": AFFINE_ITERATIONS_FAST,
        "n4_iterations": N4_ITERATIONS_FAST,
        "n4_domain": "brain box",
        "renditions": 2,
        "rendition_kinds": (*RENDITION_KINDS, "int16", "wider_fov", "skull_stripped", "defaced"),
    },
}

#: Settings a recipe gained after models were trained on it that refine what a scan becomes, or
#: only which renditions train it, without changing what a model reads: a folder made before them
#: still suits the recipe's models (:func:`~brainage.training.cv.check_recipe`).
RECIPE_REFINEMENTS = (
    "background",
    "n4_scale",
    "affine_iterations",
    "n4_iterations",
    "n4_domain",
    "renditions",
    "rendition_kinds",
)
