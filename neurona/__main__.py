"""``python -m neurona ...`` runs the ``neurona`` command (see neurona.cli)."""
import sys

from .cli import main

sys.exit(main())
