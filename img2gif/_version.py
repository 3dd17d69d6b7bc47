"""The version, in a module that imports nothing (checkpoints and the CLI read it)."""
__version__ = "0.1.0"
