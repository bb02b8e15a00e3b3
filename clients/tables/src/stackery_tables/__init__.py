"""stackery-tables: the commands of Stackery's Table node for code that a connection to a StackeryTable
gives TABLE_NAME: insert, put, get (select by key), select (by key condition, ordered, limited, on an
index, paginated), update (set, remove, atomic increment/decrement, list append, set add, conditions),
delete (conditional). Conditions are plain structures, never strings (see expressions.py)."""

from .errors import ConditionFailed, NotFound, StackeryTableError, Throttled
from .table import Table

__all__ = ["ConditionFailed", "NotFound", "StackeryTableError", "Table", "Throttled"]
__version__ = "0.1.0"
