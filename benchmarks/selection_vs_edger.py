"""The benchmark's gene selection next to edgeR on the same training splits: agreement and
speed.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/selection_vs_edger.py            # 3 targets x 2 splits
    OMP_NUM_THREADS=1 python benchmarks/selection_vs_edger.py --splits 5

Every split is an outer training split of the default cohort as the benchmark draws it
(51 of the 64 patients of ``load_lgg_radiogenomics()``, quantile filter q = 0.25, about
7,600 genes). On it, :func:`radiogenomics.de.differential_expression` (``method="exact"``:
TMM, ``estimateCommonDisp``, ``estimateTagwiseDisp``, ``exactTest``) runs on one core, and
edgeR does the same in ``Rscript`` on the same counts (written to a temporary CSV; reading
it is not timed). Printed per split: the largest relative difference of the tagwise
dispersions and of the p-values, whether the top 10 genes (the benchmark's selection) and
the top 150 (the gene sweep's largest) are the same genes in the same order, and both
times. Needs ``Rscript`` with edgeR (``apt-get install r-base-core r-bioc-edger``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

_R = r"""
suppressPackageStartupMessages(library(edgeR))
args <- commandArgs(trailingOnly = TRUE)
x <- as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE))
g <- factor(read.csv(args[2], row.names = 1)[, 1])
el <- system.time({
  d <- DGEList(x, group = g)
  d <- calcNormFactors(d)
  d <- estimateCommonDisp(d)
  d <- estimateTagwiseDisp(d)
  et <- exactTest(d)
})[["elapsed"]]
write.csv(data.frame(gene = rownames(et$table), PValue = et$table$PValue,
                     tagwise = d$tagwise.dispersion), args[3], row.names = FALSE)
cat(sprintf("%.6f\n", el))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, default=2, help="splits per target (default 2)")
    args = ap.parse_args()

    import numba
    import numpy as np
    import pandas as pd

    from radiogenomics.counts import quantile_filter
    from radiogenomics.datasets import load_lgg_radiogenomics
    from radiogenomics.de import differential_expression, uncached

    numba.set_num_threads(1)
    if subprocess.run(["Rscript", "-e", "suppressPackageStartupMessages(library(edgeR))"],
                      capture_output=True).returncode != 0:
        sys.exit("Rscript with edgeR is needed (apt-get install r-base-core r-bioc-edger)")
    data = load_lgg_radiogenomics()
    n = len(data.counts)
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "run.R")
        with open(script, "w") as fh:
            fh.write(_R)
        for target in ("IDH", "codel_1p19q", "ATRX"):
            for seed in range(args.splits):
                rows = np.random.default_rng(seed).choice(n, 51, replace=False)
                counts = quantile_filter(data.counts.iloc[rows], 0.25)
                y = data.labels[target].iloc[rows]
                with uncached():
                    differential_expression(counts, y)  # kernels compiled / loaded
                    t0 = time.perf_counter()
                    ours = differential_expression(counts, y)
                    t_ours = time.perf_counter() - t0
                paths = [os.path.join(tmp, f) for f in ("x.csv", "y.csv", "out.csv")]
                counts.T.to_csv(paths[0])
                y.astype(str).to_csv(paths[1])
                out = subprocess.run(["Rscript", script, *paths], capture_output=True,
                                     text=True, check=True)
                t_r = float(out.stdout.split()[-1])
                ref = pd.read_csv(paths[2], index_col=0)
                mine = ours.loc[ref.index]
                d_rel = np.max(np.abs(mine["dispersion"] - ref["tagwise"]) / ref["tagwise"])
                p_rel = np.max(np.abs(mine["pvalue"] - ref["PValue"]) / ref["PValue"])
                order = ref.sort_values("PValue", kind="mergesort").index  # topTags order
                top10 = list(ours.index[:10]) == list(order[:10])
                top150 = list(ours.index[:150]) == list(order[:150])
                ratios.append(t_r / t_ours)
                print(f"{target:12s} split {seed}: {counts.shape[0]} x {counts.shape[1]}  "
                      f"tagwise rel diff {d_rel:.1e}  p rel diff {p_rel:.1e}  "
                      f"top 10 same {top10}  top 150 same {top150}  "
                      f"ours {t_ours:.2f} s, edgeR {t_r:.2f} s ({t_r / t_ours:.1f}x)")
    print(f"median speed-up over edgeR (one core each): {np.median(ratios):.1f}x")


if __name__ == "__main__":
    main()
