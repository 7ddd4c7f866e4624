"""Time the default ``radiogenomics benchmark`` end to end (target: at most 10 minutes on 2 cores).

Usage::

    python benchmarks/benchmark_default.py                  # the default command, timed
    python benchmarks/benchmark_default.py --sections codel_1p19q --repeats 10
                                                            # per-section wall times of one target
    python benchmarks/benchmark_default.py --selection      # one edgeR gene selection, one core

The default command is the paper's protocol on the bundled semi-synthetic (plasmode)
TCGA-LGG cohort (64 x 10,101): 3 targets x 5 methods x 100 splits at 10 genes (nested
tuning: 1 outer + 3 inner gene selections per split), the radiogenomics-NB gene sweep and
female-only / male-only models on 25 splits each, and the HTML report. The machine is
shared, so the script samples the load average (``os.getloadavg``) every 10 s while the
command runs and prints its mean and maximum next to the wall time; a time measured under a
load above the number of cores is an upper bound.

``--sections`` times each section of one target separately in this process
(:func:`radiogenomics.evaluation.build_protocol`), with each method's summed fit and
predict seconds from the engine's timings.

``--selection`` times what most of the run is made of: one edgeR gene selection
(quantile filter, TMM, ``estimateCommonDisp``, ``estimateTagwiseDisp``, ``exactTest``) on
one core, on an outer training split of the default cohort (51 x 10,101, IDH), with the
seconds of its compiled kernels.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _full(cores: int, limit: float, extra: list[str]) -> None:
    loads: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            loads.append(os.getloadavg()[0])
            stop.wait(10)

    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "radiogenomics", "benchmark", "--jobs", str(cores),
               "--out", str(Path(tmp) / "report"), "--no-progress", *extra]
        print("+", " ".join(cmd), flush=True)
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        t = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, env=env)
            wall = time.perf_counter() - t
            print(proc.stdout.strip() or proc.stderr.strip()[-2000:])
            status = f"rc {proc.returncode}"
        except subprocess.TimeoutExpired:
            wall = time.perf_counter() - t
            status = "stopped at the time limit"
        stop.set()
        thread.join()
    mean = sum(loads) / max(1, len(loads))
    print(f"default command: {wall:.1f} s wall = {wall / 60:.1f} min ({status}); "
          f"load average during the run: mean {mean:.2f}, max {max(loads, default=0):.2f} "
          f"on {os.cpu_count()} cores; target <= 600 s")


def _sections(target: str, repeats: int, cores: int) -> None:
    from radiogenomics.evaluation import build_protocol

    plan = build_protocol(targets=[target], n_repeats=repeats, n_jobs=cores, progress=False)
    for sec in plan.sections:
        t0 = time.perf_counter()
        res = sec.bench.run(sec.counts, sec.y, sec.features, stratify_by=sec.strata)
        wall = time.perf_counter() - t0
        tm = res.timings.groupby("method")[["fit_seconds", "predict_seconds"]].sum()
        print(f"{sec.name}: {wall:.1f} s wall, {res.scores['repeat'].nunique()} splits")
        print(tm.round(1).to_string())


def _selection(repeats: int) -> None:
    import cProfile
    import pstats

    import numba
    import numpy as np

    from radiogenomics.counts import quantile_filter
    from radiogenomics.datasets import load_lgg_radiogenomics
    from radiogenomics.de import differential_expression, uncached

    numba.set_num_threads(1)
    data = load_lgg_radiogenomics()
    rows = np.random.default_rng(0).choice(len(data.counts), 51, replace=False)
    counts = quantile_filter(data.counts.iloc[rows], 0.25)
    y = data.labels["IDH"].iloc[rows]
    with uncached():
        differential_expression(counts, y)  # compile / load the kernels
        t = time.perf_counter()
        for _ in range(repeats):
            differential_expression(counts, y)
        wall = (time.perf_counter() - t) / repeats
        prof = cProfile.Profile()
        prof.runcall(differential_expression, counts, y)
    print(f"one gene selection, {counts.shape[0]} x {counts.shape[1]} genes, one core: "
          f"{wall:.3f} s (mean of {repeats})")
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    kernels = {}
    for (path, _, name), (_, _, tottime, _, _) in stats.items():
        if "_edger" in path or name == "exact_test_double_tail":
            kernels[name] = kernels.get(name, 0.0) + tottime
    for name, sec in sorted(kernels.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  {name:28s} {sec:.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--limit", type=float, default=3600, help="time limit of the command (s)")
    ap.add_argument("--sections", metavar="TARGET", help="time one target's sections instead")
    ap.add_argument("--repeats", type=int, default=10,
                    help="splits of --sections; repetitions of --selection")
    ap.add_argument("--selection", action="store_true",
                    help="time one edgeR gene selection on one core instead")
    ap.add_argument("extra", nargs="*", help="further options for `radiogenomics benchmark` "
                    "(after --)")
    args = ap.parse_args()
    if args.selection:
        _selection(args.repeats)
    elif args.sections:
        _sections(args.sections, args.repeats, args.cores)
    else:
        _full(args.cores, args.limit, args.extra)


if __name__ == "__main__":
    main()
