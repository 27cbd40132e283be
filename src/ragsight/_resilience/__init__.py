"""Resilience: circuit breaker, retry, budget, backoff, classification, batch processing
and their telemetry. Imports ``_core`` (runtime, instruments, callables) and nothing above.
"""
