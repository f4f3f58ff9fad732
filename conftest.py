"""Root conftest: in a checkout, loads the edgex-smoke plugin (`edgex_smoke.plugin`).

An installed edgex-smoke registers the same plugin through its ``pytest11`` entry point, under the
module's name, so pytest loads it once either way.
"""

pytest_plugins = ["edgex_smoke.plugin"]
