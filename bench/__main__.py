"""`python -m bench run|report`: HASHIRUBench (bench/hashirubench). `python -m bench.perf`
is separate: it measures HASHIRU's own overhead."""

import sys

from bench.hashirubench.cli import main

if __name__ == "__main__":
    sys.exit(main())
