"""Speed and memory of the classic edgeR pipeline (dispersion + exact test) vs pydeseq2.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/dispersion.py                 # both sizes
    OMP_NUM_THREADS=1 python benchmarks/dispersion.py --sizes 20000x100 --no-deseq2-large

Each measurement runs in a fresh child process (spawned), which simulates the NB counts
from a fixed seed, then times one call. Both sides use every core: our compiled kernels run
on numba's threads (warmed on a small matrix first: a fresh environment compiles them once,
about 15 s, and caches them on disk), pydeseq2 with ``n_cpus`` = the number of cores. Reported: wall time of the call, peak memory of the
call measured by ``tracemalloc`` (numpy buffers included) and the child's peak RSS
(``resource.ru_maxrss``, includes the interpreter, the libraries and the count matrix).

Simulation: gene means log-normal (median 40, sd of log 2), dispersion
``0.05 + 0.4 / sqrt(mean + 1)``, library scale factors U(0.7, 1.3), two equal groups,
10% of genes with a log-normal fold change.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import resource
import signal
import sys
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")


def simulate(n_genes: int, n_samples: int, seed: int = 1):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    mean = np.exp(rng.normal(np.log(40), 2.0, n_genes))
    phi = 0.05 + 0.4 / np.sqrt(mean + 1)
    lib = rng.uniform(0.7, 1.3, n_samples)
    grp = np.repeat([0, 1], n_samples // 2)
    fc = np.where(rng.random(n_genes) < 0.1, np.exp(rng.normal(0, 1, n_genes)), 1.0)
    counts = np.empty((n_samples, n_genes), dtype=np.int64)
    for i in range(n_samples):  # loop over samples keeps the simulation's memory low
        mu = mean * lib[i] * (fc if grp[i] else 1.0)
        counts[i] = rng.negative_binomial(1 / phi, 1 / (1 + phi * mu))
    df = pd.DataFrame(counts, index=[f"s{i}" for i in range(n_samples)],
                      columns=[f"g{j}" for j in range(n_genes)])
    y = pd.Series(np.where(grp == 1, "b", "a"), index=df.index)
    return df, y


def _ours(counts, y):
    from radiogenomics.de import differential_expression
    from radiogenomics.dispersion import estimate_dispersion

    res = estimate_dispersion(counts, groups=y, method="classic")
    return differential_expression(counts, y, method="exact", dispersion=res)


DESEQ2_CPUS = os.cpu_count() or 1


def _pydeseq2(counts, y):
    import warnings

    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference

    meta = pd_frame(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(counts=counts, metadata=meta, design="~condition", quiet=True,
                           inference=DefaultInference(n_cpus=DESEQ2_CPUS))
        dds.deseq2()
    return dds


def pd_frame(y):
    import pandas as pd

    return pd.DataFrame({"condition": y.astype(str)})


def _child(which: str, n_genes: int, n_samples: int, trace: bool, q: mp.Queue) -> None:
    os.setpgrp()  # its own process group: a timeout ends pydeseq2's joblib workers too
    counts, y = simulate(n_genes, n_samples)
    fn = _ours if which == "ours" else _pydeseq2
    if which == "ours":  # warm the imports and the compiled kernels outside the timing
        _ours(*simulate(300, 8, seed=2))
    else:
        import pydeseq2.dds  # noqa: F401
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    fn(counts, y)
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if trace else float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    q.put((wall, peak, rss))


def measure(which: str, n_genes: int, n_samples: int, trace: bool,
            timeout: float | None = None) -> tuple[float, float, float] | None:
    """Run one measurement in a spawned child; ``None`` if it has not answered within
    ``timeout`` seconds (the child's process group, its workers included, is then ended)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(which, n_genes, n_samples, trace, q))
    p.start()
    try:
        out = q.get(timeout=timeout)
    except queue.Empty:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        p.join()
        return None
    p.join()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20000x100,60000x500",
                    help="comma-separated GENESxSAMPLES (default: %(default)s)")
    ap.add_argument("--deseq2-large", action="store_true",
                    help="also run pydeseq2 on sizes with more than 100 samples (hours)")
    ap.add_argument("--deseq2-timeout", type=float, default=900.0,
                    help="give up on a pydeseq2 run after this many seconds (default %(default)s)")
    args = ap.parse_args(argv)
    gib = 1024**3
    import numba

    print(f"python {sys.version.split()[0]}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, "
          f"{os.cpu_count()} cores: ours on {numba.config.NUMBA_NUM_THREADS} numba threads, "
          f"pydeseq2 with n_cpus={DESEQ2_CPUS}")
    for size in args.sizes.split(","):
        g, n = (int(v) for v in size.lower().split("x"))
        print(f"\n== {g} genes x {n} samples")
        wall, _, rss = measure("ours", g, n, trace=False)
        _, peak, _ = measure("ours", g, n, trace=True)
        print(f"ours  classic dispersion + exact test: {wall:8.1f} s   "
              f"tracemalloc peak {peak / gib:5.2f} GiB   process max RSS {rss / gib:5.2f} GiB")
        if n <= 100 or args.deseq2_large:
            res = measure("deseq2", g, n, trace=False, timeout=args.deseq2_timeout)
            if res is None:  # seen on this machine: loky workers left idle, no progress
                print(f"pydeseq2 deseq2() did not finish in {args.deseq2_timeout:g} s "
                      "(stalled joblib workers?); rerun for its time")
                continue
            dwall, _, drss = res
            print(f"pydeseq2 deseq2() (n_cpus={DESEQ2_CPUS}):       {dwall:8.1f} s   "
                  f"process max RSS {drss / gib:5.2f} GiB")
            print(f"speed-up ours vs pydeseq2: {dwall / wall:6.1f}x")
        else:
            print("pydeseq2 skipped at this size (its per-gene optimisation would take hours "
                  "on one core); pass --deseq2-large to run it")


if __name__ == "__main__":
    main()
