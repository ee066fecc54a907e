"""The `triage` command: argument parsing, exit codes and wiring; nothing else.

Library errors are caught in exactly one place (`main`) and printed plainly.
Exit codes: 0 success; 1 some input was invalid (or a pack has problems);
2 usage error (a missing file, an unknown option, a pack that cannot be read),
or a run that could not be done (an output that cannot be written, a worker that failed);
130 interrupted.

A line is printed only by `say` (or `warn`, on standard error), which escapes
every field put into it (`triage.present.escape`): paths, ids and pack texts may hold
anything. Whole documents (`put`) come from renderers that escape their own
fields, or are JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import importlib.util
import io
import json
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

import triage
from triage.apps.web import INSTALL_HINT, REQUIRED
from triage.batch.allocator import tune_for_batch
from triage.core.errors import (
    IncompleteRun,
    InvalidAnswers,
    PackProblem,
    RulePackError,
    TriageError,
    UnreadablePack,
)
from triage.core.pack import RulePack
from triage.fs.files import (
    FileId,
    OutputError,
    atomic_write,
    cannot_write,
    identities,
    output_target,
    refuse_reading,
    refuse_stdout_reading,
    write_bytes,
)
from triage.interop.fhir import FhirUnavailable
from triage.io.formats import COLUMNAR_FORMATS, INPUT_FORMATS, OUTPUT_FORMATS, format_named
from triage.packs.loading import default_pack_path, load_rulepack, read_pack
from triage.packs.verify import check_references, run_examples
from triage.present import escape
from triage.present.describe import mermaid, questions, show
from triage.present.problems import problem_json, problem_line

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
ASK_FORMATS = ("text", "json", "markdown")


def say(template: str = "", *fields: object, file: TextIO | None = None) -> None:
    """Print one line of ours: `template`, each `{}` filled by a field, escaped (`escape.line`)."""
    print(escape.line(template, *fields), file=file or sys.stdout, flush=file is not None)


def warn(template: str, *fields: object) -> None:
    """A line on standard error, as `say` prints it."""
    say(template, *fields, file=sys.stderr)


def put(document: str) -> None:
    """Write a whole document to standard output: rendered by a function that escapes its fields, or JSON."""
    sys.stdout.write(document)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    _stand_in_for_closed_streams()
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit:  # --help, --version or a usage error: argparse wrote its text
            sys.stdout.flush()  # so that a failure to write it is reported, as for any command
            raise
        code = int(args.run(args))
        sys.stdout.flush()  # here, so that a failure to write the last of it is reported
        return code
    except (RulePackError, FhirUnavailable) as exc:
        _report(exc)
        return EXIT_USAGE
    except (OutputError, IncompleteRun) as exc:
        warn("triage: {}", exc)
        return EXIT_USAGE
    except TriageError as exc:
        _report(exc)
        return EXIT_INVALID
    except KeyboardInterrupt:
        warn("\ntriage: interrupted.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`triage questions | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # standard output cannot take what is written (a full disk, /dev/full)
        with contextlib.suppress(OSError, ValueError):  # what is still held goes nowhere at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        warn("triage: cannot write standard output: {}.", exc.strerror or exc)
        return EXIT_USAGE


class _Closed(io.RawIOBase):
    """In place of a standard stream that was closed when triage started (`>&-`): reading or
    writing fails, once (a write is reported, then what is still held is dropped at exit)."""

    told = False

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise OSError(errno.EBADF, "it was closed when triage started")

    def write(self, data: Any) -> int:
        if self.told:
            return len(data)
        self.told = True
        raise OSError(errno.EBADF, "it was closed when triage started")


def _stand_in_for_closed_streams() -> None:
    """Give a standard stream that was closed (Python sets it to None) a stand-in: standard error
    takes nothing, so messages go nowhere; reading standard input, or writing standard output,
    fails as for any stream that cannot be used, and is reported."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (open for the life of the process)
    if sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(_Closed()))
    if sys.stdin is None:
        sys.stdin = io.TextIOWrapper(io.BufferedReader(_Closed()))


def _report(exc: TriageError) -> None:
    """An error on standard error: one line, or a heading and one line per problem."""
    if isinstance(exc, RulePackError):
        warn("triage: rule pack {} cannot be used:", exc.path)
        for problem in exc.problems:
            warn("  {}: {}", exc.path, problem)
    elif isinstance(exc, InvalidAnswers):
        warn("triage: invalid answers:")
        for answer in exc.problems:
            warn("  {}: {}", answer.field, answer.message)
    else:
        warn("triage: {}", exc)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error echoes what was typed escaped, as every line we print is."""

    def error(self, message: str) -> NoReturn:
        super().error(escape.text(message))

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # argparse drops a failed write of --help or --version; `main` reports it, as any other.
        if message:
            (file or sys.stderr).write(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="triage",
        description=(
            "Symptom triage for facial atrophy: a short questionnaire, and the urgency, "
            "prognosis and care suggestions its rules give. Not a diagnosis: see a doctor."
        ),
        epilog="With no command, triage asks the questionnaire (as `triage ask` does).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {triage.__version__}")
    parser.add_argument(
        "--rules", metavar="PATH", type=Path, help="use another rule pack (a folder with pack.yaml)"
    )
    _add_ask_options(parser, suppress=False)
    parser.set_defaults(run=run_ask)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    ask = commands.add_parser(
        "ask", help="take the questionnaire in the terminal (the default when no command is given)"
    )
    _add_ask_options(ask, suppress=True)
    ask.set_defaults(run=run_ask)

    questions = commands.add_parser("questions", help="list the questions and the answers they accept")
    questions.set_defaults(run=run_questions)

    _add_evaluate(commands)

    rules = commands.add_parser("rules", help="work with rule packs")
    rules_commands = rules.add_subparsers(title="rules commands", metavar="COMMAND", required=True)
    check = rules_commands.add_parser(
        "check", help="verify a rule pack, reporting every problem; exit 1 on any, 2 if unreadable"
    )
    check.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    check.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    check.set_defaults(run=run_rules_check)
    show = rules_commands.add_parser("show", help="the questions and decision tables in words, for review")
    show.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    show.add_argument("--format", choices=["text", "markdown"], default="text", help="output format")
    show.set_defaults(run=run_rules_show)
    graph = rules_commands.add_parser(
        "graph", help="the questionnaire flow and decisions as a Mermaid flowchart"
    )
    graph.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    graph.set_defaults(run=run_rules_graph)
    test = rules_commands.add_parser("test", help="run the pack's examples; exit 1 if any fails")
    test.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    test.set_defaults(run=run_rules_test)

    schema = commands.add_parser("schema", help="print the JSON Schema of an answer record or of a result")
    schema.add_argument(
        "kind",
        nargs="?",
        default="answers",
        choices=["answers", "result"],
        help="which schema (default: answers)",
    )
    schema.add_argument("-o", "--output", metavar="FILE", type=Path, help=_WRITE_HELP)
    schema.set_defaults(run=run_schema)

    _add_serve(commands)

    export = commands.add_parser("export", help="write the questionnaire for other systems")
    export_commands = export.add_subparsers(title="export formats", metavar="FORMAT", required=True)
    fhir = export_commands.add_parser("fhir", help="as an HL7 FHIR R4 Questionnaire (JSON)")
    fhir.add_argument("-o", "--output", metavar="FILE", type=Path, help=_WRITE_HELP)
    fhir.set_defaults(run=run_export_fhir)
    return parser


_WRITE_HELP = "write it to FILE (whole or not at all, keeping FILE's permissions)"


def _add_ask_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # `triage --save F` and `triage ask --save F` both work; the subcommand's
    # options default to SUPPRESS so that they never undo the main parser's.
    unset = argparse.SUPPRESS
    parser.add_argument(
        "--save",
        metavar="FILE",
        type=Path,
        default=unset if suppress else None,
        help=(
            "also save the answers as an answer record (.json, .yaml or .yml; "
            ".fhir.json for a FHIR QuestionnaireResponse), readable by you only; checked "
            "before the first question"
        ),
    )
    parser.add_argument(
        "--force",
        action="store_true",
        default=unset if suppress else False,
        help="let --save replace an existing file",
    )
    parser.add_argument(
        "--format",
        choices=ASK_FORMATS,
        default=unset if suppress else "text",
        help="how to show the result (default: text)",
    )


_EVALUATE_EPILOG = """\
inputs: files, folders (searched recursively for .json, .jsonl, .ndjson, .yaml, .yml,
.csv, .parquet, .arrow, .arrows and .feather files) and - (standard input, with
--input-format). A .json or .yaml file holds one record or a list of them; .jsonl one
record per line; .csv a header row of question ids, one row per record ("none" for no
red flags, ";" between choices, an empty cell for a missing answer); .parquet and
Arrow IPC (.arrow, .feather, .arrows) a column per question id, a row per record (a
null is a missing answer; these need pip install 'triage[arrow]').

folders: links to files and folders are followed; each folder is read once (a loop
or a second link to it is skipped, with a note). Only regular files in a folder are
opened: a pipe or device with an answer file's name, a broken link or a folder that
cannot be read is an error entry in its place. A pipe named here (<(cat a.jsonl))
is read like -, with --input-format.

output: exactly one entry per record, in input order: the result, or the record's
errors. Each names its source: file:line (JSON Lines; CSV, where the header is line 1),
file#index (items of a JSON or YAML list, and rows of Parquet and Arrow files, from 0),
or the file (one record). The format is --format if given; else taken from the -o
file's extension (.jsonl, .json, .csv, .md, .txt, .parquet, .arrow, .feather; jsonl for
any other); else text on a terminal and jsonl into a pipe or file. Parquet and Arrow
output has a row per record: id, source, urgency, prognosis, suggestions (ids),
warnings, errors, disclaimer and the rule pack (--texts adds the texts). A summary goes
to standard error.

-o FILE: written to a temporary file beside FILE and renamed over it when complete,
keeping FILE's permissions; a failed run leaves FILE as it was. Through a symbolic
link, the file it leads to is replaced. Refused (exit 2, nothing read or written)
when FILE is a folder or a file this run reads: an answer file by any name (a link,
./name, a file in a folder given), standard input's file, or a rule pack file.

exit status: 0 every record valid; 1 some records or files invalid (the others are
still evaluated and written); 2 usage error (a missing file, a folder with no answer
files, a format that cannot be told, an -o that cannot be written).
"""


def _add_evaluate(commands: argparse._SubParsersAction[_Parser]) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate answer files (JSON, JSON Lines, YAML, CSV, Parquet, Arrow): one result per record",
        description="Evaluate every record of answer files; one entry per record, in input order.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("paths", nargs="+", metavar="PATH", help="answer files, folders, or - for stdin")
    evaluate.add_argument(
        "--format", choices=OUTPUT_FORMATS + COLUMNAR_FORMATS, help="output format (see below)"
    )
    evaluate.add_argument(
        "--input-format", choices=INPUT_FORMATS, help="read every input as this format (needed for -)"
    )
    evaluate.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        help="write here; the file appears only when complete, and never replaces a file the run reads",
    )
    evaluate.add_argument(
        "--compact",
        action="store_true",
        help=(
            "JSON/JSON Lines without the texts, for large runs: ids and categories, suggestions "
            "and explanation as lists of ids; the disclaimer and rule pack stay"
        ),
    )
    evaluate.add_argument(
        "--texts",
        action="store_true",
        help="Parquet/Arrow output: add the texts (urgency, prognosis, suggestions, explanation)",
    )
    evaluate.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        metavar="N",
        help=(
            "evaluate JSON Lines files over 1 MiB with N processes, the same output sooner "
            "(default 1; not for Parquet/Arrow output)"
        ),
    )
    evaluate.set_defaults(run=run_evaluate)


_SERVE_EPILOG = """\
pages: the questionnaire at / (one question a page, Check your answers, the result),
working without JavaScript. Nothing answered is kept on the server: the answers
travel in the pages' forms, never in URLs or cookies.

API: POST /api/v1/evaluate (one record, a list, or a FHIR QuestionnaireResponse or
Bundle), GET /api/v1/questionnaire, /api/v1/questionnaire.fhir, /api/v1/schema/answers,
/api/v1/schema/result, /healthz, and the OpenAPI document at /openapi.json.

needs the web extra: pip install 'triage[web]'
"""


def _add_serve(commands: argparse._SubParsersAction[_Parser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the questionnaire as web pages and an HTTP API (needs triage[web])",
        description="Serve the questionnaire as web pages and an HTTP API until Ctrl-C.",
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1, this machine only)"
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="the port to listen on (default: 8000; 0 picks a free one)"
    )
    serve.add_argument(
        "--rules",
        metavar="PATH",
        type=Path,
        default=argparse.SUPPRESS,
        help="use another rule pack (a folder with pack.yaml)",
    )
    serve.set_defaults(run=run_serve)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be from 0 to 65535")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _pack(args: argparse.Namespace) -> RulePack:
    return load_rulepack(args.rules)


def run_questions(args: argparse.Namespace) -> int:
    """Print every question with its id, when it is asked, and the answers it accepts."""
    pack = _pack(args)
    refuse_stdout_reading(_pack_reads(pack))
    put("".join(line + "\n" for line in questions(pack)))  # escaped by `questions`, as `say` would
    return EXIT_OK


def _pack_path(args: argparse.Namespace) -> Path:
    path: Path | None = args.pack or args.rules
    return path if path is not None else default_pack_path()


def run_rules_check(args: argparse.Namespace) -> int:
    """Verify a pack and print every problem, one a line; the pack's sha256 when it is clean."""
    path = _pack_path(args)
    try:
        pack = load_rulepack(path)
    except RulePackError as exc:
        problems, pack_file = exc.problems, Path(exc.path)  # each with its line, from the one read
        unreadable = any(isinstance(p, UnreadablePack) for p in problems)
        refuse_stdout_reading(identities([(pack_file, f"the rule pack's file {pack_file}")]))
        if args.format == "json":
            report = {
                "pack": str(pack_file),
                "valid": False,
                "problems": [problem_json(p) for p in problems],
            }
            put(json.dumps(escape.unicode_data(report), indent=2) + "\n")
        else:
            for problem in problems:
                _say_problem(pack_file, problem)
            warn("{} problem(s) found.", len(problems))
        return EXIT_USAGE if unreadable else EXIT_INVALID
    refuse_stdout_reading(_pack_reads(pack))
    if args.format == "json":
        info = pack.info.model_dump()
        report = {"pack": str(pack.path), "valid": True, **info, "problems": []}
        put(json.dumps(escape.unicode_data(report), indent=2) + "\n")
    else:
        say("{}: {} {} is valid (sha256 {}).", pack.path, pack.info.name, pack.info.version, pack.info.sha256)
    return EXIT_OK


def _say_problem(pack_file: Path, problem: PackProblem) -> None:
    put(problem_line(pack_file, problem) + "\n")  # escaped by `problem_line`, as `say` would


def run_rules_show(args: argparse.Namespace) -> int:
    """Print the whole decision logic of a pack in words."""
    pack = load_rulepack(_pack_path(args))
    refuse_stdout_reading(_pack_reads(pack))
    put(show(pack, markdown=args.format == "markdown"))
    return EXIT_OK


def run_rules_graph(args: argparse.Namespace) -> int:
    """Print the questionnaire flow and the decisions as a Mermaid flowchart."""
    pack = load_rulepack(_pack_path(args))
    refuse_stdout_reading(_pack_reads(pack))
    put(mermaid(pack))
    return EXIT_OK


def run_rules_test(args: argparse.Namespace) -> int:
    """Run the pack's examples, reporting each failing one with expected and actual results."""
    pack = read_pack(_pack_path(args))
    refuse_stdout_reading(_pack_reads(pack))
    problems = list(check_references(pack))
    if problems:
        for problem in problems:
            _say_problem(pack.path, problem)
        warn("the pack's names do not resolve; fix these first (see `triage rules check`).")
        return EXIT_INVALID
    runs = list(run_examples(pack))
    failed = [run for run in runs if not run.passed]
    for run in runs:
        say("{} {}", "ok  " if run.passed else "FAIL", run.name)
        if run.passed:
            continue
        for problem in run.problems:
            say("     {}: {}", problem.where, problem.message)
        say("     expected: {}", _outcome(run.expected))
        say("     actual:   {}", _outcome(run.actual) if run.actual is not None else "(no result)")
    say("{} passed, {} failed.", len(runs) - len(failed), len(failed))
    return EXIT_INVALID if failed else EXIT_OK


def _outcome(outcome: Mapping[str, object]) -> str:
    suggestions = outcome["suggestions"]
    assert isinstance(suggestions, list)
    return (
        f"urgency {outcome['urgency']}, prognosis {outcome['prognosis']}, "
        f"suggestions [{', '.join(str(s) for s in suggestions)}]"
    )


def run_schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON Schema of an answer record or of a result for the pack."""
    from triage.interop.schema import answers_schema, result_schema

    pack = _pack(args)
    schema = answers_schema(pack) if args.kind == "answers" else result_schema(pack)
    return _write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", args.output, pack)


def run_export_fhir(args: argparse.Namespace) -> int:
    """Print (or write) the pack's questionnaire as a FHIR R4 Questionnaire."""
    from triage.interop.fhir_questionnaire import questionnaire_json  # fhir.resources: slow to import

    pack = _pack(args)
    return _write(questionnaire_json(pack), args.output, pack)


def _pack_reads(pack: RulePack) -> dict[FileId, str]:
    """The pack's files, which no output of the run may replace."""
    pack_file, source = pack.files
    return identities(
        [
            (pack_file, f"the rule pack's file {pack_file}"),
            (source, f"the rule pack's source article {source}"),
        ]
    )


def _write(text: str, output: Path | None, pack: RulePack) -> int:
    """Print `text`, or write it to `output` (atomically, never over a file of the pack)."""
    if output is None:
        refuse_stdout_reading(_pack_reads(pack))
        put(text)
        return EXIT_OK
    target = output_target(output)
    refuse_reading(target, _pack_reads(pack))
    try:
        write_bytes(target, text.encode("utf-8"))
    except OSError as exc:
        warn("triage: {}", cannot_write(output, exc, target.folder))
        return EXIT_USAGE
    warn("wrote {}", output)
    return EXIT_OK


def run_ask(args: argparse.Namespace) -> int:
    """Take the questionnaire in the terminal, then show (and optionally save) the result."""
    from triage.io.answerfile import SAVE, SaveError, check_target, write_record
    from triage.present.render import render_json, render_markdown, render_text

    save: Path | None = args.save
    if save is not None:
        try:
            check_target(save, overwrite=args.force)
        except SaveError as exc:
            warn("triage: {}", exc)
            return EXIT_USAGE
    if not sys.stdin.isatty():
        warn("triage: the questionnaire needs a terminal, and standard input is not one.")
        warn("To evaluate answers from a file or a pipe, use `triage evaluate FILE`")
        warn("(or `triage evaluate -` to read them from standard input).")
        return EXIT_USAGE
    pack = _pack(args)
    try:
        refuse_stdout_reading(_pack_reads(pack))  # the result is written there, after every question
        if save is not None:
            refuse_reading(output_target(save, action=SAVE), _pack_reads(pack), action=SAVE)
    except OutputError as exc:
        warn("triage: {}", exc)
        return EXIT_USAGE
    from triage.apps import terminal  # questionary, slow to import, loads only when it is needed

    screen = sys.stdout if sys.stdout.isatty() else sys.stderr
    record = terminal.run(pack, out=screen)
    result = triage.evaluate(record, rulepack=pack)
    status = EXIT_OK
    if save is not None:
        # Saved before the result is shown, so nothing answered is lost afterwards.
        try:
            write_record(save, record, overwrite=args.force, pack=pack)
            say("Your answers are saved in {}.", save, file=screen)
        except SaveError as exc:  # the file appeared while the questions were asked
            warn("triage: {}", exc)
            status = EXIT_INVALID
        except OSError as exc:
            warn("triage: could not save your answers to {}: {}", save, exc.strerror or exc)
            status = EXIT_INVALID
    say(file=screen)
    if args.format == "json":
        put(render_json(result) + "\n")
    elif args.format == "markdown":
        put(render_markdown(result))
    else:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        width = min(shutil.get_terminal_size((80, 24)).columns, 100)
        put(render_text(result, width=width, color=color, why="short"))
    return status


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate answer files: one entry per record, a summary on stderr; exit 0, 1 or 2."""
    from triage.batch.run import evaluate_files
    from triage.batch.stream import TableReader
    from triage.batch.summary import Progress, Summary
    from triage.io.inputs import find_inputs
    from triage.io.writers import make_writer

    output: Path | None = args.output
    target = output_target(output) if output is not None else None  # a folder is refused at once
    inputs = find_inputs(args.paths, args.input_format)
    for note in inputs.notes:
        warn("triage: {}", note)
    for problem in inputs.problems:
        warn("triage: {}", problem)
    files = inputs.files
    if not files:
        return EXIT_USAGE
    if target is not None:
        refuse_reading(target, inputs.reads())  # before anything is read
    else:
        refuse_stdout_reading(inputs.reads())
    pack = _pack(args)
    if target is not None:
        refuse_reading(target, _pack_reads(pack))
    else:
        refuse_stdout_reading(_pack_reads(pack))
    # The pack and the modules live as long as the run: keep them out of the collector's passes.
    gc.freeze()
    tune_for_batch()  # whatever malloc settings the environment passed on (triage.batch.allocator)
    to_terminal = output is None and sys.stdout.isatty()
    fmt = args.format
    if fmt is None:
        if output is not None:
            fmt = format_named(output, "written") or "jsonl"
        else:
            fmt = "text" if to_terminal else "jsonl"
    columnar = fmt in COLUMNAR_FORMATS
    columnar_inputs = any(f.format in COLUMNAR_FORMATS for f in files)
    usage = _columnar_usage(args, fmt, columnar, columnar_inputs)
    if usage is not None:
        warn("triage: {}", usage)
        return EXIT_USAGE
    tables: TableReader | None = None
    if columnar or columnar_inputs:
        # pyarrow, optional and slow to import, loads only for a run with a Parquet or Arrow file.
        from triage.batch import arrowfiles

        tables = arrowfiles.items
    width = shutil.get_terminal_size().columns if to_terminal else 80
    color = to_terminal and not os.environ.get("NO_COLOR")
    writer = None if columnar else make_writer(fmt, pack, compact=args.compact, width=width, color=color)
    progress = None
    if sys.stderr.isatty() and not to_terminal:
        progress = Progress(sum(f.size for f in files))

    def evaluate(out: BinaryIO) -> Summary:
        if writer is None:
            return arrowfiles.evaluate_columnar(files, pack, out, fmt, texts=args.texts, progress=progress)
        return evaluate_files(files, pack, writer, out, jobs=args.jobs, progress=progress, tables=tables)

    # A polite kill (SIGTERM) unwinds like Ctrl-C, so a half-written output file is removed.
    signal.signal(signal.SIGTERM, _interrupted)
    if target is not None:
        try:
            with atomic_write(target) as out:
                summary = evaluate(out)
        except OSError as exc:
            warn("triage: {}", cannot_write(target.path, exc, target.folder))
            return EXIT_USAGE
    else:
        try:
            summary = evaluate(sys.stdout.buffer)
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise  # the reader went away: not an error of ours (see `main`)
            warn("triage: cannot write the output: {}.", exc.strerror or exc)
            return EXIT_USAGE
    for line in summary.lines(pack):
        warn("{}", line)
    if output is not None:
        warn("written to {}", output)
    if inputs.problems:
        return EXIT_USAGE
    return EXIT_INVALID if summary.invalid or summary.unreadable_files else EXIT_OK


def _columnar_usage(args: argparse.Namespace, fmt: str, columnar: bool, columnar_inputs: bool) -> str | None:
    """What is wrong with asking for (or reading) Parquet and Arrow files here, if anything."""
    if args.texts and not columnar:
        return "--texts is for Parquet and Arrow output (the other formats have the texts unless --compact)."
    if args.texts and args.compact:
        return "--texts and --compact ask for opposite things: give one of them."
    if (columnar or columnar_inputs) and importlib.util.find_spec("pyarrow") is None:
        return "Parquet and Arrow files need pyarrow: pip install 'triage[arrow]'."
    if columnar and args.output is None and sys.stdout.isatty():
        return f"--format {fmt} is binary, not for a terminal: write it with -o FILE, or into a pipe."
    return None


def run_serve(args: argparse.Namespace) -> int:
    """Serve the questionnaire as web pages and the HTTP API until interrupted."""
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        warn(
            "triage: `triage serve` needs the web extra, which is not installed (missing: {}). "
            "Install it with: {}",
            ", ".join(missing),
            INSTALL_HINT,
        )
        return EXIT_USAGE
    pack = _pack(args)
    refuse_stdout_reading(_pack_reads(pack))
    from triage.apps.web.server import listen, serve  # the web stack loads only when it is needed

    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        warn("triage: cannot listen on {} port {}: {}.", args.host, args.port, exc.strerror or exc)
        return EXIT_USAGE
    # Standard output that cannot take the address printed is reported as for any command (`main`).
    serve(pack, sock, host=args.host, out=sys.stdout)
    return EXIT_OK


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
