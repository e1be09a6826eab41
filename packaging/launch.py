"""The frozen app's entry point: the same command line as the ``embed-studio`` script."""

import sys

from desktop.cli import main

sys.exit(main())
