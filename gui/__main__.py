"""``python -m gui`` runs the ``synack`` command."""

import sys

from gui.cli import main

sys.exit(main())
