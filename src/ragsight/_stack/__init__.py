"""The bundled stack: the ``ragsight stack`` command and the generator of the Collector
config, Prometheus rules, rule tests and Grafana dashboards. Reads the names contract and
the settings defaults (``_config``); nothing imports it but the CLI.
"""
