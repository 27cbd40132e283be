"""The ``ragsight`` command: demo, config check/show, summary (and stack, when present)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _cmd_config_check(args: argparse.Namespace) -> int:
    from ragsight._config.settings import ConfigError
    from ragsight._config.validation import load_settings

    try:
        settings = load_settings(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    files = sorted({s[5:] for s in settings.sources.values() if s.startswith("file ")})
    where = f" (file: {', '.join(files)})" if files else ""
    print(f"ragsight configuration is valid{where}")
    return 0


def _show_value(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    return "-" if value is None else str(value)


def _cmd_config_show(args: argparse.Namespace) -> int:
    from ragsight._config.keys import KEYS
    from ragsight._config.settings import ConfigError
    from ragsight._config.validation import load_settings

    try:
        settings = load_settings(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    rows = [
        (key.name, key.mask(settings.get(key.name)), settings.source_of(key.name)) for key in KEYS
    ]
    if args.json:
        print(json.dumps({k: {"value": v, "source": s} for k, v, s in rows}, default=str))
        return 0
    if settings.uses_otlp():
        print("export: OTLP")
    elif settings.uses_file_sink():
        print(f"export: files in {settings.file_sink.directory} (no OTLP endpoint configured)")
    width = max(len(k) for k, _v, _s in rows)
    print(f"{'key':<{width}}  {'value':<40}  source")
    for key, value, source in rows:
        print(f"{key:<{width}}  {_show_value(value):<40}  {source}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from ragsight._export.summary import render, summarize

    directory = Path(args.dir)
    if not directory.is_dir():
        print(f"no such directory: {directory}", file=sys.stderr)
        return 1
    print(render(summarize(directory), directory))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import ragsight
    from ragsight._demo import run_demo
    from ragsight._export.health import dropped_counts
    from ragsight._export.summary import render, summarize

    overrides: dict[str, Any] = {}
    if args.dir:
        overrides["file_sink_directory"] = args.dir
    settings = ragsight.configure(
        service_name=os.environ.get("OTEL_SERVICE_NAME") or "ragsight-demo", **overrides
    )
    tally = run_demo(questions=args.questions, latency=0.0 if args.fast else 1.0, seed=args.seed)
    ragsight.shutdown()
    if args.json:
        print(json.dumps({"tally": tally.as_json(), "dropped": dropped_counts()}))
        return 0
    calls = sum(tally.calls.values())
    print(
        f"demo: {args.questions} questions, {calls} stage calls, "
        f"{sum(tally.errors.values())} failed (flaky vector store), "
        f"cache {tally.cache['hit']} hits / {tally.cache['miss']} misses"
    )
    if settings.uses_file_sink():
        directory = Path(settings.file_sink.directory)
        print(f"telemetry written to {directory.resolve()} (OTLP JSON Lines)\n")
        print(render(summarize(directory), directory))
        print(
            f"\nreplay into the bundled stack with the Collector's otlpjsonfile receiver, "
            f"or run `ragsight summary {directory}` again later"
        )
    elif settings.uses_otlp():
        print("telemetry exported over OTLP; open your collector's backend to see it")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragsight", description="OpenTelemetry observability for RAG pipelines."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run an instrumented example RAG pipeline")
    demo.add_argument("--dir", help="where the file sink writes (default ./ragsight-telemetry)")
    demo.add_argument("--questions", type=int, default=40, help="requests to run (default 40)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--fast", action="store_true", help="no simulated latency")
    demo.add_argument("--json", action="store_true", help="print the demo's own tally as JSON")
    demo.set_defaults(run=_cmd_demo)

    config = sub.add_parser("config", help="check or show the effective configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate; exit 1 listing every problem")
    check.add_argument("--file", help="config file (default: RAGSIGHT_CONFIG or discovered)")
    check.set_defaults(run=_cmd_config_check)
    show = config_sub.add_parser("show", help="effective settings with their source")
    show.add_argument("--file", help="config file (default: RAGSIGHT_CONFIG or discovered)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_cmd_config_show)

    summary = sub.add_parser("summary", help="summarise the embedded sink's telemetry files")
    summary.add_argument("dir", nargs="?", default="ragsight-telemetry")
    summary.set_defaults(run=_cmd_summary)

    try:
        stack = importlib.import_module("ragsight._stack.cli")
    except ModuleNotFoundError as exc:
        if exc.name != "ragsight._stack.cli":
            raise
    else:
        stack.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except BrokenPipeError:  # `ragsight config show | head`
        sys.stderr.close()
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
