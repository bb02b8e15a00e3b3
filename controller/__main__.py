"""`python -m controller`: run the operator (the container's entrypoint).

Unsharded (STACKERY_SHARDS=1, the default) it is kopf.run. Sharded, kopf watches only the shards this
replica holds (a server-side label selector), so kopf is restarted whenever they change: its watch streams
carry one selector each, fixed when they start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from . import GROUP


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("STACKERY_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if os.environ.get("STACKERY_LOG_LEVEL", "INFO") != "DEBUG":
        # kopf logs every timer tick at INFO; our own logs and Events say what matters.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    from . import handlers  # noqa: F401  (registers the handlers)

    namespaces = list(handlers.SETTINGS.namespaces)
    probe = os.environ.get("STACKERY_PROBE_PORT", "8081")
    if handlers.SETTINGS.shards > 1:
        asyncio.run(_sharded(namespaces, int(probe)))
        return
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=f"http://0.0.0.0:{probe}/healthz" if probe != "0" else None,
    )


async def _sharded(namespaces: list[str], probe: int) -> None:
    """Run kopf over the shards this replica holds; restart it with the new selector when they change; on
    SIGTERM hand every shard over (after the running passes end) so the other replicas take them at once."""
    from . import handlers
    from .registry import KINDS
    from .shards import selector

    loop = asyncio.get_running_loop()
    changed, stopping = asyncio.Event(), asyncio.Event()

    def on_signals() -> None:  # kopf installs its own while it runs; ours are back whenever it is not
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)

    on_signals()
    handlers.start_background()  # /metrics and /readyz even while this replica holds no shard
    if probe:
        handlers.serve(probe)  # /healthz while kopf is between selectors (or holds nothing)

    def notify(_: frozenset[int]) -> None:
        loop.call_soon_threadsafe(changed.set)

    shards = handlers.start_shards(notify)
    # one pool for every kopf (re)start: kopf never shuts the executor of a finished run down, so a new one
    # per selector change would leave its idle threads behind
    pool = ThreadPoolExecutor(max_workers=handlers.SETTINGS.workers, thread_name_prefix="kopf-handlers")
    while not stopping.is_set():
        changed.clear()  # before reading: a change notified after this read wakes the wait below
        held = shards.active()
        waits: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(changed.wait()),
            asyncio.ensure_future(stopping.wait()),
        ]
        stop_kopf: asyncio.Future[None] = loop.create_future()
        task = None
        if held:
            settings = kopf.OperatorSettings()
            settings.execution.executor = pool
            for info in KINDS:
                settings.watching.label_selectors[GROUP, info.plural] = selector(held)
            task = asyncio.ensure_future(
                kopf.operator(
                    standalone=True,
                    clusterwide=not namespaces,
                    namespaces=namespaces,
                    settings=settings,
                    stop_flag=stop_kopf,
                )
            )
            waits.append(task)
        while True:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            moved = shards.active() != held or stopping.is_set() or (task is not None and task.done())
            if moved:
                break
            changed.clear()  # a late notice of the set this kopf already watches: no restart
            waits[0] = asyncio.ensure_future(changed.wait())
        for w in waits[:2]:
            w.cancel()
        if task is not None:
            if task.done():  # kopf stopped by itself: a signal it caught, or a fatal error (raised here)
                task.result()
                stopping.set()
            else:
                stop_kopf.set_result(None)
                await task
            on_signals()
    await loop.run_in_executor(None, shards.release_all, 30.0)


if __name__ == "__main__":
    main()
