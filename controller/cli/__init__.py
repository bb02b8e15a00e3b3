"""`kubectl stackery`: the stack as a picture and a table, read with the user's own kubeconfig and RBAC.

Why: Stackery's users designed on a canvas of nodes and wires; on Kubernetes the same stack is a set of
objects. The plugin draws it back (graph), lists where each node stands (status) and explains one node
in plain words (why). Read-only: it never writes to the cluster or calls AWS.
"""
