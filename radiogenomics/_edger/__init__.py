"""The edgeR engine: array-only primitives (numpy / numba, no pandas), one of each.

Arrays are genes x samples (edgeR's orientation). The public, pandas-facing layers are
:mod:`radiogenomics.dispersion`, :mod:`radiogenomics.de`, :mod:`radiogenomics.glm` and
:mod:`radiogenomics.voom`; they call these modules:

- :mod:`.special` — incomplete gamma tails, gamma quantiles, ``q2qnbinom`` (compiled);
- :mod:`.classic` — one-group rows, conditional log-likelihood grid, exact-test tails (compiled);
- :mod:`.qcml` — the classic (qCML) dispersion: pseudo-counts, Brent, moving average, common, tagwise;
- :mod:`.tmm` — TMM normalisation factors (compiled);
- :mod:`.nbglm` — NB unit deviance, one-group / oneway / Levenberg fits (compiled);
- :mod:`.apl` — Cox-Reid APL grid fused with the fits, ``glmFit`` rows (compiled);
- :mod:`.irls` — the penalised NB IRLS of :func:`radiogenomics.glm.nb_glm_fit` (compiled);
- :mod:`.design` — oneway layout, block structure, R's ``qr()`` columns, residual df;
- :mod:`.fit` — ``glmFit``, ``adjustedProfileLik``, ``aveLogCPM`` over the kernels;
- :mod:`.smooth` — FMM spline maximiser, degree-0 locfit, natural spline basis;
- :mod:`.limma` — limma's ``fitFDist`` (prior degrees of freedom);
- :mod:`.stats` — Benjamini-Hochberg adjustment.
"""
