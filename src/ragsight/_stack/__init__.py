"""The bundled stack: the ``ragsight stack`` command and the generator of the Collector
config, Prometheus rules, rule tests and Grafana dashboards. Imports only ``ragsight.names``.
"""
