"""Parameters shared by the classifiers: scikit-learn constraints, error wording, docs.

One definition of the gene-selection, library-size, prior and size-factor parameters that
NBLDA, PLDA, NSC, VoomNSC and the forests have in common (``_parameter_constraints`` of
:class:`~radiogenomics.classifiers._base.CountClassifier`), and of their docstring text:
:func:`fill_doc` replaces ``{{name}}`` markers of a class docstring by :data:`DOCS`.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

from sklearn.utils._param_validation import HasMethods, Hidden, Interval, StrOptions

from ._base import DEPRECATED, PRIORS

__all__ = ["COMMON_CONSTRAINTS", "COMMON_HINTS", "DOCS", "fill_doc"]

_OLD_SIZE_FACTORS = {"mle", "library", "deseq", "rle", "quantile", "tmm", "none", "TMM"}

COMMON_CONSTRAINTS: dict[str, list[Any]] = {
    "n_genes": [Interval(Integral, 1, None, closed="left"), None],
    "de_method": [StrOptions({"exact", "lrt", "deseq2"})],
    "quantile": [Interval(Real, 0, 1, closed="left"), None],
    "library": [StrOptions({"all", "selected"})],
    "random_state": ["random_state"],
    "priors": [StrOptions(set(PRIORS)), dict, "array-like"],
    "prior": [StrOptions(set(PRIORS)), dict, "array-like", None,
              Hidden(StrOptions({DEPRECATED}))],
    "size_factors": [str, HasMethods(["fit_array", "transform_array"]), None],
    "normalization": [StrOptions(_OLD_SIZE_FACTORS), None, Hidden(StrOptions({DEPRECATED}))],
}

COMMON_HINTS: dict[str, str] = {
    "n_genes": "must be a positive integer or None",
    "de_method": "must be one of ('exact', 'lrt', 'deseq2')",
    "quantile": "must lie in [0, 1) or be None",
    "library": "must be 'all' or 'selected'",
    "priors": "must be 'equal', 'proportional' (alias 'empirical'), a dict or class "
              "probabilities",
    "prior": "(renamed 'priors') must be 'equal', 'proportional', a dict or class "
             "probabilities",
    "normalization": f"(renamed 'size_factors') must be one of {sorted(_OLD_SIZE_FACTORS)}",
}

DOCS = {
    "selection": """de_method : {"exact", "lrt", "deseq2"}
        DE test of the gene selection (:class:`radiogenomics.de.DEGeneSelector`, the
        selector of the NB model).
    quantile : float or None
        Quantile filter applied before the DE test (0.25, as the NB model; ``None``: no
        filter, i.e. plain edgeR ``topTags`` as in the R references).""",
    "library": """library : {"all", "selected"}
        Which genes the size factors are computed from when ``n_genes`` selects a subset.
        ``"all"`` (default): every training gene, i.e. the library sizes of the whole
        transcriptome, and a test sample's factor from all of its genes against the
        training reference. ``"selected"``: the selected genes only -- what R's NBLDA /
        PoiClaClu compute when handed the selected-gene matrix. With a few strongly DE
        genes that sum is dominated by the class effect itself (one class looks like the
        larger libraries), which shrinks and can even invert the class effects
        :math:`d_{kg}`; use it only to reproduce such R runs. Identical when all genes
        are used.""",
    "priors": """priors : {"equal", "proportional"}, dict or array-like
        Class priors :math:`\\pi_k` (:func:`~radiogenomics.classifiers._base.resolve_priors`):
        equal, the training class proportions (``"empirical"`` is an alias), or given
        values (normalised to sum 1). ``prior``, the old name, still works with a
        ``FutureWarning`` until the next release (``prior=None``: this default).""",
    "size_factors": """size_factors : str or SizeFactors
        Size factors (:class:`radiogenomics.counts.SizeFactors`, resolved by
        :func:`~radiogenomics.counts.as_size_factors` in this method's convention); test
        samples are normalised against the training reference. ``normalization``, the old
        name, still works with a ``FutureWarning`` until the next release.""",
}


def fill_doc(cls: type) -> type:
    """Replace ``{{key}}`` in ``cls.__doc__`` by ``DOCS[key]`` (shared parameter text)."""
    if cls.__doc__:
        doc = cls.__doc__
        for key, text in DOCS.items():
            doc = doc.replace("{{" + key + "}}", text)
        cls.__doc__ = doc
    return cls
