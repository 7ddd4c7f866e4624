import sys

from radiogenomics.cli import main

sys.exit(main())
