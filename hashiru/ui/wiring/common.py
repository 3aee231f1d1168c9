"""What every handler shares: events kept off the public API, and errors shown, not raised.

Only `/update_model` and `/chat` are public (HASHIRUBench's); every event the page wires is
private. A HashiruError in a panel's action becomes a warning toast and the app goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from hashiru.errors import HashiruError

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
QUIET: dict[str, Any] = {**PRIVATE, "show_progress": "hidden"}


def attempt(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Do a panel's action; a HashiruError becomes a warning toast, and the app goes on."""
    try:
        return action(*args, **kwargs)
    except HashiruError as exc:
        gr.Warning(str(exc))
        return None
