"""3D U-Net segmentation of brain-tumour sub-regions.

Modules
-------
``models``
    :class:`~imaging.segmentation.models.UNetConfig` and the MONAI ``DynUNet`` built from it;
    a model folder holds ``config.json`` plus one state dict per fold (``fold_<k>.pt``),
    loaded with ``torch.load(..., weights_only=True)`` only.
``inference``
    z-score normalisation inside the brain, sliding-window inference with Gaussian blending,
    mirroring test-time augmentation, fold ensembles, cohort batches (``imaging segment``).
``train``
    Dice + cross-entropy training with foreground-oversampled patches, k-fold training and
    stepwise transfer learning with a frozen encoder or decoder (the loop lives in
    ``_training`` and is re-exported), and ``train_cohort``, the ``imaging train`` pipeline.
``nnunet``
    Run a user's trained nnU-Net v2 model folder when ``nnunetv2`` is installed.
``train_demo``
    Script that trains the phantom-only demo model shipped in ``data/segmentation_demo``.

Heavy dependencies (``torch``, ``monai``) are imported by the sub-modules, not here.
"""

from __future__ import annotations
