"""Export: ``configure()``/``shutdown()``, OTLP and file exporters, export health, logging
and ``ragsight summary``. Imports everything below it, nothing above.
"""
