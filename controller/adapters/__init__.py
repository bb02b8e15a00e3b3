"""One module per node kind, each with the same shape: external_name / references / observe /
create / update / delete, plus pure helpers (desired_*, diff) that unit tests call directly."""
