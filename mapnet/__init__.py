"""MAPnet's small shared runtime: settings, logs, envelope codec, outbox relay, servers, CLI."""

__version__ = "0.1.0"
