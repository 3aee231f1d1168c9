"""`hashiru`: run a task headless, inspect and fire employees, and check what is available.

Thin on purpose: it parses and checks the arguments, builds a Hashiru, renders its typed
events with rich, and turns every HashiruError into one readable line and a non-zero exit
status. A command imports only what it uses: `--help` and a bad value cost a bare start.
"""

from __future__ import annotations

from collections.abc import Sequence

from hashiru.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help, --version and bad values end here

    from hashiru.cli.execute import execute

    return execute(args)
