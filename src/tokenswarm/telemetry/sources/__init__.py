"""Telemetry sources: one module per tool, each a pure parser plus how to run the tool."""
