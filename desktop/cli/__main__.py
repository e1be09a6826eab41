"""``python -m desktop.cli`` runs the ``embed-studio`` command."""

import sys

from desktop.cli import main

sys.exit(main())
