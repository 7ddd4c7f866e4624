"""Small stand-in estimators for the evaluation tests (the real classifiers are tested elsewhere)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class LogCountLR(ClassifierMixin, BaseEstimator):
    """Logistic regression on log counts of the top ``n_genes`` genes (t-like score), chosen in fit."""

    def __init__(self, n_genes=10, C=1.0, random_state=None):
        self.n_genes = n_genes
        self.C = C
        self.random_state = random_state

    def fit(self, X, y, features=None):
        L = np.log1p(np.asarray(X, dtype=float))
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        a, b = L[y == self.classes_[0]].mean(0), L[y == self.classes_[1]].mean(0)
        score = np.abs(a - b) / (L.std(0) + 1e-3)
        self.genes_ = np.argsort(-score, kind="stable")[: self.n_genes]
        Z = L[:, self.genes_]
        self.mu_, self.sd_ = Z.mean(0), Z.std(0) + 1e-6
        self.lr_ = LogisticRegression(C=self.C).fit((Z - self.mu_) / self.sd_, y)
        return self

    def _z(self, X):
        return (np.log1p(np.asarray(X, dtype=float))[:, self.genes_] - self.mu_) / self.sd_

    def predict(self, X, features=None):
        return self.lr_.predict(self._z(X))

    def predict_proba(self, X, features=None):
        return self.lr_.predict_proba(self._z(X))


class RandomGuess(ClassifierMixin, BaseEstimator):
    """Uses its random_state: predictions depend only on the seed (tests seeding)."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_ = np.unique(np.asarray(y))
        return self

    def decision_function(self, X):
        rng = np.random.default_rng(self.random_state)
        return rng.normal(size=len(X))

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class Spy(LogCountLR):
    """Records the sample ids seen by fit and predict (class-level log, in-process runs)."""

    log: list = []

    def fit(self, X, y, features=None):
        Spy.log.append(("fit", tuple(X.index), None if features is None else tuple(features.index),
                        tuple(y.index)))
        return super().fit(X, y)

    def predict(self, X, features=None):
        Spy.log.append(("predict", tuple(X.index), None if features is None else tuple(features.index), ()))
        return super().predict(X)


def cohort(n=60, p=200, n_signal=5, effect=15, seed=1, minority=20):
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in range(n)]
    y = pd.Series(np.r_[["WT"] * minority, ["Mutant"] * (n - minority)], index=ids, name="IDH")
    X = pd.DataFrame(rng.poisson(20, (n, p)), index=ids, columns=[f"g{j}" for j in range(p)])
    X.iloc[:, :n_signal] += (y.to_numpy() == "Mutant")[:, None] * effect
    F = pd.DataFrame(rng.normal(size=(n, 3)), index=ids, columns=["r1", "r2", "r3"])
    sex = pd.Series(rng.permutation(np.r_[["female"] * (n // 2), ["male"] * (n - n // 2)]), index=ids, name="sex")
    return X, y, F, sex
