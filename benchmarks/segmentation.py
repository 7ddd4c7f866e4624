"""Benchmark: CPU inference time of the demo U-Net on one 1×4×128³ case.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/segmentation.py [--size 128] [--model DIR] [--tta]
        [--threads 2] [--repeats 2]

A 128³ four-channel tumour phantom (:mod:`imaging.phantoms`, 1 mm) is segmented with
:func:`imaging.segmentation.inference.segment_array` — z-score normalisation, MONAI
sliding-window inference with Gaussian blending (overlap 0.5), arg-max — using the model
folder ``--model`` (default the shipped phantom-only demo model ``data/segmentation_demo``).
Prints the wall time of each repeat (the first includes one-off start-up costs) without
test-time augmentation and, with ``--tta``, with 8-fold mirroring. Target: < 20 s on CPU
without TTA. Runs on CUDA instead when a GPU is available (``--device`` to force).
"""

from __future__ import annotations

import argparse
import time

from imaging.phantoms import make_tumour_phantom
from imaging.segmentation.inference import DEMO_MODEL_DIR, default_device, segment_array
from imaging.segmentation.models import load_model


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--model", default=str(DEMO_MODEL_DIR))
    ap.add_argument("--tta", action="store_true", help="also time 8-fold mirroring TTA")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    config, models = load_model(args.model, device=device)
    images, _, _ = make_tumour_phantom((args.size,) * 3, (1.0, 1.0, 1.0), "brats", 0)
    print(f"model {args.model}: filters {config.filters}, window {config.window}, {len(models)} fold(s)")
    print(f"case 1x{images.shape[0]}x{args.size}^3 on {device}, {args.threads} threads")
    for tta in (False, True) if args.tta else (False,):
        for r in range(args.repeats):
            t0 = time.perf_counter()
            segment_array(images, models, config, tta=tta, device=device)
            print(f"  tta={tta!s:5} repeat {r}: {time.perf_counter() - t0:6.2f} s")


if __name__ == "__main__":
    main()
