"""The version of memberlens: written into saved models and reports, and shown by ``--version``."""

__version__ = "0.1.0"
