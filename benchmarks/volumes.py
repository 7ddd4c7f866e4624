"""Benchmark: sub-region volumes + the eight ratios for many 128³ label maps.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/volumes.py [--n 1000] [--size 128] [--jobs 2]

A bank of distinct BraTS-schema tumour label maps (uint8, 1 mm) is made once with
``imaging.phantoms``; the timed part processes ``n`` maps (cycling through the bank, so every
map is a full 128³ array) with :func:`imaging.volumes.subregion_volumes` — ``np.bincount``
on the flattened map — in joblib workers (``jobs``) over chunks of maps, then
:func:`imaging.volumes.volume_ratios` and :func:`subregion_percentages` on the cohort
DataFrame. Prints the wall time and the per-map cost. Target: 1,000 maps in < 60 s on 2 cores.

``--from-nifti`` writes the bank as gzipped NIfTI files first (not timed) and times the
realistic path instead: every map is read from disk (nibabel, gzip, canonical RAS
reorientation, integer check) before its volumes are counted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from imaging.phantoms import make_tumour_phantom
from imaging.volumes import subregion_percentages, subregion_volumes, volume_ratios


def _chunk(bank: np.ndarray, idx: list[int], spacing: tuple[float, float, float]) -> list[pd.Series]:
    return [subregion_volumes(bank[i % len(bank)], "brats", spacing=spacing) for i in idx]


def _chunk_files(files: list[str], idx: list[int]) -> list[pd.Series]:
    return [subregion_volumes(files[i % len(files)], "brats") for i in idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="label maps to process (default 1000)")
    ap.add_argument("--size", type=int, default=128, help="edge of the cubic map (default 128)")
    ap.add_argument("--jobs", type=int, default=2, help="joblib workers (default 2)")
    ap.add_argument("--bank", type=int, default=8, help="distinct maps generated (default 8)")
    ap.add_argument("--from-nifti", action="store_true",
                    help="read every map from a .nii.gz file (I/O included in the timing)")
    args = ap.parse_args()
    spacing = (1.0, 1.0, 1.0)
    shape = (args.size,) * 3

    t0 = time.perf_counter()
    bank = np.stack([make_tumour_phantom(shape, spacing, "brats", random_state=s)[1] for s in range(args.bank)])
    t_gen = time.perf_counter() - t0

    chunks = [list(range(i, min(i + 50, args.n))) for i in range(0, args.n, 50)]
    tmpdir = None
    if args.from_nifti:
        import nibabel as nib

        tmpdir = tempfile.TemporaryDirectory(prefix="bench_volumes_")
        files = []
        for i, lab in enumerate(bank):
            p = Path(tmpdir.name) / f"map_{i:03d}.nii.gz"
            nib.save(nib.Nifti1Image(lab, np.diag([*spacing, 1.0])), str(p))
            files.append(str(p))
    t0 = time.perf_counter()
    if args.from_nifti:
        results = Parallel(n_jobs=args.jobs)(delayed(_chunk_files)(files, c) for c in chunks)
    else:
        results = Parallel(n_jobs=args.jobs)(delayed(_chunk)(bank, c, spacing) for c in chunks)
    vols = pd.DataFrame([s for chunk in results for s in chunk])
    vols.index = pd.Index([f"p{i:04d}" for i in range(len(vols))], name="patient")
    ratios = volume_ratios(vols)
    pct = subregion_percentages(vols)
    elapsed = time.perf_counter() - t0

    # correctness spot check against a direct count
    lab = bank[0]
    assert np.isclose(vols.iloc[0]["WT"], np.count_nonzero(lab) / 1000)
    print(f"cores available: {os.cpu_count()}, joblib workers: {args.jobs}")
    print(f"bank of {args.bank} maps {shape} uint8 generated in {t_gen:.1f} s (not timed)")
    if tmpdir is not None:
        tmpdir.cleanup()
    source = "read from .nii.gz files" if args.from_nifti else "in memory"
    print(f"{args.n} label maps {shape} ({source}): volumes + ratios + percentages in {elapsed:.2f} s "
          f"({1000 * elapsed / args.n:.1f} ms per map; {ratios.shape[1]} ratios, {pct.shape[1]} percentages)")
    print("target: 1,000 maps of 128^3 in < 60 s on 2 cores ->", "PASS" if (args.n >= 1000 and elapsed < 60) else "n/a" if args.n < 1000 else "FAIL")


if __name__ == "__main__":
    main()
