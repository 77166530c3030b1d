"""Allow ``python -m ceremony``."""

import sys

from ceremony.cli import main

sys.exit(main())
