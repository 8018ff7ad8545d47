"""`python -m pipelines.cli ...` is the `nudgescope` command."""

import sys

from pipelines.cli import main

sys.exit(main())
