"""The radiogenomics-NB classifier: an NB log-linear model fusing RNA-seq and imaging.

Model (DESIGN.md, "The radiogenomics-NB classifier"), for sample ``i``, selected gene ``g``
and class ``c``:

.. math::

    y_{ig} \\mid c \\sim \\mathrm{NB}(\\mu_{igc}, \\phi_g), \\quad
    \\log \\mu_{igc} = \\log s_i + b_{gc0} + x_i^\\top b_{gc},

    \\log p(c \\mid y_t, x_t) = \\sum_g \\log \\mathrm{NB}(y_{tg}; \\mu_{tgc}, \\phi_g)
    + \\log \\pi_c - \\log \\sum_{c'} (\\cdots),

with ``x_i`` the imaging features standardised with the training mean and SD, ``s_i`` size
factors against the training reference and ``phi_g`` edgeR's weighted-likelihood empirical
Bayes (tagwise) dispersions. Everything data-dependent (quantile filter, DE gene selection,
dispersions, size-factor reference, feature centring/scaling and imputation) is learned in
``fit`` from the training samples only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import HasMethods, Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._class_model import (
    SHRINKAGE_METHODS,
    class_coefficients,
    full_rank_design,
    model_design,
)
from .._validation import _show, align, as_count_frame, as_feature_frame
from ..calibration import CALIBRATION_METHODS
from ..glm import ETA_MAX, ETA_MIN, nb_logpmf
from ._base import DEPRECATED, PRIORS, CountData, ImagingClassifier
from ._imaging import ImagingFeatures
from ._nb_calibration import CalibrationMixin

logger = logging.getLogger(__name__)

__all__ = ["NBRadiogenomicsClassifier", "fit_nb_radiogenomics", "join_features", "model_design",
           "full_rank_design"]

_DE_METHODS = ("exact", "lrt", "deseq2", "joint")
_SIZE_FACTORS = ("library", "ratio", "tmm")


def join_features(counts: Any, features: Any) -> pd.DataFrame:
    """One frame ``[counts | features]`` for ``Pipeline`` / ``cross_val_score`` use.

    Pair it with ``NBRadiogenomicsClassifier(feature_columns=list(features.columns))`` (or
    :class:`~radiogenomics.classifiers.RFRadiogenomics`): the classifier splits the frame
    back into counts and imaging features in ``fit`` and in every predict-side method, so
    cross-validation splitters index both consistently.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"g1": [1, 2]}, index=["a", "b"])
    >>> f = pd.DataFrame({"ET/WT": [0.1, 0.2]}, index=["a", "b"])
    >>> list(join_features(c, f).columns)
    ['g1', 'ET/WT']
    """
    c = as_count_frame(counts)
    f = as_feature_frame(features)
    _, _, f = align(c, None, f)
    clash = c.columns.intersection(f.columns)
    if len(clash):
        raise ValueError(f"feature names clash with gene names: {_show(clash)}")
    return pd.concat([counts if isinstance(counts, pd.DataFrame) else c, f], axis=1)


class NBRadiogenomicsClassifier(CalibrationMixin, ImagingClassifier):
    """Radiogenomics-NB classifier (scikit-learn estimator).

    Parameters
    ----------
    n_genes : int, default 10
        Number of top differentially expressed genes used by the model.
    de_method : {"exact", "lrt", "deseq2", "joint"}, default "exact"
        Gene selection (:class:`radiogenomics.de.DEGeneSelector`): edgeR exact test
        (two classes, the paper), edgeR GLM LRT, pydeseq2 Wald, or ``"joint"``: the
        likelihood-ratio test of class intercepts and class x imaging slopes against the
        imaging-only model (:func:`radiogenomics._de_joint.joint_lrt`), which also finds
        genes whose class dependence acts only through imaging slopes.
    size_factors : str or SizeFactors, default "library"
        Size factors (:class:`radiogenomics.counts.SizeFactors`, in the method's home
        convention: ``"library"`` = total count over the training mean, as the paper;
        ``"ratio"`` DESeq2; ``"tmm"`` edgeR); test samples get theirs against the
        training reference. (``size_factor``, its old name, still works with a
        ``FutureWarning`` until the next release.)
    dispersion : {"classic", "glm"} or float, default "classic"
        Tagwise dispersions estimated on the quantile-filtered training counts: edgeR
        classic (weighted-likelihood empirical Bayes on the classes, the paper; ignores the
        imaging features, so imaging effects inflate it) or edgeR GLM (Cox-Reid) on the
        design of the fit itself (class intercepts and class x imaging slopes, or shared
        slopes; linearly dependent columns dropped); or one fixed value.
    slopes : {"class", "shared"}, default "class"
        ``"class"``: class-specific intercepts and imaging slopes (the paper).
        ``"shared"``: class-specific intercepts, one set of slopes per gene.
    alpha : float, default 1.0
        Ridge penalty ``alpha/2 * ||b||^2`` on imaging slopes: of every class fit when
        ``shrinkage`` is ``None`` or ``"prior-count"`` (it keeps the fits of small classes
        finite; ``0`` is the unpenalised MLE), of the pooled fit when
        ``shrinkage="normal"``.
    priors : {"equal", "proportional"}, dict or array-like, default "equal"
        Class priors ``pi_c``: equal (the paper), training proportions
        (``"empirical"`` is an alias), or given values
        (:func:`~radiogenomics.classifiers._base.resolve_priors`).
    quantile : float, default 0.25
        :func:`radiogenomics.counts.quantile_filter` threshold applied before DE selection.
    impute : {None, "median"}, default None
        Missing imaging features: ``None`` raises ``ValueError`` naming the columns and
        samples; ``"median"`` fills them with the training medians.
    feature_columns : sequence of str, optional
        Columns of ``X`` that are imaging features (the rest are gene counts); lets the
        model run on one combined frame (:func:`join_features`) inside ``Pipeline`` and
        ``cross_val_score``. Otherwise pass ``features=`` to ``fit`` and predict methods.
    shrinkage : {"normal", "prior-count", None}, default "normal"
        How the class-specific coefficients are estimated
        (:mod:`radiogenomics._class_model`). ``"normal"``: every class
        coefficient, intercept included, is the gene's pooled (all-classes) coefficient
        plus a class deviation under an empirical-Bayes normal prior ``N(0, sigma_j^2)``,
        ``sigma_j`` estimated across the selected genes (the idea of DESeq2's LFC prior):
        a class that reads zero keeps a finite mean and one read of a test sample cannot
        overturn the other genes; a 9-sample class no longer saturates its 8 slopes.
        ``"prior-count"``: edgeR-style prior counts before the paper's fits. ``None``:
        the paper's fits exactly.
    feature_transform : {None, "log", "rank"}, default None
        Transform of the imaging features learned on the training split before
        standardisation (:class:`~radiogenomics.classifiers._feature_transform.FeatureTransform`):
        ``"log"`` (``log(x + c_j)``, ``c_j`` half the smallest positive training value),
        ``"rank"`` (normal scores of the training distribution) or none (the paper).
    calibration : {None, "temperature", "platt", "isotonic"}, default None
        Calibrate ``predict_proba`` on out-of-fold predictions of ``calibration_cv``
        inner folds of the training split, every inner fold refitting the whole model
        (gene selection included). ``decision_function``, ``predict`` and ROC AUC are
        unchanged. See :meth:`calibration_summary` and :meth:`plot_calibration`.
    calibration_cv : int, default 5
        Number of inner folds of the calibration.
    random_state : int, optional
        Seed of the inner calibration folds.

    Notes
    -----
    **The paper's model** is ``shrinkage=None, feature_transform=None,
    dispersion="classic", de_method="exact"`` (``"radiogenomics-NB (paper)"`` in the
    benchmark). The defaults were chosen by measurement (``benchmarks/nb_settings.py``,
    README "Which settings when"): on LGG-shaped simulations the paper's model falls from
    0.85 balanced accuracy with 10 genes to 0.52 with 150, the default shrinkage holds
    0.99 and 0.96. Which settings when:

    - ``de_method="joint"`` when class differences may act through imaging (genes whose
      class means are equal); it costs a GLM dispersion fit per training split.
    - ``dispersion="glm"`` when imaging effects on the selected genes are strong (classic
      dispersions then absorb them); it is not better on the default cohort.
    - ``calibration="temperature"`` when probabilities are read as risks (the NB
      posterior treats genes as independent and is overconfident on real counts); it
      multiplies the fit time by ``1 + calibration_cv``.
    - ``slopes="shared"`` for very small classes.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
    genes_ : Index, shape (n_genes,)
        Selected genes, most significant first.
    dispersion_ : Series, shape (n_genes,)
        ``phi_g`` of the selected genes.
    coef_ : ndarray, shape (n_classes, n_genes, 1 + n_imaging)
        ``[b_gc0, b_gc]`` per class (natural-log scale, per training SD of each feature).
    se_ : ndarray, shape (n_classes, n_genes, 1 + n_imaging)
        Standard errors (from the penalised information when ``alpha > 0``).
    class_prior_, class_log_prior_ : ndarray, shape (n_classes,)
    size_factors_ : SizeFactors
        Fitted on the training counts.
    imaging_features_ : Index
        Imaging feature names (empty without features).
    feature_mean_, feature_scale_, impute_values_ : Series
        Training mean, SD and medians of the imaging features.
    selector_ : DEGeneSelector
    n_features_in_ : int
        Number of gene columns seen in ``fit``.
    converged_ : bool
        Whether every GLM fit converged and no linear predictor sits at the clip
        (``[-30, 40]``; a warning names the genes).
    prior_sd_ : ndarray or None
        ``sigma_j`` of the normal prior on class deviations (intercept, then slopes) with
        ``shrinkage="normal"``.
    feature_transform_ : FeatureTransform
    imaging_ : ImagingFeatures or None
        The fitted imaging-features transformer (:mod:`._imaging`).
    calibrator_ : Calibrator or None
    calibration_oof_ : DataFrame or None
        Inner-CV (out-of-fold) probabilities of the training samples, before and after
        calibration.

    Examples
    --------
    >>> from radiogenomics.datasets import simulate_radiogenomic_cohort
    >>> d = simulate_radiogenomic_cohort(n_samples=60, n_genes=200, random_state=0)
    >>> clf = NBRadiogenomicsClassifier(n_genes=10).fit(d.counts, d.y, features=d.features)
    >>> clf.predict_proba(d.counts, features=d.features).shape
    (60, 2)
    """

    _parameter_constraints: dict = {
        "n_genes": [Interval(Integral, 1, None, closed="left")],
        "de_method": [StrOptions(set(_DE_METHODS))],
        "size_factors": [str, HasMethods(["fit_array", "transform_array"])],
        "size_factor": [StrOptions(set(_SIZE_FACTORS)), Hidden(StrOptions({DEPRECATED}))],
        "dispersion": [StrOptions({"classic", "glm"}), Interval(Real, 0, None, closed="left")],
        "slopes": [StrOptions({"class", "shared"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "priors": [StrOptions(set(PRIORS)), dict, "array-like"],
        "quantile": [Interval(Real, 0, 1, closed="left")],
        "impute": [StrOptions({"median"}), None],
        "feature_columns": ["array-like", None],
        "shrinkage": [StrOptions({m for m in SHRINKAGE_METHODS if m}), None],
        "feature_transform": [StrOptions({"log", "rank"}), None],
        "calibration": [StrOptions({m for m in CALIBRATION_METHODS if m}), None],
        "calibration_cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }
    _parameter_hints = {
        "n_genes": "must be a positive integer",
        "de_method": f"must be one of {_DE_METHODS}",
        "size_factor": f"must be one of {_SIZE_FACTORS}",
        "dispersion": "must be 'classic', 'glm' or a non-negative number",
        "slopes": "must be 'class' or 'shared'",
        "alpha": "must be a non-negative number",
        "priors": "must be 'equal', 'proportional' (alias 'empirical'), a dict or class "
                  "probabilities",
        "quantile": "must lie in [0, 1)",
        "impute": "must be None or 'median'",
        "shrinkage": f"must be one of {SHRINKAGE_METHODS}",
        "feature_transform": "must be one of (None, 'log', 'rank')",
        "calibration": f"must be one of {CALIBRATION_METHODS}",
        "calibration_cv": "must be an integer >= 2",
    }
    _renamed = {"size_factor": "size_factors"}

    def __init__(
        self,
        n_genes: int = 10,
        de_method: str = "exact",
        size_factors: str = "library",
        dispersion: str | float = "classic",
        slopes: str = "class",
        alpha: float = 1.0,
        priors: str | Sequence[float] = "equal",
        quantile: float = 0.25,
        impute: str | None = None,
        feature_columns: Sequence[str] | None = None,
        shrinkage: str | None = "normal",
        feature_transform: str | None = None,
        calibration: str | None = None,
        calibration_cv: int = 5,
        random_state: int | None = None,
        size_factor: str = DEPRECATED,
    ) -> None:
        self._store_params(locals())

    # ------------------------------------------------------------------ features
    def _features(self, F: pd.DataFrame | None, n: int, *, fitting: bool) -> np.ndarray:
        """Imaging features of ``n`` samples as the model sees them
        (:class:`ImagingFeatures`): (n, p)."""
        if fitting:
            self.imaging_ = None if F is None else ImagingFeatures(
                impute=self.impute, feature_transform=self.feature_transform).fit(F)
            im = self.imaging_
            empty = pd.Series(dtype=float)
            self.imaging_features_ = pd.Index([]) if im is None else im.columns_
            self.feature_mean_ = empty if im is None else im.mean_
            self.feature_scale_ = empty if im is None else im.scale_
            self.impute_values_ = empty if im is None else im.impute_values_
            if im is not None:
                self.feature_transform_ = im.transform_
        if F is None:
            if not fitting and len(self.imaging_features_):
                raise ValueError(
                    f"the model was fitted with imaging features {_show(self.imaging_features_)}"
                    "; pass features= (or use feature_columns)")
            return np.zeros((n, 0))
        return self.imaging_.transform(F).to_numpy(dtype=float)

    # ------------------------------------------------------------------ fit
    def _fit(self, data: CountData) -> None:
        """Gene filtering, DE selection, dispersions, size-factor reference and feature
        standardisation, all on the training samples of ``data``."""
        from ..counts import as_size_factors, quantile_filter
        from ..de import DEGeneSelector
        from ..dispersion import estimate_dispersion

        counts, lab = data.counts, data.y
        assert lab is not None
        K = len(self.classes_)
        codes = np.searchsorted(self.classes_, lab.to_numpy())
        Z = self._features(data.features, len(data.counts), fitting=True)
        p = Z.shape[1]

        # size factors: training reference
        self._size_factors_spec = self._param("size_factors")
        self.size_factors_ = as_size_factors(self._size_factors_spec).fit(counts)
        log_s = np.log(self.size_factors_.factors_.to_numpy())

        # genes: quantile filter + top-k DE, on the training data only
        filtered = quantile_filter(counts, q=self.quantile)
        if filtered.shape[1] == 0:  # ties: every gene has the same mean
            filtered = counts.loc[:, counts.to_numpy().sum(axis=0) > 0]
            logger.warning("no gene passes the quantile filter (tied gene means); using all "
                           "%d non-zero genes", filtered.shape[1])
            if filtered.shape[1] == 0:
                raise ValueError("every gene has zero counts in the training samples")
        self.selector_ = DEGeneSelector(n_genes=int(self.n_genes), method=self.de_method)
        if self.de_method == "joint":  # the LRT needs the features as the model sees them
            self.selector_.fit(filtered, lab, features=Z)
        else:
            self.selector_.fit(filtered, lab)
        self.genes_ = pd.Index(self.selector_.genes_)
        self._all_genes_ = True  # test size factors use every training gene
        table = self.selector_.table_

        # dispersions
        if not isinstance(self.dispersion, str):
            phi = np.full(len(self.genes_), float(self.dispersion))
        elif (self.dispersion == "classic" and self.de_method == "exact"
              and "dispersion" in table.columns):
            # exactTest already estimated the classic tagwise dispersions on these data
            phi = table.loc[self.genes_, "dispersion"].to_numpy(dtype=float)
        elif self.dispersion == "glm" and "dispersion" in table.columns \
                and self.de_method == "joint" and self.slopes == "class":
            # the joint LRT already estimated Cox-Reid dispersions on the full design
            phi = table.loc[self.genes_, "dispersion"].to_numpy(dtype=float)
        else:
            design = None
            if self.dispersion == "glm":  # the design of the fit itself
                design = full_rank_design(model_design(codes, K, Z, self.slopes))
            res = estimate_dispersion(filtered, groups=lab, design=design,
                                      method=self.dispersion)
            phi = res.tagwise.loc[self.genes_].to_numpy(dtype=float)
        self.dispersion_ = pd.Series(phi, index=self.genes_, name="dispersion")

        # NB GLMs: class-specific coefficients (shrunk toward the pooled fit by default)
        Y = counts.loc[:, self.genes_].to_numpy()
        if self.shrinkage is None and p > 0 and self.slopes == "class":
            small = [self.classes_[k] for k in range(K) if (codes == k).sum() <= p + 1]
            if small:
                logger.warning(
                    "classes %s have <= p + 1 = %d training samples for %d class-specific "
                    "imaging slopes and shrinkage=None: their fits are (nearly) saturated; "
                    "use shrinkage='normal' or slopes='shared'", _show(small), p + 1, p)
        cf = class_coefficients(Y, Z, log_s, phi, codes, K, slopes=self.slopes,
                                alpha=float(self.alpha), shrinkage=self.shrinkage)
        converged = cf.converged
        if cf.clipped.any():
            k_idx, g_idx = np.nonzero(cf.clipped)
            logger.warning(
                "linear predictors hit the clip [%g, %g] for genes %s (classes %s): a class "
                "mean is numerically zero or infinite; use shrinkage='normal'", ETA_MIN,
                ETA_MAX, _show(self.genes_[np.unique(g_idx)]),
                _show(self.classes_[np.unique(k_idx)]))
            converged = False
        elif not converged:
            logger.warning("some NB GLM fits did not converge; see summary()")
        self.coef_, self.se_, self.converged_ = cf.coef, cf.se, converged
        self.prior_sd_ = cf.prior_sd
        self._priors(lab.to_numpy())
        self.calibrator_ = None
        self.calibration_oof_ = None
        if self.calibration is not None:
            self._fit_calibration(data, codes)

    # ------------------------------------------------------------------ predict side
    def _joint_log_likelihood(self, data: CountData) -> np.ndarray:
        r""":math:`\sum_g \log NB(y_g; \mu_{gk}, \phi_g) + \log\pi_k` per class."""
        counts = data.counts
        Z = self._features(data.features, len(data.counts), fitting=False)
        s = self.size_factors_.transform(counts.loc[:, self._train_columns]).to_numpy()
        Y = counts.loc[:, self.genes_].to_numpy()
        Xd = np.column_stack([np.ones(len(Y)), Z])
        phi = self.dispersion_.to_numpy()
        jll = np.empty((len(Y), len(self.classes_)))
        for k in range(len(self.classes_)):  # loop over classes
            eta = np.log(s)[:, None] + Xd @ self.coef_[k].T
            mu = np.exp(np.clip(eta, ETA_MIN, ETA_MAX))
            jll[:, k] = nb_logpmf(Y, mu, phi).sum(axis=1) + self.class_log_prior_[k]
        return jll

    # ------------------------------------------------------------------ reporting
    def summary(self) -> pd.DataFrame:
        """One row per (gene, class, term): coefficient, SE, z, dispersion and DE result.

        ``term`` is ``"intercept"`` (``b_gc0``) or an imaging feature (slope ``b_gc`` per
        training SD of that feature); with ``slopes="shared"`` slope rows carry
        ``class = "(shared)"``.
        """
        check_is_fitted(self, "coef_")
        terms = ["intercept", *map(str, self.imaging_features_)]
        K, G, P = self.coef_.shape
        classes = np.asarray(self.classes_, dtype=object)
        gene = np.repeat(np.asarray(self.genes_, dtype=object)[None, :, None], K, 0)
        gene = np.broadcast_to(gene, (K, G, P))
        cls = np.broadcast_to(classes[:, None, None], (K, G, P))
        term = np.broadcast_to(np.asarray(terms, dtype=object)[None, None, :], (K, G, P))
        rank = np.broadcast_to(np.arange(1, G + 1)[None, :, None], (K, G, P))
        term_pos = np.broadcast_to(np.arange(P)[None, None, :], (K, G, P))
        class_pos = np.broadcast_to(np.arange(K)[:, None, None], (K, G, P))
        out = pd.DataFrame({
            "gene": gene.ravel(), "rank": rank.ravel(), "class": cls.ravel(),
            "term": term.ravel(), "coef": self.coef_.ravel(), "se": self.se_.ravel(),
        })
        order = np.lexsort((term_pos.ravel(), class_pos.ravel(), rank.ravel()))
        out = out.iloc[order]
        if self.slopes == "shared" and P > 1:
            out.loc[out["term"] != "intercept", "class"] = "(shared)"
            out = out.drop_duplicates(["gene", "class", "term"])
        out["z"] = out["coef"] / out["se"]
        out["dispersion"] = self.dispersion_.loc[out["gene"]].to_numpy()
        tab = self.selector_.table_
        for col in ("logFC", "pvalue"):
            if col in tab.columns:
                out["de_" + col] = tab.loc[out["gene"], col].to_numpy()
        return out.reset_index(drop=True)


def fit_nb_radiogenomics(counts: Any, features: Any, y: Any, **params: Any
                         ) -> NBRadiogenomicsClassifier:
    """Fit :class:`NBRadiogenomicsClassifier` (``**params``) on counts, features and labels.

    Examples
    --------
    >>> from radiogenomics.datasets import simulate_radiogenomic_cohort
    >>> d = simulate_radiogenomic_cohort(n_samples=40, n_genes=100, random_state=1)
    >>> clf = fit_nb_radiogenomics(d.counts, d.features, d.y, n_genes=5)
    >>> list(clf.summary().columns[:6])
    ['gene', 'rank', 'class', 'term', 'coef', 'se']
    """
    return NBRadiogenomicsClassifier(**params).fit(counts, y, features=features)
