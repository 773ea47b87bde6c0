"""``python -m tokenswarm`` is the same as the ``tokenswarm`` command."""

import sys

from tokenswarm.cli import main

sys.exit(main())
