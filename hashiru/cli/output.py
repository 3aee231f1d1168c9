"""Where the commands write: results to stdout, errors and questions to stderr."""

from rich.console import Console

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)
