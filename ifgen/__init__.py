"""ifgen: RHEL initscripts network files from a declared inventory."""

__version__ = "0.1.0"
