"""stackery-operator: Stackery's building blocks ("nodes") as Kubernetes custom resources.

Layers, highest first (a layer imports only the ones below it; `make lint` checks it with import-linter):
handlers -> registry/crdgen -> adapters -> core/aws -> api, errors, metrics, settings (leaves).
kube implements core's Cluster port with the kubernetes client; see docs/architecture.md.
"""

GROUP = "stackery.io"
VERSION = "v1alpha1"


def plural(kind: str) -> str:
    """Every Stackery kind pluralises by a trailing s (stackerycdns, stackerytables, ...)."""
    return kind.lower() + "s"
