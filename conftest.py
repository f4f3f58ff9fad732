"""Root conftest: loads the edgex-smoke plugin; the logic lives in `harness.plugin`."""

pytest_plugins = ["harness.plugin"]
