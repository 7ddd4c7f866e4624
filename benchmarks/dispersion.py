"""Speed and memory of the classic edgeR pipeline (dispersion + exact test) vs pydeseq2,
and of the GLM path (Cox-Reid dispersions, GLM LRT) vs edgeR itself.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/dispersion.py                 # both sizes
    OMP_NUM_THREADS=1 python benchmarks/dispersion.py --sizes 20000x100 --no-deseq2-large
    # GLM path next to edgeR (estimateDisp; glmFit + glmLRT) on the same matrices, and the
    # joint-selection fit (class x 8 imaging features design, 15000 genes x 51 samples):
    OMP_NUM_THREADS=1 python benchmarks/dispersion.py --glm --sizes 20000x100 --joint 15000x51

``--glm`` times ``estimate_dispersion(method="glm")`` and
``differential_expression(method="lrt")`` (TMM included) in fresh child processes, and
edgeR's ``calcNormFactors`` + ``estimateDisp`` and ``glmFit`` + ``glmLRT`` in ``Rscript``
on the same simulated counts (written to a temporary CSV; reading it is not timed) in the
same run: ours before and after edgeR, averaged (both times are printed; the load average
at start and end too); it says so and skips edgeR when ``Rscript`` with edgeR is not
installed (``apt-get install r-base-core r-bioc-edger``). ``--joint GxN`` times the
joint gene selection's fit: dispersions on the full design (class intercepts, 8 features,
8 class-by-feature interactions) and the LRT against the features-only design
(:func:`radiogenomics.glm.glm_lrt`), next to edgeR doing the same.

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
    grp = (np.arange(n_samples) >= n_samples // 2).astype(int)
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


def joint_designs(y, seed: int = 3):
    """Full (class intercepts, 8 features, 8 class-by-feature interactions) and reduced
    (intercept, 8 features) designs of the joint selection, features N(0, 1)."""
    import numpy as np

    n = len(y)
    F = np.random.default_rng(seed).normal(size=(n, 8))
    b = (np.asarray(y) == "b").astype(float)
    full = np.column_stack([1 - b, b, F, F * b[:, None]])
    reduced = np.column_stack([np.ones(n), F])
    return full, reduced


def _ours_glm(counts, y):
    from radiogenomics.dispersion import estimate_dispersion

    return estimate_dispersion(counts, groups=y, method="glm")


def _ours_lrt(counts, y):
    from radiogenomics.de import differential_expression

    return differential_expression(counts, y, method="lrt")


def _ours_joint(counts, y):
    import numpy as np

    from radiogenomics.dispersion import estimate_dispersion
    from radiogenomics.glm import glm_lrt

    full, reduced = joint_designs(y)
    res = estimate_dispersion(counts, design=full, method="glm")
    return glm_lrt(counts, full, reduced, res.tagwise, np.log(res.lib_size.to_numpy()))


_FUNCS = {"ours": _ours, "glm": _ours_glm, "lrt": _ours_lrt, "joint": _ours_joint}


def _child(which: str, n_genes: int, n_samples: int, trace: bool, q: mp.Queue) -> None:
    os.setpgrp()  # its own process group: a timeout ends pydeseq2's joblib workers too
    counts, y = simulate(n_genes, n_samples)
    fn = _FUNCS.get(which, _pydeseq2)
    if which in _FUNCS:  # warm the imports and the compiled kernels outside the timing
        fn(*simulate(300, max(n_samples, 20) if which == "joint" else 8, seed=2))
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


_R_SCRIPT = r"""
suppressPackageStartupMessages(library(edgeR))
a <- commandArgs(trailingOnly = TRUE)
cnt <- as.matrix(read.csv(a[1], row.names = 1, check.names = FALSE))
X <- as.matrix(read.csv(a[2], check.names = FALSE))
X0 <- as.matrix(read.csv(a[3], check.names = FALSE))
t_disp <- system.time({y <- calcNormFactors(DGEList(cnt)); y <- estimateDisp(y, X)})[["elapsed"]]
t_lrt <- system.time({fit <- glmFit(y, X)
  if (ncol(X0) == 1) lrt <- glmLRT(fit, coef = 2:ncol(X)) else {
    fit0 <- glmFit(y$counts, X0, offset = getOffset(y), dispersion = y$tagwise.dispersion,
                   prior.count = 0)
    LR <- fit0$deviance - fit$deviance}})[["elapsed"]]
cat(sprintf("%.6f %.6f %.10g\n", t_disp, t_lrt, y$common.dispersion))
"""


def edger_available() -> bool:
    """Whether ``Rscript`` runs and loads edgeR."""
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        return False
    r = subprocess.run(["Rscript", "-e", "suppressPackageStartupMessages(library(edgeR))"],
                       capture_output=True, text=True)
    return r.returncode == 0


def measure_edger(n_genes: int, n_samples: int, joint: bool) -> tuple[float, float, float]:
    """edgeR's (calcNormFactors + estimateDisp, glmFit + glmLRT) elapsed seconds and common
    dispersion on the simulated counts (group design, or the joint designs)."""
    import subprocess
    import tempfile

    import numpy as np
    import pandas as pd

    counts, y = simulate(n_genes, n_samples)
    if joint:
        full, reduced = joint_designs(y)
    else:
        full = np.column_stack([np.ones(n_samples), (y == "b").to_numpy(float)])
        reduced = full[:, :1]
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, f) for f in ("run.R", "counts.csv", "x.csv", "x0.csv")]
        with open(paths[0], "w") as fh:
            fh.write(_R_SCRIPT)
        counts.T.to_csv(paths[1])
        pd.DataFrame(full).to_csv(paths[2], index=False)
        pd.DataFrame(reduced).to_csv(paths[3], index=False)
        out = subprocess.run(["Rscript", *paths], capture_output=True, text=True, check=True)
    t_disp, t_lrt, common = (float(v) for v in out.stdout.split()[-3:])
    return t_disp, t_lrt, common


def glm_comparison(sizes: list[tuple[int, int]], joint: list[tuple[int, int]]) -> None:
    """Print ours and edgeR's times for the GLM path, measured one after the other."""
    gib = 1024**3
    have_r = edger_available()
    if not have_r:
        print("\nRscript with edgeR is not installed: edgeR's times are not measured "
              "(apt-get install r-base-core r-bioc-edger)")
    # ours is timed before and after edgeR and the two times averaged, so that a change
    # of the machine's load during the run affects both sides alike
    def ours(which: str, g: int, n: int) -> tuple[float, float]:
        wall, _, rss = measure(which, g, n, trace=False)
        return wall, rss

    for g, n in sizes:
        print(f"\n== GLM path, {g} genes x {n} samples, two groups")
        runs = [ours("glm", g, n), ours("lrt", g, n)]
        if have_r:
            t_disp, t_lrt, _ = measure_edger(g, n, joint=False)
            runs += [ours("glm", g, n), ours("lrt", g, n)]
        wall = sum(r[0] for r in runs[::2]) / len(runs[::2])
        lwall = sum(r[0] for r in runs[1::2]) / len(runs[1::2])
        each = " / ".join(f"{r[0]:.2f}" for r in runs[::2])
        leach = " / ".join(f"{r[0]:.2f}" for r in runs[1::2])
        print(f"ours  estimate_dispersion(method='glm'):        {wall:8.2f} s   ({each})   "
              f"process max RSS {runs[0][1] / gib:5.2f} GiB")
        print(f"ours  differential_expression(method='lrt'):   {lwall:8.2f} s   ({leach})   "
              f"process max RSS {runs[1][1] / gib:5.2f} GiB")
        if have_r:
            print(f"edgeR calcNormFactors + estimateDisp:          {t_disp:8.2f} s   "
                  f"-> ours {t_disp / wall:5.1f}x faster")
            print(f"edgeR  ... + glmFit + glmLRT:                  {t_disp + t_lrt:8.2f} s   "
                  f"-> ours {(t_disp + t_lrt) / lwall:5.1f}x faster")
    for g, n in joint:
        print(f"\n== joint selection fit, {g} genes x {n} samples, class x 8 features "
              "(18 columns) against the 8 features (9 columns)")
        runs = [ours("joint", g, n)]
        if have_r:
            t_disp, t_lrt, _ = measure_edger(g, n, joint=True)
            runs.append(ours("joint", g, n))
        wall = sum(r[0] for r in runs) / len(runs)
        each = " / ".join(f"{r[0]:.2f}" for r in runs)
        print(f"ours  estimate_dispersion(design) + glm_lrt:   {wall:8.2f} s   ({each})   "
              f"process max RSS {runs[0][1] / gib:5.2f} GiB")
        if have_r:
            print(f"edgeR estimateDisp(design) + 2 x glmFit:       {t_disp + t_lrt:8.2f} s   "
                  f"-> ours {(t_disp + t_lrt) / wall:5.1f}x faster")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20000x100,60000x500",
                    help="comma-separated GENESxSAMPLES (default: %(default)s)")
    ap.add_argument("--deseq2-large", action="store_true",
                    help="also run pydeseq2 on sizes with more than 100 samples (hours)")
    ap.add_argument("--deseq2-timeout", type=float, default=900.0,
                    help="give up on a pydeseq2 run after this many seconds (default %(default)s)")
    ap.add_argument("--glm", action="store_true",
                    help="time the GLM path (method='glm', method='lrt') next to edgeR "
                         "instead of the classic path")
    ap.add_argument("--joint", default="",
                    help="with --glm: GENESxSAMPLES of the joint-selection fit, e.g. 15000x51")
    args = ap.parse_args(argv)
    gib = 1024**3
    import numba

    def parse(spec: str) -> list[tuple[int, int]]:
        return [tuple(int(v) for v in s.lower().split("x")) for s in spec.split(",") if s]

    if args.glm:
        print(f"python {sys.version.split()[0]}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
              f", {os.cpu_count()} cores: ours on {numba.config.NUMBA_NUM_THREADS} numba "
              "threads, edgeR single-threaded")
        print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f}")
        glm_comparison(parse(args.sizes), parse(args.joint))
        print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f} (other processes "
              "share the cores: compare the ratios of one run)")
        return

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
