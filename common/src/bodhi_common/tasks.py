"""Background tasks' end: cancel them and wait until they have stopped."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

_AGAIN_SECONDS = 1.0


async def cancel(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel every task given (None is skipped) and wait for each to finish. A task that
    swallows a cancellation (a library timeout that turns it into its own TimeoutError, which
    a retry loop then catches) is cancelled again each second until it ends, so shutdown never
    hangs on it (a gateway test hung here for 600 s)."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        while not task.done():
            await asyncio.wait({task}, timeout=_AGAIN_SECONDS)
            if not task.done():
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
