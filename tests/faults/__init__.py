"""Helpers for the fault-injection suite: the bot in-process or as a `tminus run` subprocess."""
