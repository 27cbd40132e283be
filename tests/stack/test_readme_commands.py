"""Every command the documentation shows works exactly as written on a fresh clone.

README.md, then docs/*.md and collector/README.md, are read from HEAD at run time. From each,
in document order, the test takes

- every command of a ```bash, ```sh, ```shell or ```console block (in a console block the
  lines after ``$ ``, and the lines under one as its expected output); a line ending in ``\\``
  continues on the next, a here-document runs to its terminator;
- every inline code span that is a command line: it starts with ``./run <word>``, ``.ci/run``,
  ``.venv/bin/``, ``. .venv/bin/activate``, ``ragsight <word>``, ``python``, ``python3``,
  ``pip`` or ``uv`` followed by a space (a bare ``./run`` names the script, not a command).

They run in one bash process, one after another, in a fresh ``git clone`` of HEAD: a user
following the documents in one terminal. ``cd``, ``export`` and an activated environment carry
over to the next command and files stay. Nothing is prepared: ``PATH`` holds no virtualenv,
no ``OTEL_*``/``RAGSIGHT_*``/``PYTEST_*`` variable is set, and the README's first command
(``./run demo``) creates the clone's own ``.venv`` as on a fresh machine (``python3 -m venv``,
``uv``, the ``dev`` extra). The clone shares nothing with the repository's ``.venv`` but uv's
download cache (``~/.cache/uv``, warm wherever the repository's own ``.venv`` was made), which
is what keeps that step at seconds; the stack binaries come from ``~/.cache/ragsight`` like
every stack test's (``./run test`` builds them before this tier runs).

Each command must exit 0 and print what the documents say it prints, unless ``HANDLING``
lists it: with the reason, what runs in its place, and what it must print or leave behind. A
command added to the documents later is picked up automatically; one that cannot work here
fails until it is listed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from stackgen import ROOT

DOCS_FIRST = ("README.md",)
DOCS_AFTER = ("collector/README.md",)
SHELL_FENCES = {"bash", "sh", "shell", "console", "shell-session"}
INLINE_COMMAND = re.compile(
    r"(\./run [a-z]|\.ci/run$|\.venv/bin/|\. \.venv/bin/activate$|ragsight [a-z]"
    r"|python3? |pip3? |uv )"
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\r")
DEFAULT_TIMEOUT = 240.0
REPAIR_HINT = (
    "fix the document (or the code) so it works as written; if it cannot run inside this "
    "test, list it in HANDLING with the reason and what runs instead"
)


@dataclass(frozen=True)
class Command:
    """One command line as a document shows it."""

    doc: str
    line: int
    text: str
    shown_output: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The command without comments and spacing, as HANDLING names it."""
        try:
            return " ".join(shlex.split(self.text, comments=True))
        except ValueError:
            return self.text.strip()

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line} {self.key}"


@dataclass(frozen=True)
class Handling:
    """What the test does with one documented command, and why."""

    why: str
    instead: str | None = None  # run this in its place; None with skip=True: not run here
    skip: bool = False
    prints: tuple[str, ...] = ()  # text its output contains (ANSI and spacing ignored)
    creates: tuple[str, ...] = ()  # files it leaves, relative to where it ran
    terminal: bool = False  # run under a pseudo-terminal, as typed
    exit_code: int = 0
    without_docker: bool = False  # skipped where a Docker engine answers
    once: bool = False  # shown again later: that occurrence is skipped, it ran already


NO_DOCKER = Handling(
    why="starts the compose stack; where a Docker engine answers, tests/stack/"
    "test_docker_stack.py runs that stack, without one the command says so (collector/README.md)",
    without_docker=True,
    exit_code=2,
    prints=("The bundled stack runs in Docker",),
)
FEW_ROUNDS = "the full rounds take minutes; the same scripts run with fewer rounds and calls"

# Keyed by Command.key. Entries that no document shows any more fail
# test_every_listed_exception_is_still_documented.
HANDLING: dict[str, Handling] = {
    "./run demo": Handling(
        why="the README says it prints the summary and writes a report",
        prints=("circuit breakers", "retries", "report: "),
        creates=("ragsight-telemetry/report.html",),
        once=True,
    ),
    "./run demo --live": Handling(
        why="a terminal dashboard: it draws only on a terminal",
        terminal=True,
        prints=("question 40/40", "breaker"),
    ),
    "./run view": Handling(why="traces as trees", prints=("trace ",)),
    "./run report -o report.html": Handling(why="writes the page", creates=("report.html",)),
    "./run test": Handling(
        why="the whole suite, this test included, would run this test again: every step runs "
        "(installs, lint, types, each tier's collection) but the tests' bodies; "
        "test_ci_runs_the_readme_test_command checks that .ci/run calls it",
        instead="./run test --collect-only -q",
        prints=("tests/unit/", "tests/libs/", "tests/stack/"),
        once=True,
    ),
    ".ci/run": Handling(
        why="CI's entry point is `./run test` (test_ci_runs_the_readme_test_command), which "
        "would run this test again",
        skip=True,
    ),
    "./run unit": Handling(
        why="a whole tier (minutes; `./run test` runs it): lint, types and the tier's collection",
        instead="./run unit --collect-only -q",
        prints=("tests/unit/",),
        once=True,
    ),
    "./run libs": Handling(
        why="a whole tier (`./run test` runs it): its install and the tier's collection",
        instead="./run libs --collect-only -q",
        prints=("tests/libs/",),
        once=True,
    ),
    "./run stack": Handling(
        why="the tier this test belongs to would run this test again: its install and collection",
        instead="./run stack --collect-only -q",
        prints=("tests/stack/test_readme_commands.py",),
        once=True,
    ),
    "./run bench": Handling(
        why=FEW_ROUNDS,
        instead="./run bench --rounds 3 --calls 200",
        prints=("retry vs tenacity",),
        once=True,
    ),
    "python benchmarks/resilience.py": Handling(
        why=FEW_ROUNDS,
        instead="python benchmarks/resilience.py --rounds 3 --calls 200",
        prints=("retry vs tenacity",),
    ),
    "ragsight stack up": NO_DOCKER,
    "ragsight stack down": NO_DOCKER,
    "pip install ragsight": Handling(
        why="ragsight is not on PyPI yet: the clone is installed the way an index would serve "
        "it (a wheel built from it, not editable) into a throwaway environment, whose "
        "`ragsight --help` must run",
        instead='( set -e; d=$(mktemp -d); trap \'rm -rf "$d"\' EXIT; uv venv -q "$d"; '
        'uv pip install -q --python "$d/bin/python" .; "$d/bin/ragsight" --help )',
        prints=("usage: ragsight",),
    ),
    "uv pip install": Handling(
        why="names the tool in prose (docs/readers.md: what `./run libs` spends its time on); "
        "alone it is a usage error, and `./run libs` runs it for real",
        skip=True,
    ),
}


# --- reading the documents -----------------------------------------------------------------


def head_text(rel: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "show", f"HEAD:{rel}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def documents() -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", "HEAD", "docs/"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [*DOCS_FIRST, *sorted(p for p in listed if p.endswith(".md")), *DOCS_AFTER]


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w-]*)")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


def block_commands(doc: str, start: int, lines: list[str], console: bool) -> Iterator[Command]:
    """Commands of one fenced block whose first line is line ``start`` of the document."""
    i = 0
    while i < len(lines):
        raw, number = lines[i].strip(), start + i
        i += 1
        if console:
            if not raw.startswith("$ "):
                continue
            raw = raw[2:]
        if not raw or raw.startswith("#"):
            continue
        text = raw
        while text.endswith("\\") and i < len(lines):
            text = text[:-1] + " " + lines[i].strip().removeprefix("> ")
            i += 1
        if heredoc := HEREDOC.search(text):
            body = []
            while i < len(lines) and lines[i].strip() != heredoc.group(2):
                body.append(lines[i])
                i += 1
            text = "\n".join([text, *body, heredoc.group(2)])
            i += 1
        shown: list[str] = []
        while console and i < len(lines) and not lines[i].strip().startswith("$ "):
            if lines[i].strip() and lines[i].strip() not in ("...", "…"):
                shown.append(lines[i].strip())
            i += 1
        yield Command(doc, number, text, tuple(shown))


def doc_commands(doc: str, text: str) -> list[Command]:
    """The commands of one document, in the order a reader meets them."""
    found: list[Command] = []
    prose = text.splitlines()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        marker, language, start = fence.group(2), fence.group(3).lower(), i
        end = start + 1
        while end < len(lines) and not lines[end].strip().startswith(marker):
            end += 1
        if language in SHELL_FENCES:
            found += block_commands(doc, start + 2, lines[start + 1 : end], language == "console")
        for j in range(start, min(end + 1, len(lines))):
            prose[j] = ""  # inline spans are read outside fenced blocks only
        i = end + 1
    joined = "\n".join(prose)
    for span in re.finditer(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", joined, re.S):
        code = " ".join(span.group(2).split())
        if "\n\n" not in span.group(2) and INLINE_COMMAND.match(code):
            found.append(Command(doc, joined.count("\n", 0, span.start()) + 1, code))
    return sorted(found, key=lambda c: c.line)


def all_commands() -> list[Command]:
    return [c for doc in documents() for c in doc_commands(doc, head_text(doc))]


COMMANDS = all_commands()


# --- one terminal ----------------------------------------------------------------------------


def user_environment() -> dict[str, str]:
    """The environment of a fresh terminal: no virtualenv, no telemetry or test settings."""
    venvs = {str(ROOT / ".venv"), os.environ.get("VIRTUAL_ENV", "")} - {""}
    drop = ("OTEL_", "RAGSIGHT_", "PYTEST_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) or k == "UV_CACHE_DIR"}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep)
        if p and not any(p == v or p.startswith(v + os.sep) for v in venvs)
    )  # fmt: skip
    env.pop("PS1", None)
    return env


@dataclass(frozen=True)
class Ran:
    exit_code: int
    output: str  # stdout then stderr, ANSI sequences removed
    cwd: Path


class Terminal:
    """One bash process fed one command at a time, like a user typing them."""

    def __init__(self, cwd: Path, logs: Path) -> None:
        self.logs = logs
        self.count = 0
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE, stdout=(logs / "shell.out").open("w"),
            stderr=subprocess.STDOUT, cwd=cwd, env=user_environment(), text=True,
            start_new_session=True,
        )  # fmt: skip

    def run(self, command: str, timeout: float) -> Ran:
        if self.proc.poll() is not None:
            pytest.fail(f"the terminal ended at an earlier command; not run: {command}")
        self.count += 1
        out, err = self.logs / f"{self.count}.out", self.logs / f"{self.count}.err"
        rc, cwd = self.logs / f"{self.count}.rc", self.logs / f"{self.count}.cwd"
        q = shlex.quote
        script = (
            f"{{\n{command}\n}} >{q(str(out))} 2>{q(str(err))} </dev/null\n"
            f"__rc=$?; pwd >{q(str(cwd))}; echo $__rc >{q(str(rc))}.tmp; "
            f"mv {q(str(rc))}.tmp {q(str(rc))}\n"
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(script)
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while not rc.exists():
            if self.proc.poll() is not None:
                pytest.fail(f"the shell exited (status {self.proc.returncode}) at: {command}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"still running after {timeout:.0f} s (terminal closed): {command}")
            time.sleep(0.05)
        output = out.read_text(errors="replace") + err.read_text(errors="replace")
        return Ran(int(rc.read_text()), ANSI.sub("", output), Path(cwd.read_text().strip()))

    def kill(self) -> None:
        """Stop the shell and whatever its command started (one process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of HEAD: what a new user gets."""
    target = tmp_path_factory.mktemp("readme") / "ragsight"
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "-q", head], check=True)
    return target


@pytest.fixture(scope="module")
def terminal(clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    shell = Terminal(clone, tmp_path_factory.mktemp("terminal"))
    yield shell
    shell.close()


def docker_answers() -> bool:
    """What ``ragsight stack up`` checks first: a compose command and an engine behind it."""
    from ragsight._stack.cli import StackError, check_engine, compose_command

    try:
        compose_command()
        check_engine()
    except StackError:
        return False
    return True


def flat(text: str) -> str:
    return " ".join(text.split())


# --- the tests -------------------------------------------------------------------------------


def test_readme_opens_with_the_demo_and_the_test_command() -> None:
    title, first_block = head_text("README.md").split("```", 1)
    assert title.split() == ["#", "ragsight"]
    language, body = first_block.split("```", 1)[0].split("\n", 1)
    assert language == "bash"
    opening = list(block_commands("README.md", 4, body.splitlines(), console=False))
    assert [c.key for c in opening] == ["./run demo", "./run test"]
    assert [c.key for c in COMMANDS[:2]] == ["./run demo", "./run test"]


def test_ci_runs_the_readme_test_command() -> None:
    steps = [
        line.strip()
        for line in head_text(".ci/run").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    readme_test = [c.key for c in COMMANDS if c.doc == "README.md"][1]
    assert steps == [readme_test]


def test_every_listed_exception_is_still_documented() -> None:
    shown = {c.key for c in COMMANDS}
    assert sorted(set(HANDLING) - shown) == []


@pytest.mark.parametrize("command", COMMANDS, ids=[c.id for c in COMMANDS])
def test_documented_command_works_as_written(command: Command, terminal: Terminal) -> None:
    how = HANDLING.get(command.key, Handling(why="runs as written"))
    if how.skip:
        pytest.skip(f"not run here: {how.why}")
    earlier = next(c for c in COMMANDS if c.key == command.key)
    if how.once and earlier != command:
        pytest.skip(f"ran at {earlier.id} already ({how.why})")
    if how.without_docker and docker_answers():
        pytest.skip(f"a Docker engine answers: {how.why}")
    line = how.instead or command.text
    if how.terminal:
        line = f"script -qec {shlex.quote(line)} /dev/null"
    ran = terminal.run(line, DEFAULT_TIMEOUT)
    where = f"{command.doc}:{command.line}: `{command.text}`"
    if how.instead:
        where += f" (run as `{how.instead}`: {how.why})"
    tail = ran.output[-4000:]
    assert ran.exit_code == how.exit_code, f"{where} exited {ran.exit_code}\n{tail}\n{REPAIR_HINT}"
    for text in (*how.prints, *command.shown_output):
        assert flat(text) in flat(ran.output), f"{where} did not print {text!r}\n{tail}"
    for rel in how.creates:
        assert (ran.cwd / rel).is_file(), f"{where} did not write {rel} in {ran.cwd}"


def test_a_console_block_gives_commands_and_the_output_shown_under_them() -> None:
    doc = (
        "# t\n\n```console\n$ ragsight config check\nragsight configuration is valid\n"
        "$ cd /tmp\n```\n"
    )
    assert doc_commands("t.md", doc) == [
        Command("t.md", 4, "ragsight config check", ("ragsight configuration is valid",)),
        Command("t.md", 6, "cd /tmp"),
    ]


def test_inline_command_spans_are_taken_and_names_of_things_are_not() -> None:
    doc = (
        "Run `./run demo --live`, then `ragsight view\nragsight-telemetry`. `./run` makes\n"
        "`.venv`; `ragsight.configure()` and `pip` extra `libs` are no commands.\n\n"
        "```python\nimport ragsight  # `./run demo` in a code block is Python here\n```\n"
    )
    assert [(c.line, c.text) for c in doc_commands("t.md", doc)] == [
        (1, "./run demo --live"),
        (1, "ragsight view ragsight-telemetry"),
    ]


def test_a_continued_line_and_a_here_document_are_one_command() -> None:
    block = ["ragsight config check \\", "  --file x.toml", "cat > x.toml <<'EOF'", "a = 1", "EOF"]
    assert [c.text for c in block_commands("t.md", 1, block, console=False)] == [
        "ragsight config check  --file x.toml",
        "cat > x.toml <<'EOF'\na = 1\nEOF",
    ]
