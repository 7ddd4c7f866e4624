"""Synthetic intracerebral-haemorrhage (ICH) cohort for the nomogram demo and tests.

**Synthetic data.** No patient data are involved: every column is drawn from a simple
parametric model whose marginals approximate the haemorrhage-expansion paper's Tables 1-2
(mean age ~61 y, median GCS 14, initial volume median ~19 mL with IQR ~11-33 mL, ~70% deep /
~21% lobar / ~9% infratentorial location, ~24% expansion, surface-regularity (SR) index
~0.54, lateral (LR) diameter change ~1.9 +- 9 mm).  The outcome ``poor`` (GOS <= 3) comes
from a logistic model in which the lateral diameter change has the paper's odds ratio of
1.139 per mm (coefficient 0.13 = log 1.139).

The generating design is the one of ``scripts/nomogram.R`` (shared reference,
``SPLITS_SURVIVAL_NOMOGRAM.md`` section 3); numpy's generator cannot reproduce R's draws,
so tests that compare with R use the cohort R simulated (``tests/data/nomogram/cohort.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit

__all__ = ["simulate_ich_cohort", "TRUE_COEFFICIENTS"]

#: true log-odds coefficients of the outcome model (intercept solved for 50% prevalence)
TRUE_COEFFICIENTS = {
    "age": 0.03,
    "gcs": -0.35,
    "log_volume_ml": 0.6,
    "location=lobar": 0.2,
    "location=subtentorial": 0.4,
    "expansion": 0.8,
    "sr_index": -1.0,
    "lr_change_mm": 0.13,
}


def simulate_ich_cohort(n: int = 1094, random_state=None) -> pd.DataFrame:
    """Simulate a synthetic ICH cohort of ``n`` patients (clearly **synthetic**).

    Columns (drawn in this order for the core model, as in the R script)::

        age          = clip(N(61, 13), 18, 95)
        gcs          = max(3, 15 - NegBin(size=0.5, mu=2))          (median 14)
        volume_ml    = exp(N(log 20, 0.85))                          (IQR ~ 11-33 mL)
        location     ~ {deep .70, lobar .215, subtentorial .085}
        expansion    ~ Bernoulli(.24)        (>= 6 mL or >= 33% growth)
        sr_index     = clip(N(.54, .10), .2, .95)
        lr_change_mm = N(1.9, 9)
        lp0 = .03 age - .35 gcs + .6 log(volume) + .2 lobar + .4 subtent + .8 expansion
              - 1.0 sr_index + .13 lr_change_mm
        poor ~ Bernoulli(expit(b0 + lp0)),  mean(expit(b0 + lp0)) = 0.5

    then descriptive extras not used by the outcome: ``sex`` (~62% male), ``ivh``
    (intraventricular extension, ~30%), ``expansion_rate_ml_h``, and the three initial
    diameters ``ap_mm``, ``lr_mm``, ``si_mm`` (an ellipsoid with
    ``volume = pi/6 * ap * lr * si`` and random elongation).

    Returns a DataFrame with ``attrs["synthetic"] = True``.
    """
    if int(n) < 20:
        raise ValueError(f"n must be at least 20, got {n}")
    n = int(n)
    rng = np.random.default_rng(random_state)
    age = np.clip(rng.normal(61, 13, n), 18, 95)
    size, mu = 0.5, 2.0
    gcs = np.maximum(3, 15 - rng.negative_binomial(size, size / (size + mu), n)).astype(int)
    volume = np.exp(rng.normal(np.log(20), 0.85, n))
    location = rng.choice(np.array(["deep", "lobar", "subtentorial"]), size=n, p=[0.70, 0.215, 0.085])
    expansion = rng.binomial(1, 0.24, n)
    sr = np.clip(rng.normal(0.54, 0.10, n), 0.2, 0.95)
    lr_change = rng.normal(1.9, 9.0, n)
    c = TRUE_COEFFICIENTS
    lp0 = (c["age"] * age + c["gcs"] * gcs + c["log_volume_ml"] * np.log(volume)
           + c["location=lobar"] * (location == "lobar")
           + c["location=subtentorial"] * (location == "subtentorial")
           + c["expansion"] * expansion + c["sr_index"] * sr + c["lr_change_mm"] * lr_change)
    b0 = optimize.brentq(lambda b: expit(b + lp0).mean() - 0.5, -50, 50, xtol=1e-12)
    poor = rng.binomial(1, expit(b0 + lp0))
    # descriptive extras (do not enter the outcome model)
    sex = np.where(rng.random(n) < 0.62, "male", "female")
    ivh = rng.binomial(1, 0.30, n)
    elong = np.exp(rng.normal(0.0, 0.2, (n, 3)))
    elong /= np.cbrt(elong.prod(axis=1))[:, None]
    d0 = np.cbrt(6.0 * volume * 1000.0 / np.pi)  # sphere diameter in mm (1 mL = 1000 mm^3)
    ap, lr, si = (d0[:, None] * elong).T
    rate = np.where(expansion == 1, rng.gamma(2.0, 1.5, n), rng.gamma(1.0, 0.3, n))
    df = pd.DataFrame({
        "id": np.arange(1, n + 1),
        "age": age,
        "sex": sex,
        "gcs": gcs,
        "volume_ml": volume,
        "location": location,
        "ivh": ivh,
        "expansion": expansion,
        "expansion_rate_ml_h": rate,
        "sr_index": sr,
        "ap_mm": ap,
        "lr_mm": lr,
        "si_mm": si,
        "lr_change_mm": lr_change,
        "poor": poor,
    })
    df.attrs["synthetic"] = True
    df.attrs["description"] = "SYNTHETIC intracerebral haemorrhage cohort (radiogenomics.datasets.simulate_ich_cohort)"
    df.attrs["intercept_b0"] = float(b0)
    return df
