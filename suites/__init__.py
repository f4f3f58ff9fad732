"""The smoke checks a to i, run with `pytest --distro=NAME`."""
