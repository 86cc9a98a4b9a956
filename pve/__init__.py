"""PVE shared kernel: models, settings, events, errors."""

__version__ = "0.1.0"
