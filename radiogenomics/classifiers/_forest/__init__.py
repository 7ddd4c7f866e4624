r"""A compact numba random forest for classification on small dense data.

Why
---
scikit-learn's :class:`~sklearn.ensemble.RandomForestClassifier` spends about 2.5 ms per
tree in Python and thread overhead on the data of this package (40-50 training samples x
10-20 predictors), where growing the tree itself takes microseconds; tuning ``max_features``
by a 10-fold inner CV then costs seconds per fit. :func:`fit_forest` grows the same forest in
one compiled (``numba.njit``, serial, ``nogil``) call: about 10-50 us per tree on such
data (``benchmarks/forest.py``: a tuned RF-genomics fit, 40 inner-CV forests of 100 trees
and a final one of 500, takes ~0.12 s instead of ~10 s).

What
----
Breiman's random forest with scikit-learn's algorithm, step for step (scikit-learn 1.9):

- **Bootstrap.** Per tree, ``n`` draws with replacement from the ``n`` training samples; the
  tree is grown on the distinct drawn samples with their draw counts as sample weights.
  With ``class_weight`` the draws are weighted by the class weights (scikit-learn >= 1.9:
  ``sample_weight`` is the sampling probability of the bootstrap and the tree sees the
  integer draw counts); ``"balanced_subsample"`` multiplies the counts by the balanced
  weights of the bootstrap sample. Without bootstrap every tree sees all samples, weighted
  by the class weights.
- **CART growth** with the Gini impurity of the weighted class counts, depth first (left
  child first). At each node up to ``max_features`` candidate features are drawn without
  replacement (Fisher-Yates); features found constant in a node are remembered for its
  descendants, and drawing continues past ``max_features`` while every feature visited so
  far was constant (scikit-learn's rule: the search stops after ``max_features`` visited
  features provided at least one was non-constant). The split of a feature maximises
  :math:`-w_L G_L - w_R G_R` over the midpoints between consecutive distinct sorted values
  (values closer than ``1e-7`` count as equal), with at least ``min_samples_leaf``
  distinct samples on each side; the first best split (in drawing order, then in
  threshold order) wins. A node is a leaf when it is pure, has fewer than
  ``max(2, 2 * min_samples_leaf)`` samples, or no feature gives a valid split.
- **Prediction.** A leaf holds the weighted class frequencies of its training samples;
  the forest's probabilities are the mean of the trees' leaf frequencies (soft voting).
- **Importances.** Mean decrease in weighted Gini impurity, normalised per tree, averaged
  over the trees that split at least once and renormalised to sum to one.
- **Randomness.** Exactly scikit-learn's: the per-tree seeds are
  ``check_random_state(random_state).randint(2**31 - 1)`` (drawn outside numba); each tree
  re-seeds a Mersenne twister from its seed for the bootstrap (``RandomState.randint`` /
  ``RandomState.choice``) and for the seed of the feature draws (``randint(0, 2**31 - 1)``),
  and draws features with scikit-learn's xorshift ``rand_r``. Results are deterministic
  given an integer ``random_state`` and do not depend on threads. For an integer
  ``random_state`` the draws are cached (the inner CV grows dozens of forests with the same
  seeds on training sets of the same size).

Data are cast to ``float32`` (as scikit-learn does), sorted with scikit-learn's introsort,
partitioned and accumulated in scikit-learn's order, so that with the same ``random_state``
the forest is the same as scikit-learn's, tree by tree (node arrays, probabilities and
importances): ``tests/radiogenomics/test_forest.py`` checks this against
:class:`~sklearn.tree.DecisionTreeClassifier` and
:class:`~sklearn.ensemble.RandomForestClassifier`, and checks statistical equivalence
(accuracy, AUC, importance ranking) with independent seeds. Missing values are not
supported (scikit-learn routes them; here they raise).
"""

from ._fitted import FittedForest, fit_forest, resolve_max_features, tree_seeds

__all__ = ["FittedForest", "fit_forest", "resolve_max_features", "tree_seeds"]
