"""`python -m hashiru.cli`: the same command as `hashiru`."""

import sys

from hashiru.cli import main

sys.exit(main())
