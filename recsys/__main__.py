"""``python -m recsys ...``: the command line lives in :mod:`recsys.cli.main`."""
import sys

from recsys.cli.main import main

sys.exit(main())
