"""The paper's five methods, resolved by name with lazy imports."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

#: method name -> (module, class name, constructor kwargs)
#: The tuned baselines share one 3-fold inner CV per training split (same seed, same folds),
#: so the nested gene selections of the inner folds are computed once per split for all four
#: (see ``radiogenomics.classifiers._inner_cv``): a split costs 1 outer + 3 inner gene
#: selections. 3 rather than 5 folds keeps the default protocol within 10 minutes on 2 cores;
#: on the plasmode (3 targets x 20 splits) the change in balanced accuracy was -0.06 to +0.04
#: per method and target, none significant (notes: benchmarks/benchmark_default.py). The
#: classes' own defaults (5 x 2 folds for NBLDA / VoomNSC, 10 folds for the forests) stay
#: for direct use.
DEFAULT_METHODS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "radiogenomics-NB": ("radiogenomics.classifiers", "NBRadiogenomicsClassifier", {}),
    "NBLDA": ("radiogenomics.classifiers", "NBLDA", {"n_repeats": 1, "n_folds": 3}),
    # equal class priors, as NBLDA and the radiogenomics-NB model use: with MLSeq's class
    # proportions VoomNSC predicts the majority class on the 51-vs-13 1p/19q splits
    "VoomNSC": ("radiogenomics.classifiers", "VoomNSC", {"n_repeats": 1, "n_folds": 3,
                                                        "priors": "equal"}),
    "RF-genomics": ("radiogenomics.classifiers", "RFGenomics", {"cv": 3}),
    "RF-radiogenomics": ("radiogenomics.classifiers", "RFRadiogenomics", {"cv": 3}),
}

PAPER_METHODS: tuple[str, ...] = tuple(DEFAULT_METHODS)

#: further named methods, available through ``methods=[...]`` / ``--methods``
EXTRA_METHODS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # the paper's model exactly: no shrinkage, raw ratios, classic dispersions, exact test
    "radiogenomics-NB (paper)": ("radiogenomics.classifiers", "NBRadiogenomicsClassifier",
                                 {"shrinkage": None, "feature_transform": None,
                                  "dispersion": "classic", "de_method": "exact"}),
    # genes chosen by the joint LRT of class intercepts and class x imaging slopes
    "radiogenomics-NB (joint)": ("radiogenomics.classifiers", "NBRadiogenomicsClassifier",
                                 {"de_method": "joint"}),
}


def make_method(name: str) -> Any:
    """A fresh estimator for one of the paper's method names."""
    key = _canonical(name)
    if key is None:
        raise ValueError(
            f"unknown method {name!r}; known methods: "
            f"{', '.join([*DEFAULT_METHODS, *EXTRA_METHODS])} "
            "(or pass a dict name -> estimator)"
        )
    module, cls, kwargs = {**DEFAULT_METHODS, **EXTRA_METHODS}[key]
    try:
        klass = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"method {key!r} needs {module}.{cls}, which is not available: {exc}") from exc
    return klass(**kwargs)


def _canonical(name: str) -> str | None:
    norm = name.strip().lower().replace("_", "-")
    for key, (_, cls, _) in DEFAULT_METHODS.items():
        if norm in (key.lower(), cls.lower()):
            return key
    for key in EXTRA_METHODS:
        if norm == key.lower():
            return key
    aliases = {"nb": "radiogenomics-NB", "rf": "RF-genomics", "voom-nsc": "VoomNSC"}
    return aliases.get(norm)


def resolve_methods(methods: Any) -> dict[str, Any]:
    """``None`` -> the five paper methods; a list of names; or a dict name -> estimator/name."""
    if methods is None:
        return {name: make_method(name) for name in PAPER_METHODS}
    if isinstance(methods, str):
        methods = [m for m in methods.split(",") if m.strip()]
    if isinstance(methods, Mapping):
        out = {}
        for name, est in methods.items():
            out[str(name)] = make_method(est) if isinstance(est, str) else est
    elif isinstance(methods, Sequence):
        out = {}
        for m in methods:
            if not isinstance(m, str):
                raise ValueError(
                    f"methods given as a list must be names; got {type(m).__name__} "
                    "(pass a dict name -> estimator)"
                )
            est = make_method(m)
            out[_canonical(m) or m] = est
    else:
        raise ValueError(f"methods must be None, a list of names or a dict; got {type(methods).__name__}")
    if not out:
        raise ValueError("no methods to benchmark")
    for name, est in out.items():
        if not (hasattr(est, "fit") and hasattr(est, "predict") and hasattr(est, "get_params")):
            raise ValueError(
                f"method {name!r} is not a scikit-learn estimator (needs fit, predict, get_params)"
            )
    return out


def accepts_kw(func: Any, name: str) -> bool:
    """Whether ``func`` takes keyword ``name`` (explicitly or through ``**kwargs``)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def param_keys(estimator: Any, name: str) -> list[str]:
    """Keys of ``estimator.get_params(deep=True)`` that set parameter ``name`` (also nested)."""
    return [k for k in estimator.get_params(deep=True) if k == name or k.endswith("__" + name)]
