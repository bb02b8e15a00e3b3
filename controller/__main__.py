"""`python -m controller`: run the operator (the container's entrypoint)."""

from __future__ import annotations

import logging
import os

import kopf


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
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=f"http://0.0.0.0:{probe}/healthz" if probe != "0" else None,
    )


if __name__ == "__main__":
    main()
