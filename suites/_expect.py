"""One-line failures for the smoke checks: the message names the component and what was seen."""

from __future__ import annotations

from typing import NoReturn

import pytest


def fail(message: str) -> NoReturn:
    """Fail the current check with `message` alone, without a traceback."""
    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


def require(condition: object, message: str) -> None:
    """Fail the current check with `message` unless `condition` holds."""
    __tracebackhide__ = True
    if not condition:
        fail(message)
