"""genctl: generate media on hosted model APIs, and diagnose why a call failed."""

__version__ = "0.1.0"
