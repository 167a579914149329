"""``python -m gui`` runs the ``synack`` command."""

import sys

from gui.app.cli import main

sys.exit(main())
