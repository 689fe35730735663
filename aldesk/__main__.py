"""``python -m aldesk`` runs the same entry point as the ``aldesk`` command."""

import sys

from aldesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
