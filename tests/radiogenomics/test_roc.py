"""ROC AUC and DeLong CI against pROC 1.18 and closed forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.roc import delong_placements, roc

DATA = Path(__file__).resolve().parents[1] / "data" / "nomogram"


def test_auc_delong_equals_proc_ich():
    """R::

        r <- roc(cohort$poor, predict(fit, type = "fitted"), levels = c(0, 1), direction = "<")
        auc(r); ci.auc(r, method = "delong")          # proc_auc_delong.csv
    """
    y = pd.read_csv(DATA / "ich" / "cohort.csv")["poor"].to_numpy()
    p = pd.read_csv(DATA / "ich" / "fitted_probs_all.csv")["fitted_prob"].to_numpy()
    ref = pd.read_csv(DATA / "ich" / "proc_auc_delong.csv").iloc[0]
    r = roc(y, p)
    assert abs(r.auc - ref["auc"]) < 1e-9
    assert abs(r.ci[0] - ref["ci_lower"]) < 1e-9
    assert abs(r.ci[1] - ref["ci_upper"]) < 1e-9
    assert (r.n_cases, r.n_controls) == (ref["n_cases"], ref["n_controls"])


def test_auc_delong_equals_proc_birthwt():
    """R::

        r <- roc(d$low, plogis(lp), quiet = TRUE, direction = "<", levels = c(0, 1))
        ci.auc(r, method = "delong")                  # birthwt auc.csv
    """
    d = pd.read_csv(DATA / "birthwt" / "per_row.csv")
    ref = pd.read_csv(DATA / "birthwt" / "auc.csv").iloc[0]
    r = roc(d["y"], d["prob"])
    assert abs(r.auc - ref["auc"]) < 1e-9
    assert abs(r.ci[0] - ref["lo"]) < 1e-9 and abs(r.ci[1] - ref["hi"]) < 1e-9


def test_placements_brute_force_with_ties():
    rng = np.random.default_rng(0)
    cases = rng.integers(0, 5, 30).astype(float)
    controls = rng.integers(0, 4, 25).astype(float)
    psi = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
    auc, v10, v01 = delong_placements(cases, controls)
    assert auc == pytest.approx(psi.mean())
    np.testing.assert_allclose(v10, psi.mean(axis=1))
    np.testing.assert_allclose(v01, psi.mean(axis=0))


def test_perfect_and_bad_input():
    r = roc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert r.auc == 1.0 and r.ci == (1.0, 1.0)
    with pytest.raises(ValueError, match="0/1"):
        roc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both cases"):
        roc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        roc([0, 1], [np.nan, 0.2])


def test_plot_and_curve():
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    r = roc(y, y + rng.normal(0, 1, 100))
    c = r.to_frame()
    assert c["sensitivity"].iloc[0] == 1.0 and c["specificity"].iloc[-1] == 1.0
    ax = r.plot()
    assert ax.get_xlabel().startswith("1")
