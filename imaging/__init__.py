"""imaging: MRI/CT scans to tumour sub-region masks, volumes, volume ratios, haemorrhage
shape measures and radiomics, plus 3D U-Net segmentation.

``imaging`` never imports ``radiogenomics``; the hand-off is a pandas DataFrame of
per-patient features indexed by patient id.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
