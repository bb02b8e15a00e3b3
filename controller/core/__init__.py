"""The generic reconciler: one state machine for every kind, no AWS or boto3 knowledge."""
