"""The only package that imports boto3/botocore: clients, error classification, API-call metrics."""
