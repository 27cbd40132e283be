"""``python -m ragsight``: the same command as ``ragsight``."""

import sys

from ragsight.cli import main

sys.exit(main())
