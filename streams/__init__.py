"""Faust stream processors: the ledger agent, the job orchestrator, the view projector and the notifier."""
