"""Public contract: the pydantic models that the CRDs are generated from (one module per kind)."""
