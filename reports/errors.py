"""Errors of the reports package."""

from __future__ import annotations

from harness.errors import SmokeError


class ReportError(SmokeError):
    """A report file is missing, unreadable or not of this schema, or a report was built wrongly.

    The message is one line that names the file (when there is one) and the bad value.
    """
