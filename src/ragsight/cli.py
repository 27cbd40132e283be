"""The ``ragsight`` command: demo, config check/show, summary, view, report (and stack)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
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
    if settings.otel_config_file:
        print(
            f"OpenTelemetry declarative configuration {settings.otel_config_file} matches the "
            f"configuration schema: configure() builds the providers (and exporters) from it"
        )
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
    if settings.otel_config_file:
        print(
            f"export: as the OpenTelemetry declarative configuration "
            f"{settings.otel_config_file} says ({settings.source_of('otel_config_file')}); "
            f"ragsight's export settings below are not used"
        )
    elif settings.uses_otlp():
        print("export: OTLP")
    elif settings.uses_file_sink():
        print(f"export: files in {settings.file_sink.directory} (no OTLP endpoint configured)")
    width = max(len(k) for k, _v, _s in rows)
    print(f"{'key':<{width}}  {'value':<40}  source")
    for key, value, source in rows:
        print(f"{key:<{width}}  {_show_value(value):<40}  {source}")
    return 0


def _telemetry_directory(args: argparse.Namespace) -> Path | None:
    directory = Path(args.dir)
    if not directory.is_dir():
        print(f"no such directory: {directory}", file=sys.stderr)
        return None
    return directory


def _cmd_summary(args: argparse.Namespace) -> int:
    from ragsight._viewer.console import make_console
    from ragsight._viewer.reader import read_directory
    from ragsight._viewer.runs import RunError, runs_of, select
    from ragsight._viewer.summary import render, summarize_selection

    directory = _telemetry_directory(args)
    if directory is None:
        return 1
    recording = read_directory(directory)
    console = make_console()
    if args.runs:
        for run in runs_of(recording):
            console.print(
                f"{run.id or '(no run id)'}  {', '.join(sorted(run.services))}  "
                f"{run.spans} spans  {run.points} metric points  {run.logs} log records"
            )
        return 0
    try:
        selection = select(recording, args.run_id, all_runs=args.all)
    except RunError as exc:
        print(exc, file=sys.stderr)
        return 1
    console.print(render(summarize_selection(selection)))
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    from ragsight._viewer.console import make_console
    from ragsight._viewer.runs import RunError
    from ragsight._viewer.view import ViewOptions, view

    directory = _telemetry_directory(args)
    if directory is None:
        return 1
    options = ViewOptions(
        run=args.run_id,
        all_runs=args.all,
        trace_id=args.trace,
        stage=args.stage,
        errors_only=args.errors,
        limit=args.limit,
    )
    try:
        shown = view(directory, options)
    except RunError as exc:
        print(exc, file=sys.stderr)
        return 1
    make_console().print(shown)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ragsight._viewer.report import write_report
    from ragsight._viewer.runs import RunError

    directory = _telemetry_directory(args)
    if directory is None:
        return 1
    try:
        written = write_report(directory, args.output, args.run_id, all_runs=args.all)
    except RunError as exc:
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot write {args.output}: {exc}", file=sys.stderr)
        return 1
    print(
        f"report of {written.scope} ({written.spans} spans) written to "
        f"{written.path.resolve()} ({written.bytes // 1024} KiB, opens from disk)"
    )
    if written.skipped:
        print(written.skipped, file=sys.stderr)
    return 0


def _live_frame(tally: Any, pipeline: Any, total: int) -> Any:
    from ragsight._viewer.live import Frame

    snapshot = pipeline.breaker.snapshot()
    return Frame(
        done=tally.questions,
        total=total,
        breaker=pipeline.breaker.name,
        breaker_state=snapshot.state,
        seconds_until_probe=snapshot.seconds_until_probe,
        store_calls=tally.store_calls,
        store_failures=tally.store_failures,
        degraded=dict(tally.degraded),
        cache_hits=tally.cache["hit"],
        cache_misses=tally.cache["miss"],
        last_score=tally.last_score,
        stages={f"{s} / {o}": (n, tally.errors[(s, o)]) for (s, o), n in tally.calls.items()},
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    import contextlib

    import ragsight
    from ragsight._demo import FAST_PACE, PACE, run_demo
    from ragsight._export.health import dropped_counts

    overrides: dict[str, Any] = {}
    if args.dir:
        overrides["file_sink_directory"] = args.dir
    settings = ragsight.configure(
        service_name=os.environ.get("OTEL_SERVICE_NAME") or "ragsight-demo", **overrides
    )
    latency, pace = (0.0, FAST_PACE) if args.fast else (1.0, PACE)
    with contextlib.ExitStack() as stack:
        on_question = None
        if args.live:
            from ragsight._viewer.live import dashboard

            board = stack.enter_context(dashboard())

            def on_question(tally: Any, pipeline: Any, total: int) -> None:
                board.show(_live_frame(tally, pipeline, total))

        demo = run_demo(
            questions=args.questions, latency=latency, pace=pace, seed=args.seed,
            on_question=on_question,
        )  # fmt: skip
    ragsight.shutdown()  # while `demo` still holds the breaker: its state gauge is exported
    tally = demo.tally
    if args.json:
        print(json.dumps({"tally": tally.as_json(), "dropped": dropped_counts()}))
        return 0
    calls = sum(tally.calls.values())
    print(
        f"demo: {args.questions} questions, {calls} stage calls, "
        f"{sum(tally.degraded.values())} answered without documents during the outage, "
        f"cache {tally.cache['hit']} hits / {tally.cache['miss']} misses"
    )
    if settings.uses_file_sink():
        _print_demo_files(Path(settings.file_sink.directory), args.report)
    elif settings.uses_otlp():
        print("telemetry exported over OTLP; open your collector's backend to see it")
    return 0


def _print_demo_files(directory: Path, report: str | None) -> None:
    from ragsight._viewer.console import make_console
    from ragsight._viewer.reader import read_directory
    from ragsight._viewer.report import write_report
    from ragsight._viewer.runs import select
    from ragsight._viewer.summary import render, summarize_selection

    print(f"telemetry written to {directory.resolve()} (OTLP JSON Lines)\n")
    make_console().print(
        render(summarize_selection(select(read_directory(directory), None, all_runs=False)))
    )
    target = Path(report) if report else directory / "report.html"
    try:
        written = write_report(directory, target)
    except OSError as exc:
        print(f"\nno report: cannot write {target}: {exc}", file=sys.stderr)
    else:
        print(f"\nreport: {written.path.resolve()} (open it in a browser; no network needed)")
    print(
        f"look at single traces with `{_ragsight_command()} view {directory}`, or replay the "
        f"files into the bundled stack with the Collector's otlpjsonfile receiver"
    )


def _ragsight_command() -> str:
    """How to call this installation's ``ragsight`` from here, exactly as it can be typed:
    the bare name when it is on PATH, else its script's path (``.venv/bin/ragsight`` after
    ``./run demo``, whose venv is not activated)."""
    script = Path(sys.prefix) / "bin" / "ragsight"
    found = shutil.which("ragsight")
    if found is not None and Path(found).resolve() == script.resolve():
        return "ragsight"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """DIR, --run and --all: what summary, view and report read."""
    parser.add_argument("dir", nargs="?", default="ragsight-telemetry", metavar="DIR")
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument(
        "--run",
        dest="run_id",
        metavar="ID",
        help="a run id prefix, or -N for the N-th latest (default: -1, the latest)",
    )
    runs.add_argument("--all", action="store_true", help="every run in DIR together")


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
    demo.add_argument("--live", action="store_true", help="refresh a terminal dashboard")
    demo.add_argument("--report", help="where to write the HTML report (default DIR/report.html)")
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
    _add_reading_arguments(summary)
    summary.add_argument("--runs", action="store_true", help="list the runs in DIR")
    summary.set_defaults(run=_cmd_summary)

    view = sub.add_parser("view", help="traces as trees in the terminal")
    _add_reading_arguments(view)
    view.add_argument("--trace", metavar="ID", help="the trace(s) whose id starts with ID")
    view.add_argument("--stage", help="traces with a span of this stage, slowest by it")
    view.add_argument("--errors", action="store_true", help="failing traces only")
    view.add_argument("--limit", type=_positive, default=3, help="traces of each kind (3)")
    view.set_defaults(run=_cmd_view)

    report = sub.add_parser("report", help="one self-contained HTML report with charts")
    _add_reading_arguments(report)
    report.add_argument("-o", "--output", default="report.html", help="(default report.html)")
    report.set_defaults(run=_cmd_report)

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
