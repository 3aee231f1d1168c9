"""A backend whose import takes a while, as an SDK's does on a busy machine."""

from __future__ import annotations

import time

from hashiru.providers.scripted import ScriptedProvider

IMPORT_SECONDS = 0.5
time.sleep(IMPORT_SECONDS)


class SlowProvider(ScriptedProvider):
    name = "slow"
