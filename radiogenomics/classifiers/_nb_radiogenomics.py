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
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._validation import _show, align, as_count_frame, as_feature_frame, as_labels
from ..calibration import CALIBRATION_METHODS, Calibrator
from ..glm import ETA_MAX, ETA_MIN, nb_logpmf
from ._feature_transform import FEATURE_TRANSFORMS, FeatureTransform
from ._shrinkage import SHRINKAGE_METHODS, class_coefficients

logger = logging.getLogger(__name__)

__all__ = ["NBRadiogenomicsClassifier", "fit_nb_radiogenomics", "join_features", "model_design",
           "full_rank_design"]

_DE_METHODS = ("exact", "lrt", "deseq2", "joint")
_SIZE_FACTORS = ("library", "ratio", "tmm")


def model_design(codes: np.ndarray, K: int, Z: np.ndarray, slopes: str = "class") -> np.ndarray:
    """Design of the radiogenomics-NB mean model: class intercepts, then imaging slopes.

    ``slopes="class"``: ``[1{c_i = k}]_k`` and ``[1{c_i = k} x_i]_k`` (class-specific
    slopes, the model the classifier fits); ``"shared"``: ``[1{c_i = k}]_k`` and ``x_i``.
    """
    onehot = np.eye(K)[codes]
    if slopes == "shared" or Z.shape[1] == 0:
        return np.column_stack([onehot, Z])
    return np.column_stack([onehot, *(onehot[:, [k]] * Z for k in range(K))])


def full_rank_design(design: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """``design`` without the columns that are linear combinations of earlier ones.

    Column selection by QR with column pivoting and R's ``qr()`` tolerance (a column is
    dependent when its pivot ``|R_jj| < tol * |R_11|``). The eight volume ratios need it:
    ET/WT + ED/WT + NCR/WT = 1 is the intercept.
    """
    from scipy.linalg import qr

    if design.shape[1] == 0:
        return design
    _, R, piv = qr(design, mode="economic", pivoting=True)
    d = np.abs(np.diag(R))
    rank = int((d > tol * d[0]).sum())
    return design[:, np.sort(piv[:rank])]


def join_features(counts: Any, features: Any) -> pd.DataFrame:
    """One frame ``[counts | features]`` for ``Pipeline`` / ``cross_val_score`` use.

    Pair it with ``NBRadiogenomicsClassifier(feature_columns=list(features.columns))``: the
    classifier splits the frame back into counts and imaging features in ``fit`` and in
    every predict-side method, so cross-validation splitters index both consistently.

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


def _as_counts(X: Any) -> pd.DataFrame:
    """:func:`as_count_frame` with the messages scikit-learn's estimator checks look for."""
    import scipy.sparse as sp

    if sp.issparse(X):
        raise TypeError("A sparse matrix was passed, but dense data is required: "
                        "NBRadiogenomicsClassifier takes dense counts (samples x genes)")
    if not isinstance(X, pd.DataFrame) and not hasattr(X, "obs_names"):
        arr = np.asarray(X)
        if np.iscomplexobj(arr):
            raise ValueError("Complex data not supported: counts must be integer read counts")
        if arr.ndim == 1:
            raise ValueError(f"counts must be 2-D (samples x genes); got a 1-D array of shape "
                             f"{arr.shape}. Reshape your data either using array.reshape(-1, 1) "
                             "if your data has a single gene or array.reshape(1, -1) if it "
                             "contains a single sample")
        if arr.ndim == 2 and 0 in arr.shape:
            raise ValueError(f"counts are empty: found {arr.shape[1]} feature(s) "
                             f"(shape={arr.shape}) while a minimum of 1 is required; "
                             f"{arr.shape[0]} sample(s)")
    try:
        return as_count_frame(X, name="counts")
    except ValueError as exc:
        if "negative" in str(exc):
            raise ValueError(f"Negative values in data: {exc}") from None
        raise


def _as_class_labels(y: Any) -> pd.Series:
    """Labels as a Series (index kept when given) after the classification-target checks."""
    if y is None:
        raise ValueError("NBRadiogenomicsClassifier requires y to be passed, but the target y "
                         "is None")
    if isinstance(y, pd.Series):
        lab = y
    else:
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = column_or_1d(arr, warn=True)  # DataConversionWarning, as sklearn does
        lab = pd.Series(arr)
    check_classification_targets(lab.to_numpy())
    levels = pd.unique(lab.dropna())
    if len(levels) < 2:
        raise ValueError(f"y has only one class ({_show(levels)}); a classifier needs at "
                         "least two")
    return lab


class NBRadiogenomicsClassifier(ClassifierMixin, BaseEstimator):
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
    size_factor : {"library", "ratio", "tmm"}, default "library"
        Size factors (:class:`radiogenomics.counts.SizeFactors`); test samples get theirs
        against the training reference.
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
    priors : {"equal", "empirical"} or array-like, default "equal"
        Class priors ``pi_c``: equal (the paper), training proportions, or given values.
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
        (:mod:`radiogenomics.classifiers._shrinkage`). ``"normal"``: every class
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
    class_log_prior_ : ndarray, shape (n_classes,)
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

    def __init__(
        self,
        n_genes: int = 10,
        de_method: str = "exact",
        size_factor: str = "library",
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
    ) -> None:
        self.n_genes = n_genes
        self.de_method = de_method
        self.size_factor = size_factor
        self.dispersion = dispersion
        self.slopes = slopes
        self.alpha = alpha
        self.priors = priors
        self.quantile = quantile
        self.impute = impute
        self.feature_columns = feature_columns
        self.shrinkage = shrinkage
        self.feature_transform = feature_transform
        self.calibration = calibration
        self.calibration_cv = calibration_cv
        self.random_state = random_state

    # ------------------------------------------------------------------ sklearn plumbing
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.allow_nan = False
        tags.classifier_tags.poor_score = True
        return tags

    def _check_params(self) -> None:
        if not isinstance(self.n_genes, (int, np.integer)) or isinstance(self.n_genes, bool) \
                or self.n_genes < 1:
            raise ValueError(f"n_genes must be a positive integer; got {self.n_genes!r}")
        if self.de_method not in _DE_METHODS:
            raise ValueError(f"de_method must be one of {_DE_METHODS}; got {self.de_method!r}")
        if self.size_factor not in _SIZE_FACTORS:
            raise ValueError(
                f"size_factor must be one of {_SIZE_FACTORS}; got {self.size_factor!r}")
        if isinstance(self.dispersion, str):
            if self.dispersion not in ("classic", "glm"):
                raise ValueError(
                    f"dispersion must be 'classic', 'glm' or a number; got {self.dispersion!r}")
        elif not (np.isscalar(self.dispersion) and np.isfinite(self.dispersion)
                  and float(self.dispersion) >= 0):
            raise ValueError(
                f"dispersion must be 'classic', 'glm' or a non-negative number; "
                f"got {self.dispersion!r}")
        if self.slopes not in ("class", "shared"):
            raise ValueError(f"slopes must be 'class' or 'shared'; got {self.slopes!r}")
        if not (np.isscalar(self.alpha) and np.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a non-negative number; got {self.alpha!r}")
        if not 0.0 <= float(self.quantile) < 1.0:
            raise ValueError(f"quantile must lie in [0, 1); got {self.quantile!r}")
        if self.impute not in (None, "median"):
            raise ValueError(f"impute must be None or 'median'; got {self.impute!r}")
        if self.shrinkage not in SHRINKAGE_METHODS:
            raise ValueError(f"shrinkage must be one of {SHRINKAGE_METHODS}; "
                             f"got {self.shrinkage!r}")
        if self.feature_transform not in FEATURE_TRANSFORMS:
            raise ValueError(f"feature_transform must be one of {FEATURE_TRANSFORMS}; "
                             f"got {self.feature_transform!r}")
        if self.calibration not in CALIBRATION_METHODS:
            raise ValueError(f"calibration must be one of {CALIBRATION_METHODS}; "
                             f"got {self.calibration!r}")
        if not isinstance(self.calibration_cv, (int, np.integer)) \
                or isinstance(self.calibration_cv, bool) or self.calibration_cv < 2:
            raise ValueError(f"calibration_cv must be an integer >= 2; "
                             f"got {self.calibration_cv!r}")

    # ------------------------------------------------------------------ input handling
    def _split_X(self, X: Any, features: Any) -> tuple[Any, Any]:
        """Separate gene counts and imaging features of a combined frame."""
        if self.feature_columns is None:
            return X, features
        cols = list(self.feature_columns)
        if features is not None:
            raise ValueError("pass imaging features either as feature_columns of X or as "
                             "features=, not both")
        if not isinstance(X, pd.DataFrame):
            raise ValueError("feature_columns needs X as a DataFrame with named columns")
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature_columns {_show(missing)}")
        if not cols:
            return X, None
        return X.drop(columns=cols), X.loc[:, cols]

    def _counts_for_predict(self, X: Any) -> pd.DataFrame:
        df = _as_counts(X)
        if not isinstance(X, pd.DataFrame) and not hasattr(X, "obs_names"):
            if df.shape[1] != self.n_features_in_:
                raise ValueError(f"counts have {df.shape[1]} gene columns; the model was "
                                 f"fitted on {self.n_features_in_} (X has {df.shape[1]} "
                                 f"features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input)")
            df.columns = self._train_columns
        else:
            missing = self._train_columns.difference(df.columns)
            if len(missing):
                raise ValueError(f"counts lack {len(missing)} training genes: {_show(missing)}")
        return df

    def _prepare_features(self, features: Any, index: pd.Index, *, fitting: bool
                          ) -> np.ndarray:
        """Validate, impute and standardise imaging features -> (n, p) array."""
        if features is None:
            if fitting:  # genes-only model: no imaging features learned
                self.imaging_features_ = pd.Index([])
                self.feature_mean_ = pd.Series(dtype=float)
                self.feature_scale_ = pd.Series(dtype=float)
                self.impute_values_ = pd.Series(dtype=float)
            elif len(self.imaging_features_):
                raise ValueError(
                    f"the model was fitted with imaging features {_show(self.imaging_features_)}"
                    "; pass features= (or use feature_columns)")
            return np.zeros((len(index), 0))
        F = as_feature_frame(features)
        if F.shape[1] == 0:
            return self._prepare_features(None, index, fitting=fitting)
        F = align(pd.DataFrame(index=index), None, F)[2]
        assert F is not None
        if not fitting:
            missing = [c for c in self.imaging_features_ if c not in F.columns]
            if missing:
                raise ValueError(f"features lack the training columns {_show(missing)}")
            F = F.loc[:, self.imaging_features_]
        nan = F.isna()
        if fitting:
            self.impute_values_ = F.median()
        if nan.to_numpy().any():
            if self.impute == "median":
                F = F.fillna(self.impute_values_)
                still = F.columns[F.isna().any()]
                if len(still):
                    raise ValueError(f"features {_show(still)} are missing in every training "
                                     "sample; cannot impute")
            else:
                cols = F.columns[nan.any(axis=0)]
                rows = F.index[nan.any(axis=1)]
                raise ValueError(
                    f"features have missing values (NaN) in columns {_show(cols)} for samples "
                    f"{_show(rows)}; pass impute='median' or fill them")
        if fitting:
            self.feature_transform_ = FeatureTransform(self.feature_transform).fit(F)
        F = self.feature_transform_.transform(F)
        if fitting:
            self.imaging_features_ = pd.Index(F.columns)
            mean = F.mean()
            sd = F.std(ddof=1)
            bad = ~(np.isfinite(sd) & (sd > 0))
            if bad.any():
                logger.warning("features %s are constant in the training data; not scaled",
                               _show(F.columns[bad.to_numpy()]))
            self.feature_mean_ = mean
            self.feature_scale_ = sd.where(~bad, 1.0)
        Z = (F - self.feature_mean_) / self.feature_scale_
        return Z.to_numpy(dtype=float)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, features: Any = None) -> NBRadiogenomicsClassifier:
        """Fit on training counts ``X`` (samples x genes), labels ``y``, imaging ``features``.

        Gene filtering, DE selection, dispersions, size-factor reference and feature
        standardisation all use these training samples only.
        """
        from ..counts import SizeFactors, quantile_filter
        from ..de import DEGeneSelector
        from ..dispersion import estimate_dispersion

        self._check_params()
        X, features = self._split_X(X, features)
        lab = _as_class_labels(y)
        counts = _as_counts(X)
        if not isinstance(y, pd.Series):
            if len(lab) != len(counts):
                raise ValueError(f"y has {len(lab)} labels for {len(counts)} samples")
            lab.index = counts.index
        lab = as_labels(lab, name="y")
        counts, lab, _ = align(counts, lab)
        assert lab is not None
        self.classes_ = np.unique(lab.to_numpy())
        K = len(self.classes_)
        codes = np.searchsorted(self.classes_, lab.to_numpy())
        self._train_columns = pd.Index(counts.columns)
        self.n_features_in_ = counts.shape[1]
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(counts.columns, dtype=object)

        Z = self._prepare_features(features, counts.index, fitting=True)
        p = Z.shape[1]

        # size factors: training reference
        self.size_factors_ = SizeFactors(self.size_factor).fit(counts)
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

        # priors
        if isinstance(self.priors, str):
            if self.priors == "equal":
                prior = np.full(K, 1.0 / K)
            elif self.priors == "empirical":
                prior = np.bincount(codes, minlength=K) / len(codes)
            else:
                raise ValueError(
                    f"priors must be 'equal', 'empirical' or class probabilities; "
                    f"got {self.priors!r}")
        else:
            prior = np.asarray(self.priors, dtype=float)
            if prior.shape != (K,) or (prior <= 0).any():
                raise ValueError(f"priors must be {K} positive numbers; got {self.priors!r}")
            prior = prior / prior.sum()
        self.class_log_prior_ = np.log(prior)
        self.calibrator_ = None
        self.calibration_oof_ = None
        if self.calibration is not None:
            self._fit_calibration(X, lab, features, codes)
        return self

    def _fit_calibration(self, X: Any, lab: pd.Series, features: Any, codes: np.ndarray
                         ) -> None:
        """Calibrator on out-of-fold log posteriors of inner folds of the training split.

        Every inner fold refits this classifier (without calibration), quantile filter and
        gene selection included, on its own training part: nested, no leakage.
        """
        from sklearn.base import clone

        from ..de import uncached
        from ._inner_cv import inner_cv_predict

        n_min = int(np.bincount(codes).min())
        folds = min(int(self.calibration_cv), n_min)
        if folds < 2:
            logger.warning("calibration skipped: a class has %d training sample(s); inner "
                           "cross-validation needs 2 per class", n_min)
            return
        counts = _as_counts(X).loc[lab.index] if self.feature_columns is None \
            else X.loc[lab.index]
        F = None
        if features is not None and self.feature_columns is None:
            F = as_feature_frame(features).loc[lab.index]
        inner = clone(self).set_params(calibration=None)
        with uncached():  # inner DE tables would evict the outer splits' tables
            oof = inner_cv_predict(lambda: clone(inner), counts, lab.to_numpy(), features=F,
                                   n_folds=folds, random_state=self.random_state,
                                   method="predict_log_proba")[0]
        if oof.shape[1] != len(self.classes_):
            raise ValueError("an inner calibration fold lacks a class")
        self.calibrator_ = Calibrator(self.calibration).fit(oof, codes)
        cal = self.calibrator_.transform(oof)
        self.calibration_oof_ = pd.DataFrame(
            {"label": lab.to_numpy(), **{f"p_uncalibrated[{c}]": np.exp(oof[:, k])
                                         for k, c in enumerate(self.classes_)},
             **{f"p[{c}]": np.exp(cal[:, k]) for k, c in enumerate(self.classes_)}},
            index=lab.index)

    def calibration_summary(self, n_bins: int = 10) -> pd.DataFrame:
        """Expected calibration error of the inner-CV (out-of-fold) predictions of the
        training split, before and after calibration (needs ``calibration``)."""
        from ..calibration import expected_calibration_error

        check_is_fitted(self, "coef_")
        if self.calibration_oof_ is None:
            raise ValueError("the classifier was fitted with calibration=None; set "
                             "calibration='temperature' or 'isotonic' (or compute "
                             "radiogenomics.calibration.expected_calibration_error on test data)")
        o = self.calibration_oof_
        rows = []
        for name, prefix in (("uncalibrated", "p_uncalibrated"), (self.calibration, "p")):
            P = o[[f"{prefix}[{c}]" for c in self.classes_]].to_numpy()
            rows.append({"probabilities": name, "ece": expected_calibration_error(
                o["label"], P, self.classes_, n_bins), "n": len(o)})
        out = pd.DataFrame(rows)
        if self.calibration in ("temperature", "platt"):
            out["temperature"] = [1.0, self.calibrator_.temperature_]
        if self.calibration == "platt":
            out["bias"] = [0.0, float(self.calibrator_.bias_[-1])]
        return out

    def plot_calibration(self, ax: Any = None, n_bins: int = 10) -> Any:
        """Reliability diagram of the inner-CV predictions, before and after calibration."""
        from ..calibration import plot_reliability, reliability_table

        summ = self.calibration_summary(n_bins)
        o = self.calibration_oof_
        for (name, prefix), ece in zip((("uncalibrated", "p_uncalibrated"),
                                        (self.calibration, "p")), summ["ece"], strict=True):
            P = o[[f"{prefix}[{c}]" for c in self.classes_]].to_numpy()
            ax = plot_reliability(reliability_table(o["label"], P, self.classes_, n_bins),
                                  ax=ax, label=f"{name} (ECE {ece:.3f})")
        ax.set_title("radiogenomics-NB, inner-CV predictions")
        return ax

    # ------------------------------------------------------------------ predict side
    def _joint_log_likelihood(self, X: Any, features: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X, features = self._split_X(X, features)
        counts = self._counts_for_predict(X)
        Z = self._prepare_features(features, counts.index, fitting=False)
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

    def predict_log_proba(self, X: Any, features: Any = None) -> np.ndarray:
        """``log p(c | y, x)``, shape (n_samples, n_classes), columns in ``classes_`` order."""
        jll = self._joint_log_likelihood(X, features)
        lp = jll - logsumexp(jll, axis=1, keepdims=True)
        if getattr(self, "calibrator_", None) is not None:
            return self.calibrator_.transform(lp)
        return lp

    def predict_proba(self, X: Any, features: Any = None) -> np.ndarray:
        """Posterior class probabilities, shape (n_samples, n_classes)."""
        return np.exp(self.predict_log_proba(X, features))

    def decision_function(self, X: Any, features: Any = None) -> np.ndarray:
        """Binary: log posterior odds of ``classes_[1]``; otherwise the log posteriors.

        Always the model's own (uncalibrated) posterior: calibration changes
        ``predict_proba`` only, so rankings and ROC AUC are those of the model."""
        jll = self._joint_log_likelihood(X, features)
        lp = jll - logsumexp(jll, axis=1, keepdims=True)
        if lp.shape[1] == 2:
            return lp[:, 1] - lp[:, 0]
        return lp

    def predict(self, X: Any, features: Any = None) -> np.ndarray:
        """Class with the highest posterior probability."""
        jll = self._joint_log_likelihood(X, features)
        return self.classes_[np.argmax(jll, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None, features: Any = None) -> float:
        """Accuracy on ``X`` (counts), ``y`` (and ``features``)."""
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self.predict(X, features), sample_weight=sample_weight))

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
