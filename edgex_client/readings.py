"""Reading values out of EdgeX events, and comparing them.

EdgeX sends every reading value as a string, and formats Float32 and Float64 in
exponent notation (``5.67`` comes back as ``"5.67e+00"``), so numbers must be
compared as numbers. Per-reading ``deviceName`` may be missing when
``EDGEX_OPTIMIZE_EVENT_PAYLOAD=true``, so nothing here relies on it; the event's
own ``deviceName`` is always present.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness.errors import ProductError

# Float32 carries about 7 significant digits; a relative tolerance of 1e-6 accepts
# its rounding and still rejects any different value a test would write.
FLOAT32_REL_TOL = 1e-6


def reading_value(event: Mapping[str, Any], resource: str) -> str:
    """Return the value of the first reading of `event` named `resource`.

    Args:
        event: An EdgeX event (``{"deviceName", "readings": [...], ...}``).
        resource: The reading's ``resourceName`` (``Int8``, ``randfloat32``).

    Returns:
        The reading's ``value`` string.

    Raises:
        ProductError: The event has no such reading, or it has no plain ``value``.
    """
    device = event.get("deviceName", "?")
    readings = event.get("readings") or []
    for reading in readings:
        if isinstance(reading, Mapping) and reading.get("resourceName") == resource:
            value = reading.get("value")
            if not isinstance(value, str):
                kind = reading.get("valueType", "?")
                raise ProductError(
                    f"{device}: reading {resource!r} has no string value (valueType {kind}); "
                    "read binaryValue or objectValue instead"
                )
            return value
    names = [r.get("resourceName") for r in readings if isinstance(r, Mapping)]
    raise ProductError(
        f"{device}: event has no reading {resource!r}; readings present: {names}; "
        "check the command or resource name in the device profile"
    )


def parse_number(value: str) -> float | None:
    """Return `value` as a float, or None when it is not a finite decimal number."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def same_number(observed: str, expected: str | float, *, rel_tol: float = FLOAT32_REL_TOL) -> bool:
    """Tell whether an EdgeX reading value equals `expected` as a number.

    ``same_number("5.67e+00", 5.67)`` and ``same_number("42", "42")`` are true.

    Args:
        observed: The reading value as EdgeX sent it.
        expected: The value that was written, as a string or number.
        rel_tol: Relative tolerance; the default accepts Float32 rounding.

    Returns:
        True when both parse as numbers and agree within `rel_tol`; False otherwise,
        including when `observed` is not a number.
    """
    observed_number = parse_number(observed)
    expected_number = parse_number(expected) if isinstance(expected, str) else float(expected)
    if observed_number is None or expected_number is None:
        return False
    return math.isclose(observed_number, expected_number, rel_tol=rel_tol, abs_tol=0.0)
