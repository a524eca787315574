"""The app's functions, indexed once: FunctionApp.get_functions() may be called only once per
process (a second call finds every name already taken), as the Functions worker does."""

from __future__ import annotations

from functools import cache
from typing import Any

import function_app


@cache
def indexed_functions() -> tuple[Any, ...]:
    return tuple(function_app.app.get_functions())
