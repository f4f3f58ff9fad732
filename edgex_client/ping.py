"""The answer of an EdgeX service's ``GET /api/v3/ping``.

The OpenAPI files say the timestamp is RFC 1123, but go-mod-bootstrap formats it
with Go's ``time.UnixDate`` (``Thu Nov 26 15:22:41 UTC 2026``, seen on a real
4.0.2), so the raw string is kept and parsing is best effort.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Ping:
    """One service's ping answer, as reached through the gateway.

    Attributes:
        service_name: ``serviceName`` as the service reports it (``core-data``).
        api_version: ``apiVersion`` (``v3`` from 3.0 on).
        timestamp: ``timestamp`` exactly as sent.
    """

    service_name: str
    api_version: str
    timestamp: str

    @property
    def time(self) -> datetime | None:
        """The timestamp as a datetime, or None when its format is not recognised."""
        return parse_timestamp(self.timestamp)


def parse_timestamp(raw: str) -> datetime | None:
    """Parse an EdgeX ping timestamp loosely.

    Accepts Go's UnixDate and RFC 1123 (both handled by the e-mail date parser)
    and ISO 8601. Zones the parser does not know (``CET``) give a naive datetime.

    Args:
        raw: The timestamp string.

    Returns:
        The parsed datetime, or None when no known format matches.
    """
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None
