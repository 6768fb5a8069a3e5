"""Warden client for agent runtimes (standard library only)."""

__version__ = "0.1.0"
