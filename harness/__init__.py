"""Plumbing shared by the packages: errors, processes, the pytest plugin logic."""
