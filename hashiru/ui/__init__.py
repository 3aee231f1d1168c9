"""HASHIRU's desktop app: a Gradio page served on 127.0.0.1 (`hashiru ui`).

Gradio's analytics are switched off before Gradio is imported, and the theme uses system fonts,
so the app sends nothing beyond the machine it runs on.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from hashiru.settings import is_loopback
from hashiru.ui.app import App, build_app
from hashiru.ui.launch import launch, shutdown
from hashiru.ui.layout import CSS, theme

__all__ = ["CSS", "App", "build_app", "is_loopback", "launch", "shutdown", "theme"]
