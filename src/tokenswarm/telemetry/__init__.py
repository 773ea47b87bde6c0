"""GPU host telemetry: tool sources, normalised samples, the agent loop and its sinks.

Must not import locust or gevent (a test enforces it): the agent runs on GPU hosts as a plain
process, and the load side imports these modules only for the shared schema.
"""
