"""The base every layer stands on: the one error hierarchy, the one subprocess runner, the run labels."""
