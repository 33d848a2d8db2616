"""Fixtures for lowdim's own tests: pytester runs real pytest sessions of the plugin."""

pytest_plugins = ["pytester"]
