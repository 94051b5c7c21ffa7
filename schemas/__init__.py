"""Contracts shared by every process: event envelopes, topic names, job states and HTTP schemas. No I/O here."""
