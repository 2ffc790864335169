"""Cheap pickling for the slots dataclasses that cross the parser process's pipe.

The standard library pickles a ``slots=True`` dataclass through ``dataclasses.fields()``
on every object, at both ends; for a large import that was a fifth of all the work. These
classes pickle as their constructor's arguments instead.
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Any, TypeVar

T = TypeVar("T")


def by_fields(cls: type[T]) -> type[T]:
    """Class decorator (above ``@dataclass``): pickle instances as ``cls(*field values)``."""
    names = tuple(field.name for field in fields(cls))  # type: ignore[arg-type]
    get = attrgetter(*names)
    if len(names) == 1:

        def reduce(self: Any) -> tuple[type[T], tuple[Any, ...]]:
            return (cls, (get(self),))

    else:

        def reduce(self: Any) -> tuple[type[T], tuple[Any, ...]]:
            return (cls, get(self))

    cls.__reduce__ = reduce  # type: ignore[method-assign]
    return cls
