"""Commands of the preprocessing stage: ``preprocess``, ``pack``."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command, add_executor_arguments, executor_from_args
from brainage.preprocess.grids import DEFAULT_GRID, GRIDS
from brainage.preprocess.recipes import BET_FRAMINGS, DOWNSAMPLINGS, RECIPES, SEGMENTATION_METHODS


class Preprocess(Command):
    name = "preprocess"
    help = "Raw T1 -> brain mask, N4, affine MNI registration, model-ready cache. Restartable."
    example = "brainage preprocess results/ixi/manifest.csv --out results/ixi/pre --workers 2"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("manifest", type=Path, help="manifest.csv from `brainage ingest`")
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
        p.add_argument(
            "--recipe",
            choices=sorted(RECIPES),
            default="default",
            help="a named set of the settings below: scanner-robust is for scanner-robust models (2 mm working "
            "voxels, partial-volume tissue, tissue-anchored T1, storage-proof, a faster registration and N4, two "
            "training renditions per scan); options given below override it (default: default)",
        )
        p.add_argument(
            "--grid", action="append", choices=sorted(GRIDS), help=f"output grid(s) (default {DEFAULT_GRID})"
        )
        p.add_argument(
            "--skull-stripped",
            choices=["auto", "yes", "no"],
            default="auto",
            help="are the inputs already skull-stripped? auto detects it per image",
        )
        p.add_argument(
            "--registration",
            choices=["Affine", "AffineFast", "Rigid"],
            default="Affine",
            help="ANTs transform to MNI (AffineFast is ~3x faster, slightly less accurate)",
        )
        p.add_argument(
            "--non-deterministic", action="store_true", help="multi-threaded ANTs; transforms vary run to run"
        )
        p.add_argument(
            "--working-voxel-mm",
            type=float,
            default=None,
            help="isotropic voxel size every step works at, whatever the scanner stored (e.g. 2: a 1 mm scan "
            "preprocessed four times faster); 0 keeps the stored voxels "
            "(default: the recipe's; default recipe: as stored)",
        )
        p.add_argument(
            "--segmentation",
            choices=list(SEGMENTATION_METHODS),
            default=None,
            help="tissue maps: ANTs Atropos classes, or partial-volume fractions (keep their volumes on "
            "blurrier scans, move more with noise), fitted on a subsample of the brain or on all of it "
            "(default: the recipe's; default recipe: atropos)",
        )
        p.add_argument(
            "--intensity-reference",
            choices=["percentiles", "tissue"],
            default=None,
            help="scale the model cache by brain percentiles, or anchor it on the CSF and white-matter "
            "means (does not move with resolution or noise) (default: the recipe's; default recipe: percentiles)",
        )
        p.add_argument(
            "--bet-framing",
            choices=list(BET_FRAMINGS),
            default=None,
            help="what brain extraction is given: the whole field of view, or the head's bounding box (a wider "
            "field of view then gives the same mask) (default: the recipe's; every recipe: field of view)",
        )
        p.add_argument(
            "--downsampling",
            choices=list(DOWNSAMPLINGS),
            default=None,
            help="how voxels finer than the working resolution come down to it: Gaussian smoothing and "
            "resampling, or averages of whole runs of voxels on the stored grid "
            "(default: the recipe's; every recipe: gaussian)",
        )
        p.add_argument(
            "--renditions",
            type=int,
            default=None,
            help="also render each scan as N other acquisitions (1 mm, thick slices, 3 mm, gamma, noise, "
            "grey/white contrast) and preprocess them: training data for scanner invariance "
            "(`brainage train --renditions`) (default: the recipe's; default recipe: 0)",
        )
        add_executor_arguments(p)

    def run(self, args: argparse.Namespace) -> None:
        from brainage.preprocess.pipeline import preprocess_manifest, print_report

        config = preprocess_config_from_args(args)
        print_report(preprocess_manifest(args.manifest, args.out, config, executor_from_args(args)), args.out)


def preprocess_config_from_args(args: argparse.Namespace):
    """The named recipe, then every option given on the command line.

    Example:
        >>> p = argparse.ArgumentParser(); Preprocess().add_arguments(p)
        >>> c = preprocess_config_from_args(p.parse_args(["m.csv", "--out", "o", "--recipe", "scanner-robust",
        ...                                               "--renditions", "0", "--bet-framing", "head box"]))
        >>> c.intensity_reference, c.working_voxel_mm, c.renditions, c.bet_framing
        ('tissue', 2.0, 0, 'head box')
    """
    from dataclasses import replace

    from brainage.preprocess.pipeline import recipe_preset

    config = replace(
        recipe_preset(args.recipe),
        grids=tuple(args.grid or [DEFAULT_GRID]),
        skull_stripped=args.skull_stripped,
        registration=args.registration,
        deterministic=not args.non_deterministic,
    )
    if args.working_voxel_mm is not None:
        config = replace(config, working_voxel_mm=args.working_voxel_mm or None)
    if args.segmentation is not None:
        config = replace(config, segmentation=args.segmentation)
    if args.intensity_reference is not None:
        config = replace(config, intensity_reference=args.intensity_reference)
    if args.renditions is not None:
        config = replace(config, renditions=args.renditions)
    if args.bet_framing is not None:
        config = replace(config, bet_framing=args.bet_framing)
    if args.downsampling is not None:
        config = replace(config, downsampling=args.downsampling)
    return config


class Pack(Command):
    name = "pack"
    help = "Pack a cache folder into one compressed .npz (e.g. to send it to a GPU machine)."
    example = "brainage pack results/ixi/pre/cache/2mm ixi_2mm.npz"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("cache", type=Path, help="a cache folder, or a `brainage preprocess` output folder")
        p.add_argument("archive", type=Path)
        p.add_argument("--downsample", type=int, default=1, help="average-pool every volume by this factor first")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.preprocess.cache import find_cache, pack_cache
        from brainage.progress import console

        cache = find_cache(args.cache)
        out = pack_cache(cache.root, args.archive, args.downsample)
        console.print(f"packed {cache.root} into {out} ({out.stat().st_size / 2**20:.1f} MiB)")
