"""Configuration: the key table, sources (file, environment, arguments), validation and
the settings model. Imports ``_core`` and ``_resilience`` (their config objects).
"""
