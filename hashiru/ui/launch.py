"""Serving the app: loopback by default, no share links, and a clean stop of the sandbox."""

from __future__ import annotations

import asyncio
import ipaddress

import gradio as gr

from hashiru.errors import ConfigError
from hashiru.ui.app import CSS, theme


def launch(
    blocks: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
) -> gr.Blocks:
    """Serve `blocks` in the background; `shutdown` stops it and the runs' sandbox workers."""
    credentials = _credentials(auth)
    blocks.queue(default_concurrency_limit=16)
    blocks.launch(
        server_name=host,
        server_port=port,
        auth=credentials,
        share=False,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        theme=theme(),
        css=CSS,
        footer_links=[],
        ssr_mode=False,
    )
    return blocks


def shutdown(blocks: gr.Blocks) -> None:
    """Stop the sandbox's warm workers on the loop that started them, then the server."""
    app = blocks.hashiru_app
    if app.loop is not None and app.loop.is_running():
        future = asyncio.run_coroutine_threadsafe(app.workspace.aclose(), app.loop)
        future.result(timeout=10)
    blocks.close()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _credentials(auth: str | None) -> tuple[str, str] | None:
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not (sep and user and password):
        raise ConfigError("--auth takes USER:PASS, both non-empty.")
    return user, password
