"""`python -m colostack ARGS`: the same as the `colostack` console script."""

import sys

from colostack.cli import main

sys.exit(main())
