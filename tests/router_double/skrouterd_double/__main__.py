"""``python -m skrouterd_double`` runs the router double like ``skrouterd``."""

import sys

from .cli import main

sys.exit(main())
