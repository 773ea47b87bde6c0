"""The simulated OpenAI-compatible inference engine (continuous batching, faults)."""
