"""Core instrumentation: stage decorators, the engine, readers, content capture and the
metric buffer. Imports only ``ragsight.names`` and OpenTelemetry's API.
"""
