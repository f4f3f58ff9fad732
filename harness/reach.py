"""What a client on this host can reach: one TCP probe with three answers, and this host's own addresses.

A probe tells "refused" (something answered: nothing listens there) apart from "silent" (no answer
in time: a wrong address, no route, or a filter). Only "refused" proves a port closed by itself;
"silent" proves nothing unless another port on the same address accepted (a positive control).
"""

from __future__ import annotations

import enum
import errno
import itertools
import socket
from pathlib import Path

PROBE_TIMEOUT_S = 2.0
FIB_TRIE = Path("/proc/net/fib_trie")


class Reach(enum.Enum):
    """How an address and port answered a TCP connection attempt."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    SILENT = "silent"


def probe(address: str, port: int, *, timeout_s: float = PROBE_TIMEOUT_S) -> Reach:
    """Try one TCP connection to `address`:`port` and close it at once."""
    try:
        with socket.create_connection((address, port), timeout=timeout_s):
            return Reach.ACCEPTED
    except ConnectionRefusedError:
        return Reach.REFUSED
    except OSError as err:
        # A reset during the handshake is an answer too: something at that address turned the port away.
        return Reach.REFUSED if err.errno == errno.ECONNRESET else Reach.SILENT


def local_addresses(fib_trie: Path = FIB_TRIE) -> tuple[str, ...]:
    """This host's own IPv4 addresses, 127.0.0.1 first: every address a port published on 0.0.0.0 answers on.

    Read from the kernel's routing table (``/proc/net/fib_trie``, its ``/32 host LOCAL`` entries), so it
    needs no tool; only 127.0.0.1 is returned when that file cannot be read.
    """
    found: dict[str, None] = {"127.0.0.1": None}
    try:
        lines = fib_trie.read_text().splitlines()
    except OSError:
        return tuple(found)
    for previous, line in itertools.pairwise(lines):
        if line.strip() == "/32 host LOCAL":
            address = previous.strip().removeprefix("|-- ")
            if not address.startswith("127."):
                found[address] = None
    return tuple(found)
