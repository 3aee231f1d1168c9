"""Serving the app: loopback by default, no share links, and a clean stop of the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hashiru.errors import ConfigError
from hashiru.ui.app import App
from hashiru.ui.layout import CSS, theme


def launch(
    app: App,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | Sequence[str] | None = None,
) -> App:
    """Serve `app` in the background; `shutdown` stops it and the runs' sandbox workers.

    `auth` is one login ("USER:PASS") or several; each user sees only their conversations.

    The backends' SDKs are loaded first: the page lists their models when it opens, and loading
    them then (seconds on a busy machine) would slow the first turns of whoever is using it.
    """
    credentials = _credentials(auth)
    for name in app.workspace.providers.names:
        app.workspace.providers.get(name)
    app.blocks.queue(default_concurrency_limit=16)
    app.blocks.launch(
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
    return app


def shutdown(app: App) -> None:
    """Stop the sandbox's warm workers on the loop that started them, then the server."""
    if app.loop is not None and app.loop.is_running():
        future = asyncio.run_coroutine_threadsafe(app.workspace.aclose(), app.loop)
        future.result(timeout=10)
    app.blocks.close()


def _credentials(auth: str | Sequence[str] | None) -> list[tuple[str, str]] | None:
    if not auth:
        return None
    logins = []
    for login in [auth] if isinstance(auth, str) else auth:
        user, sep, password = login.partition(":")
        if not (sep and user and password):
            raise ConfigError("--auth takes USER:PASS, both non-empty.")
        logins.append((user, password))
    return logins
