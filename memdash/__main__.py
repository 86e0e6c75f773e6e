"""``python -m memdash``: the same as the ``memdash`` command."""

import sys

from memdash.cli import main

sys.exit(main())
