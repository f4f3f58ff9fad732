"""The top of edgex-smoke: the pytest plugin, the run's lifecycle, its options and its status line.

Everything below it (``distros``, ``manifests``, ``edgex_client``, ``reports``, and the
base ``harness``) is free of pytest, except where a contract in ``pyproject.toml`` says so.
"""
