"""stackery-operator: Stackery's building blocks ("nodes") as Kubernetes custom resources.

Layers, highest first (a layer imports only the ones below it):
handlers -> core -> adapters -> aws; api, errors and metrics are leaves everyone may use.
"""

GROUP = "stackery.io"
VERSION = "v1alpha1"
