"""One status line per phase, so a run is never silent.

On a terminal the line is rewritten in place; in a log (CI) a new line is written
only when the message changes apart from its counters, or every ten seconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

_NUMBERS = re.compile(r"\d+(\.\d+)?")
REPEAT_AFTER_S = 10.0


class StatusLine:
    """Writes short progress messages, prefixed with the current phase."""

    def __init__(self, write: Callable[[str], None], *, rewrite: Callable[[str], None] | None = None) -> None:
        """Create a status line.

        Args:
            write: Writes one whole line (used in logs, and to close a phase on a terminal).
            rewrite: Overwrites the current terminal line; None when the output is not a terminal.
        """
        self._write = write
        self._rewrite = rewrite
        self._phase = ""
        self._last_shape = ""
        self._last_at = 0.0
        self._last_text = ""

    def phase(self, name: str) -> None:
        """Start a new phase and announce it."""
        self._finish_line()
        self._phase = name
        self._last_shape = ""
        self.update("started")

    def update(self, message: str) -> None:
        """Report progress within the current phase."""
        text = f"edgex-smoke [{self._phase}] {message}" if self._phase else f"edgex-smoke {message}"
        if self._rewrite is not None:
            self._rewrite(text)
            self._last_text = text
            return
        shape = _NUMBERS.sub("#", message)
        now = time.monotonic()
        if shape != self._last_shape or now - self._last_at >= REPEAT_AFTER_S:
            self._write(text)
            self._last_shape = shape
            self._last_at = now

    def done(self, message: str) -> None:
        """Close the current phase with a final line."""
        self.update(message)
        self._finish_line()

    def _finish_line(self) -> None:
        if self._rewrite is not None and self._last_text:
            self._write("")  # ends the rewritten line, keeping its last text on screen
            self._last_text = ""
