"""What crosses the socket between a process and its SQLite writer process
(``writer_process.py``, ``writer_main.py``): pickles behind their length.

In a module of its own, not in ``writer_main``: that one runs as ``__main__`` in the child,
where the functions below would be pickled under that name.
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any

from sqlalchemy import Column, Table

from xiaozhi_server.store.tables import metadata

LENGTH = struct.Struct("!I")


def frame(value: object) -> bytes:
    """``value`` pickled, behind its length (both ends of the socket speak this). The
    store's tables and their columns cross by name (``_Pickler``)."""
    buffer = io.BytesIO()
    buffer.write(bytes(LENGTH.size))
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    data = buffer.getbuffer()
    LENGTH.pack_into(data, 0, len(data) - LENGTH.size)
    return bytes(data)


class _Pickler(pickle.Pickler):
    """Pickles a table of the schema (``store/tables.py``) or one of its columns as a
    reference to the same object on the other side. A copy would be another table to
    SQLAlchemy: a condition built on one side (an erasure's or a retention rule's part)
    would then be joined with the real table on the other, a cartesian product."""

    def reducer_override(self, obj: Any) -> Any:
        # Called for objects other than str, int, tuple, list, dict and the like: the rows
        # of a batch cost nothing here.
        if isinstance(obj, Table) and metadata.tables.get(obj.name) is obj:
            return _table, (obj.name,)
        if isinstance(obj, Column) and isinstance(obj.table, Table):
            table = metadata.tables.get(obj.table.name)
            if table is obj.table and table.c.get(obj.key) is obj:
                return _column, (table.name, obj.key)
        return NotImplemented


def _table(name: str) -> Table:
    return metadata.tables[name]


def _column(table: str, key: str) -> Column[Any]:
    column: Column[Any] = metadata.tables[table].c[key]
    return column
