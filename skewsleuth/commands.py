"""The commands: a thin typer layer over the library (``skewsleuth.investigate``,
``skewsleuth.demo``, ``skewsleuth.probe``, ``skewsleuth.watch``, ``skewsleuth.fix``).
``cli.main`` loads this module once it knows the command needs it.

Exit status (BRIEF): investigate: 0 a verdict was reached, 1 inputs were readable but
something was quarantined; probe: 0 all within --max-offset, 1 some beyond it, 2 some
could not be measured; fix: 0 runbook printed or fixed and verified, 1 applied but
failed or still beyond the limit, 2 refused or unreachable; all: 2 unusable input or
arguments (one line on stderr, never a traceback), 130 interrupted (Ctrl-C: one line).

A reader of the output that goes away early (``| head``) is no error: the command
stops writing and exits quietly with the status it had reached (the verdict's, the
probe's, ...); ``timeline``, whose output is the export itself, exits 141 as Unix
tools do.

The pipeline (DuckDB, Arrow) is imported when a command runs, not with this module:
an interrupt while it loads is handled like any other.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, List, NoReturn, Optional

import typer
from typer.core import TyperGroup

from . import __version__
from .cli import CLOSED_PIPE, VERSION_COMMAND_LINE, VERSION_LINE, _exit_interrupted, _Interrupt, _stdout_gone
from .errors import (FixHistoryError, InputError, InventoryError, MissingPywinrm, RuleError, TargetError,
                     WatchError)

if TYPE_CHECKING:
    from .verdict import Verdict

EXIT_STATUS = ("Exit status: 0 a verdict was reached (even 'no incident'), 1 the inputs were readable but "
               "something was quarantined, 2 unusable input or arguments, 130 interrupted.")


class _Commands(TyperGroup):
    """Every command runs through here: an interrupt ends it with one line and 130,
    whatever the command was doing when it came and whatever it raised (click would
    print "Aborted!" for one at a prompt). A reader that goes away from output no
    command guards (a help page, the version) ends it quietly with 0, not click's 1."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)      # --help and --version print from here
        except BrokenPipeError:
            _stdout_gone()
            raise typer.Exit(0) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            result = super().invoke(ctx)
        except BrokenPipeError:
            if _Interrupt.seen:
                _exit_interrupted()
            _stdout_gone()
            raise typer.Exit(0) from None
        except BaseException:
            if _Interrupt.seen:
                _exit_interrupted()
            raise
        if _Interrupt.seen:
            _exit_interrupted()
        return result


app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, cls=_Commands,
                  help="Find the clock that lied: reconstruct every host's clock from its logs and name the "
                       "skewed host behind time-sensitive failures (Kerberos, TLS, SIP federation, ...).",
                  epilog=EXIT_STATUS)


class _Stderr:
    """The console messages go to on stderr, one line per message however long (never
    wrapped at 80 columns); made when first used: rich takes 25-45 ms to import, which
    a command that writes no text (``--json -``, ``--help``) need not pay."""

    _console: Any = None

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            type(self)._console = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._console

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.console.print(*objects, **kwargs)


err = _Stderr()
# The options and arguments several commands take, defined once: each command's
# signature names them (``case: CaseOpt = None``), so their flags, help and metavar
# cannot drift apart from one command to the next.
EvidenceArg = Annotated[List[Path], typer.Argument(
    metavar="PATH...", help="Evidence files and folders (one folder per host).")]
CaseOpt = Annotated[Optional[Path], typer.Option(
    "--case", metavar="FILE", help="Case file (YAML): timezone, references, changes, observations.")]
HostOpt = Annotated[Optional[str], typer.Option(
    "--host", metavar="NAME", help="Host for records that name none, for files named directly.")]
RulesOpt = Annotated[Optional[List[Path]], typer.Option(
    "--rules", metavar="DIR", help="Your own rule folder (repeatable), read beside the built-in rules.")]
TimezoneOpt = Annotated[Optional[str], typer.Option(
    "--timezone", metavar="ZONE", help="IANA zone for times written without one (default: the case file's, else UTC).")]
WorkersOpt = Annotated[Optional[int], typer.Option(
    "--workers", metavar="N",
    help="Processes that read the files (default: every core when the input is 32 MB or more, else 1).")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", metavar="ADDRESS",
    help="Read the files on a Dask cluster (tcp://HOST:PORT); its workers must see the same paths. "
         "Needs pip install 'skewsleuth[scale]'.")]
YearOpt = Annotated[Optional[int], typer.Option(
    "--year", metavar="YEAR",
    help="Year of the first line of every RFC 3164 syslog file, whose times carry none; later lines are "
         "counted forward across New Year (default: each file's newest line is taken to be no later than "
         "the file's modification time).")]
QuietVerdictOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No verdict on the terminal.")]
TargetsArg = Annotated[Optional[List[str]], typer.Argument(
    metavar="TARGET...", help="ntp://host[:port], http(s)://host[:port], smtp://host[:port].")]
InventoryOpt = Annotated[Optional[Path], typer.Option(
    "--inventory", "-i", metavar="FILE", help="Inventory (YAML): hosts, how to probe each, roles.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="Time allowed per target.")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", metavar="N", help="Targets probed at once.")]
InsecureOpt = Annotated[bool, typer.Option("--insecure", help="Do not verify TLS certificates (https targets).")]
NoBuiltinOpt = Annotated[bool, typer.Option("--no-builtin", help="Leave the built-in pack out: only the --rules folders.")]


def _fail(message: str, status: int = 2) -> NoReturn:
    err.print(f"skewsleuth: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(status)


@contextmanager
def _stdout(status: int) -> Iterator[None]:
    """What a command writes to stdout once its status is known: if the reader goes
    away (``| head -1``), stop writing and exit quietly with that status."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()
        raise typer.Exit(status) from None


def _write(target: str, write: Callable[[], None]) -> None:
    """Write an output file; one that cannot be written (a full disk, a read-only
    folder) is a one-line error, not a traceback."""
    try:
        write()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _fail(f"cannot write {target}: {exc.strerror or exc}")


def _outputs(verdict: Verdict, json_out: Optional[str], md_out: Optional[str], quiet: bool,
             html_out: Optional[str] = None, png_out: Optional[str] = None, all_hosts: bool = False) -> None:
    from .report.json import write_json
    from .report.markdown import render_markdown

    with _stdout(verdict.exit_status):
        if json_out:
            _write(json_out, lambda: write_json(verdict.to_dict(), json_out))
        if md_out:
            text = render_markdown(verdict)
            if md_out == "-":
                sys.stdout.write(text)
            else:
                _write(md_out, lambda: Path(md_out).write_text(text, encoding="utf-8"))
        if html_out or png_out:
            from .report.html import write_html, write_png

            if html_out:
                _write(html_out, lambda: write_html(verdict, html_out, all_hosts=all_hosts))
            if png_out:
                _write(png_out, lambda: write_png(verdict, png_out, all_hosts=all_hosts))
        if not quiet and "-" not in (json_out, md_out):
            from .report.console import terminal
            from .report.text import render_text

            render_text(verdict, terminal())


def _run(paths: List[Path], case: Optional[Path], db: Optional[Path], host: Optional[str],
         rules: Optional[List[Path]], timezone: Optional[str], workers: Optional[int] = None,
         scheduler: Optional[str] = None, year: Optional[int] = None) -> Verdict:
    from .investigation import investigate

    if workers is not None and workers < 1:
        _fail("--workers must be 1 or more")
    if scheduler and "://" not in scheduler:
        _fail(f"--scheduler takes a Dask scheduler address like tcp://HOST:8786, not {scheduler!r}")
    reading = {"workers": workers, "scheduler": scheduler, "year": year}
    show = sys.stderr.isatty()
    try:
        if show:
            from rich.progress import Progress, SpinnerColumn, TextColumn

            progress = Progress(SpinnerColumn(), TextColumn("reading {task.description}"), console=err.console,
                                transient=True)
            with progress:
                task = progress.add_task("", total=None)
                verdict = investigate(paths, case, db=db, host=host, rules=rules, timezone=timezone, **reading,
                                      progress=lambda p: progress.update(task, description=str(p)))
        else:
            verdict = investigate(paths, case, db=db, host=host, rules=rules, timezone=timezone, **reading)
    except InputError as exc:
        _fail(str(exc))
    _warn_skipped(verdict.skipped_rules)
    return verdict


def _warn_skipped(skipped: list) -> None:
    for why in skipped:
        err.print(f"warning: rule skipped: {why}", markup=False, highlight=False, soft_wrap=True)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(VERSION_LINE.format(__version__))
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Find the clock that lied."""


def _check_outputs(*targets: Optional[str], html: Optional[str] = None, png: Optional[str] = None) -> None:
    """Refuse unusable outputs before the work, not after it."""
    for flag, t in (("--html", html), ("--png", png)):
        if t == "-":
            _fail(f"{flag} writes a file: give FILE, not '-'")
    named = [t for t in targets + (html, png) if t]
    if named.count("-") > 1:
        _fail("only one of --json and --md can go to stdout ('-')")
    for t in named:
        if t != "-" and not Path(t).expanduser().resolve().parent.is_dir():
            _fail(f"cannot write {t}: folder {Path(t).parent} does not exist")
        if t != "-" and Path(t).expanduser().is_dir():
            _fail(f"cannot write {t}: it is a folder; give a file name")
        if t != "-":
            _check_writable(Path(t).expanduser())


def _check_db(db: Path) -> None:
    """An investigation rebuilds its case database from scratch: a file at --db that
    is not one (a case file, a log, a typo for another name) would be lost."""
    try:
        with open(db.expanduser(), "rb") as fh:
            head = fh.read(12)
    except OSError:
        return      # none yet: it is created
    if head and head[8:12] != b"DUCK":
        _fail(f"--db {db} exists and is not a DuckDB database: it would be overwritten; give another name")


def _check_writable(path: Path) -> None:
    """Open the file for appending, as writing it will (a read-only folder, a file
    system that refuses it): a file this creates is removed again. A FIFO or a device
    is left alone: opening one may wait for a reader."""
    existed = path.exists()
    if existed and not path.is_file():
        return
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        _fail(f"cannot write {path}: {exc.strerror or exc}")
    if not existed:
        try:
            path.unlink()
        except OSError:
            pass


@app.command("investigate", epilog=EXIT_STATUS)
def investigate_cmd(
    paths: EvidenceArg,
    case: CaseOpt = None,
    json_out: Optional[str] = typer.Option(None, "--json", metavar="FILE", help="Write the verdict as JSON to FILE ('-' for stdout)."),
    md_out: Optional[str] = typer.Option(None, "--md", metavar="FILE", help="Write the verdict as Markdown to FILE ('-' for stdout)."),
    html_out: Optional[str] = typer.Option(None, "--html", metavar="FILE", help="Write the verdict as one self-contained HTML page with the clocks drawn (works offline)."),
    png_out: Optional[str] = typer.Option(None, "--png", metavar="FILE", help="Write the chart of the clocks as a PNG image (for a ticket)."),
    all_hosts: bool = typer.Option(False, "--all-hosts", help="With --html/--png: draw a lane for every host (by default the hosts without clock evidence are counted and named, not drawn, and at most 40 lanes are drawn)."),
    db: Optional[Path] = typer.Option(None, "--db", metavar="FILE", help="Keep the case database (DuckDB) in FILE, and every file as parsed in FILE.parsed/: investigating again parses only the files that changed."),
    host: HostOpt = None,
    rules: RulesOpt = None,
    timezone: TimezoneOpt = None,
    quiet: QuietVerdictOpt = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    year: YearOpt = None,
) -> None:
    """Investigate collected evidence and print the verdict.

    \b
    Examples:
      skewsleuth investigate evidence/
      skewsleuth investigate evidence/ --case case.yml --json verdict.json --md ticket.md
      skewsleuth investigate evidence/ --html report.html --png clocks.png
      skewsleuth investigate evidence/ --html report.html --all-hosts   # a lane for every host
      skewsleuth investigate System.evtx --host srv-lyncedge01 --json - | jq '.hosts[].steps'
      skewsleuth investigate evidence/ --db case.duckdb     # again later: only changed files are parsed
      skewsleuth investigate evidence/ --scheduler tcp://127.0.0.1:8786
      skewsleuth investigate evidence/ --year 2026    # syslog files copied without their times
    """
    _check_outputs(json_out, md_out, str(db) if db else None, html=html_out, png=png_out)
    if db is not None:
        _check_db(db)
    verdict = _run(paths, case, db, host, rules, timezone, workers, scheduler, year)
    _outputs(verdict, json_out, md_out, quiet, html_out, png_out, all_hosts)
    raise typer.Exit(verdict.exit_status)


@app.command("timeline", epilog=EXIT_STATUS)
def timeline_cmd(
    paths: EvidenceArg,
    fmt: str = typer.Option("jsonl", "--format", "-f", metavar="FORMAT", help="jsonl, csv, parquet, timesketch (a CSV Timesketch imports) or timesketch-jsonl (JSON Lines Timesketch imports, ids kept integers)."),
    out: str = typer.Option("-", "--out", "-o", metavar="FILE", help="Write to FILE ('-' for stdout; parquet needs a file)."),
    spreadsheet_safe: bool = typer.Option(False, "--spreadsheet-safe", help="For a spreadsheet (csv, timesketch): write a cell that starts like a formula (= + - @) with a leading ' so that it is shown, not run. Off by default: the text is written as logged."),
    case: CaseOpt = None,
    host: HostOpt = None,
    rules: RulesOpt = None,
    timezone: TimezoneOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    year: YearOpt = None,
) -> None:
    """Investigate the evidence and write every event with its logged time, true time and
    uncertainty, in true-time order.

    \b
    Examples:
      skewsleuth timeline evidence/ --case case.yml > timeline.jsonl
      skewsleuth timeline evidence/ --format timesketch --out timeline.csv
      skewsleuth timeline evidence/ --format timesketch-jsonl --out timeline.jsonl
      skewsleuth timeline evidence/ --format csv --spreadsheet-safe --out timeline.csv   # to open in Excel
      skewsleuth timeline evidence/ --format parquet --out timeline.parquet
      skewsleuth timeline evidence/ | jq -c 'select(.symptoms != [])'
      skewsleuth timeline evidence/ --year 2026 --out timeline.jsonl
    """
    import duckdb

    from .report.timeline import CSV_FORMATS, FORMATS, export_timeline

    if fmt not in FORMATS:
        _fail(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    if out == "-" and fmt == "parquet":
        _fail("parquet is binary: give --out FILE")
    if spreadsheet_safe and fmt not in CSV_FORMATS:
        _fail(f"--spreadsheet-safe is for the CSV formats ({', '.join(CSV_FORMATS)}), not {fmt}")
    _check_outputs(out)
    verdict = _run(paths, case, None, host, rules, timezone, workers, scheduler, year)
    try:
        rows = export_timeline(verdict.store, out, fmt, spreadsheet_safe)
    except BrokenPipeError:
        # The reader went away (| head): the export is cut short, 141 as a Unix tool.
        _stdout_gone()
        raise typer.Exit(CLOSED_PIPE) from None
    except (OSError, duckdb.IOException) as exc:
        _fail(f"cannot write {out}: {getattr(exc, 'strerror', None) or exc}")
    if out != "-":
        err.print(f"{rows} events written to {out}", markup=False, highlight=False)
    raise typer.Exit(verdict.exit_status)


@app.command("demo", epilog=EXIT_STATUS)
def demo_cmd(
    out: Path = typer.Option(Path("skewsleuth-demo"), "--out", metavar="DIR", help="Folder to write the seed incident's evidence to."),
    json_out: Optional[str] = typer.Option(None, "--json", metavar="FILE", help="Also write the verdict as JSON to FILE ('-' for stdout)."),
    md_out: Optional[str] = typer.Option(None, "--md", metavar="FILE", help="Also write the verdict as Markdown to FILE ('-' for stdout)."),
    html_out: Optional[str] = typer.Option(None, "--html", metavar="FILE", help="Also write the verdict as a self-contained HTML page with the clocks drawn."),
    png_out: Optional[str] = typer.Option(None, "--png", metavar="FILE", help="Also write the chart of the clocks as a PNG image."),
    quiet: QuietVerdictOpt = False,
) -> None:
    """Write the seed incident's evidence (Lync Edge five hours behind) and investigate it.

    \b
    Examples:
      skewsleuth demo
      skewsleuth demo --out /tmp/seed --json /tmp/seed-verdict.json
      skewsleuth demo --html seed-report.html
    """
    from .demo.scenario import SEED, write_evidence
    from .investigation import investigate

    _check_outputs(json_out, md_out, html=html_out, png=png_out)
    try:
        evidence = write_evidence(SEED, out)
    except InputError as exc:
        _fail(str(exc))
    err.print(f"evidence written to {evidence}/ (one folder per host, and case.yml)", markup=False, highlight=False)
    try:
        verdict = investigate([evidence], evidence / "case.yml")
    except InputError as exc:
        _fail(str(exc))
    _outputs(verdict, json_out, md_out, quiet, html_out, png_out)
    if not (html_out or quiet):
        err.print(f"next: skewsleuth investigate {evidence} --html report.html   (every clock drawn, "
                  f"offline in a browser)", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(verdict.exit_status)


PROBE_EXIT = ("Exit status: 0 every target measured and within --max-offset (and its role's tolerance), "
              "1 some beyond it, 2 some could not be measured, or bad arguments.")


@app.command("probe", epilog=PROBE_EXIT)
def probe_cmd(
    targets: TargetsArg = None,
    inventory: InventoryOpt = None,
    json_out: Optional[str] = typer.Option(None, "--json", metavar="FILE", help="Write the measurements as JSON to FILE ('-' for stdout)."),
    max_offset: float = typer.Option(1.0, "--max-offset", metavar="SECONDS", help="Offset beyond which exit status is 1 (a role's tolerance, if tighter, applies)."),
    timeout: TimeoutOpt = 5.0,
    concurrency: ConcurrencyOpt = 256,
    samples: int = typer.Option(4, "--samples", metavar="N", help="NTP requests per target (least delay kept); HTTP/SMTP take 2N (at most 16) readings per round."),
    interval: float = typer.Option(0.25, "--interval", metavar="SECONDS", help="Pause between one target's NTP requests."),
    insecure: InsecureOpt = False,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No table on the terminal."),
) -> None:
    """Measure hosts' clocks now (offset = logged - true, positive when ahead) over NTP, HTTP Date or SMTP banners.

    \b
    Examples:
      skewsleuth probe ntp://dc01.domain.com ntp://srv-lyncedge01.domain.com
      skewsleuth probe https://intranet.domain.com smtp://mx01.domain.com --max-offset 300
      skewsleuth probe --inventory hosts.yml --json - | jq '.[] | select(.ok | not)'
      skewsleuth probe ntp://127.0.0.1:11123 --samples 8 --interval 0 --timeout 2
    """
    from .probe import Inventory, Measurement, probe
    from .probe.fleet import Progress, as_targets
    from .report.console import terminal
    from .report.json import write_json
    from .report.probe import render_probe

    _check_outputs(json_out)
    if not targets and inventory is None:
        _fail("give at least one TARGET or --inventory FILE")
    if not (timeout > 0 and concurrency >= 1 and samples >= 1 and interval >= 0 and max_offset >= 0):
        _fail("--timeout must be > 0, --concurrency and --samples >= 1, --interval and --max-offset >= 0")
    try:
        todo = as_targets(targets or [])
        if inventory is not None:
            todo += Inventory.load(inventory).targets()
    except (TargetError, InventoryError) as exc:
        _fail(str(exc))
    if not todo:
        _fail(f"no targets: inventory {inventory} lists no hosts")
    def run(progress: Progress | None = None) -> list[Measurement]:
        return probe(todo, timeout=timeout, concurrency=concurrency, samples=samples, interval=interval,
                     insecure=insecure, progress=progress)

    if sys.stderr.isatty() and len(todo) > 1:
        from rich.progress import Progress

        with Progress(console=err.console, transient=True) as bar:
            task = bar.add_task("probing", total=len(todo))
            measurements = run(lambda done, total: bar.update(task, completed=done))
    else:
        measurements = run()
    status = 2 if not all(m.ok for m in measurements) else 1 if any(m.beyond(max_offset) for m in measurements) else 0
    with _stdout(status):
        if json_out:
            _write(json_out, lambda: write_json([m.to_dict() for m in measurements], json_out))
        if not quiet and json_out != "-":
            render_probe(measurements, terminal(), max_offset)
    raise typer.Exit(status)


WATCH_EXIT = ("Exit status: 0 stopped by SIGINT/SIGTERM; with --once, probe's: 0 every target measured and "
              "within its limit, 1 some beyond it, 2 some could not be measured; 2 bad arguments or inventory, "
              "history not writable, address in use.")


@app.command("watch", epilog=WATCH_EXIT)
def watch_cmd(
    targets: TargetsArg = None,
    inventory: InventoryOpt = None,
    interval: float = typer.Option(60.0, "--interval", metavar="SECONDS", help="Time between the starts of two probe rounds (spread by ±10%)."),
    db: Path = typer.Option(Path("skewsleuth-watch.duckdb"), "--db", metavar="FILE", help="History (DuckDB): every measurement and alert."),
    listen: Optional[str] = typer.Option(None, "--listen", metavar="HOST:PORT", help="Serve Prometheus metrics at http://HOST:PORT/metrics (default 127.0.0.1:9393; with --once, none unless given)."),
    no_metrics: bool = typer.Option(False, "--no-metrics", help="Serve no metrics."),
    webhook: Optional[List[str]] = typer.Option(None, "--webhook", metavar="URL", help="POST alerts as JSON (Alertmanager webhook shape) to URL (repeatable)."),
    alertmanager: Optional[List[str]] = typer.Option(None, "--alertmanager", metavar="URL", help="Send alerts to the Alertmanager at URL (its API v2), every firing one each round (repeatable)."),
    max_offset: float = typer.Option(1.0, "--max-offset", metavar="SECONDS", help="Limit of targets whose inventory entry sets no tolerance."),
    warn_fraction: float = typer.Option(0.5, "--warn-fraction", metavar="F", help="Warn (near_tolerance) from this fraction of the limit."),
    jump: float = typer.Option(1.0, "--jump", metavar="SECONDS", help="Smallest offset change between two probes that is a jump."),
    unreachable_after: int = typer.Option(3, "--unreachable-after", metavar="N", help="Failed probes in a row before an unreachable alert."),
    timeout: TimeoutOpt = 5.0,
    concurrency: ConcurrencyOpt = 256,
    samples: int = typer.Option(4, "--samples", metavar="N", help="NTP requests per target and round (least delay kept)."),
    insecure: InsecureOpt = False,
    once: bool = typer.Option(False, "--once", help="One round, then exit with probe's statuses (cron, tests)."),
    print_asset: Optional[str] = typer.Option(None, "--print", metavar="NAME", help="Write a shipped file to stdout and exit: prometheus-rules (alerting and recording rules), grafana-dashboard."),
) -> None:
    """Probe on a schedule: history in DuckDB, Prometheus metrics, alerts (log + webhooks) when a
    clock nears or crosses its tolerance, jumps between two probes, or cannot be reached.

    \b
    Examples:
      skewsleuth watch --inventory hosts.yml
      skewsleuth watch --inventory hosts.yml --interval 30 --webhook http://127.0.0.1:5001/alerts
      skewsleuth watch --inventory hosts.yml --alertmanager http://127.0.0.1:9093
      skewsleuth watch ntp://dc01.domain.com ntp://srv-lyncedge01.domain.com --listen 127.0.0.1:9394
      skewsleuth watch --inventory hosts.yml --once --db /var/lib/skewsleuth/watch.duckdb
      skewsleuth watch --print prometheus-rules > /etc/prometheus/rules/skewsleuth.yml
    """
    if print_asset is not None:
        from .watch.assets import ASSETS, asset_text

        if print_asset not in ASSETS:
            _fail(f"--print {print_asset!r}: give one of {', '.join(ASSETS)}")
        sys.stdout.write(asset_text(print_asset))
        return
    from .probe import Inventory
    from .probe.fleet import as_targets
    from .watch import AlertRules, WatchOptions, parse_listen, run_watch
    from .watch.service import DEFAULT_LISTEN

    if not targets and inventory is None:
        _fail("give at least one TARGET or --inventory FILE")
    try:
        rules = AlertRules(max_offset_s=max_offset, warn_fraction=warn_fraction, jump_min_s=jump,
                           unreachable_after=unreachable_after)
        options = WatchOptions(interval_s=interval, timeout=timeout, concurrency=concurrency, samples=samples,
                               insecure=insecure, rules=rules, webhooks=tuple(webhook or ()),
                               alertmanagers=tuple(alertmanager or ()))
    except ValueError as exc:
        _fail(f"bad option: {exc}")
    try:
        # A --once from cron must not collide with a running watch's port: no metrics
        # unless asked for.
        address = None if no_metrics or (once and listen is None) else parse_listen(listen or DEFAULT_LISTEN)
        todo = as_targets(targets or [])
        if inventory is not None:
            todo += Inventory.load(inventory).targets()
    except (TargetError, InventoryError, WatchError) as exc:
        _fail(str(exc))
    if not todo:
        _fail(f"no targets: inventory {inventory} lists no hosts")
    try:
        status = run_watch(todo, db, options=options, listen=address, once=once)
    except WatchError as exc:
        _fail(str(exc))
    raise typer.Exit(status)


FIX_EXIT = ("Exit status: 0 runbook printed, or applied and verified within the limit (or nothing to fix); "
            "1 applied, but a step failed or the host is still beyond the limit; 2 bad arguments or inventory, "
            "host not in it, refused (no confirmation) or unreachable: nothing ran.")


@app.command("fix", epilog=FIX_EXIT)
def fix_cmd(
    host: str = typer.Argument(..., metavar="HOST", help="The host to fix, as the inventory names it (short names match)."),
    inventory: Path = typer.Option(..., "--inventory", "-i", metavar="FILE", help="Inventory (YAML): the host's roles, platform, targets and fix: settings."),
    history: Optional[Path] = typer.Option(None, "--history", metavar="FILE", help="Take the last measurement from a skewsleuth watch history (DuckDB) instead of measuring now."),
    apply_: bool = typer.Option(False, "--apply", help="Run the runbook on the host (SSH, or WinRM for Windows) after confirmation, then measure again."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --apply: do not ask (for scripts; recorded in the audit log)."),
    audit: Path = typer.Option(Path("skewsleuth-audit.jsonl"), "--audit", metavar="FILE", help="Append-only JSON Lines audit log of --apply."),
    json_out: Optional[str] = typer.Option(None, "--json", metavar="FILE", help="Write the runbook (and with --apply the outcome) as JSON to FILE ('-' for stdout)."),
    max_offset: float = typer.Option(1.0, "--max-offset", metavar="SECONDS", help="Offset beyond which the host needs fixing (its role's tolerance, if tighter, applies)."),
    timeout: float = typer.Option(5.0, "--timeout", metavar="SECONDS", help="Time allowed per probe of the host."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Nothing on the terminal but the prompt and errors."),
) -> None:
    """The runbook that fixes HOST's clock (w32tm on Windows, chronyc/timedatectl on Linux), and with --apply its guarded execution.

    \b
    Examples:
      skewsleuth fix srv-lyncedge01 --inventory hosts.yml
      skewsleuth fix web01 --inventory hosts.yml --history watch.duckdb --json - | jq '.steps[].command'
      skewsleuth fix web01 --inventory hosts.yml --apply
      skewsleuth fix web01 --inventory hosts.yml --apply --yes --audit /var/log/skewsleuth-audit.jsonl
    """
    from .fix import AuditLog, apply, plan, transport_for
    from .probe import Inventory
    from .report.console import terminal
    from .report.fix import render_outcome, render_runbook
    from .report.json import write_json

    _check_outputs(json_out, str(audit) if apply_ else None)
    if yes and not apply_:
        _fail("--yes only goes with --apply")
    if not (timeout > 0 and max_offset >= 0):
        _fail("--timeout must be > 0 and --max-offset >= 0")
    try:
        inv = Inventory.load(inventory)
    except InventoryError as exc:
        _fail(str(exc))
    target = inv.host(host)
    if target is None:
        _fail(f"host {host!r} is not in inventory {inventory} (or matches several hosts)")
    try:
        runbook = plan(target, history=history, max_offset_s=max_offset, timeout=timeout)
    except FixHistoryError as exc:
        _fail(str(exc))
    # With --json - stdout carries the JSON alone; the runbook text goes to stderr.
    out = terminal(stderr=json_out == "-")
    # A reader that goes away while the runbook is shown: with --apply, nothing is run
    # that no one can watch (2: nothing ran).
    with _stdout(2 if apply_ else 0):
        if not quiet:
            render_runbook(runbook, out)
        if not apply_:
            if json_out:
                _write(json_out, lambda: write_json(runbook.to_dict(), json_out))
            raise typer.Exit(0)
    if runbook.platform_from == "assumed":
        _fail(f"refusing to apply: the inventory gives {runbook.host} no platform (add 'platform: linux' or "
              "'platform: windows')")
    if not runbook.needs_fix:
        with _stdout(0):
            if json_out:
                _write(json_out, lambda: write_json(runbook.to_dict(), json_out))
            out.print(f"{runbook.host} is within {runbook.limit_s:g} s: nothing to apply", markup=False)
        raise typer.Exit(0)
    try:
        transport = transport_for(runbook)
        log = AuditLog(audit, runbook.host)
    except MissingPywinrm as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write audit log {audit}: {exc.strerror or exc}")
    changes = sum(s.changes_state for s in runbook.steps)
    if yes:
        confirmation = "--yes"
    elif not sys.stdin.isatty():
        log.write("refused", reason="no terminal to confirm on and no --yes")
        _fail("refusing to apply without confirmation: no terminal to ask on; give --yes to run unattended")
    elif typer.confirm(f"Run these {len(runbook.commands())} commands ({changes} change state) on {runbook.host} "
                       f"over {transport.name} ({transport.where})?", default=False, err=json_out == "-"):
        confirmation = "interactive"
    else:
        log.write("refused", reason="declined at the prompt")
        _fail("not confirmed: nothing ran")
    outcome = apply(runbook, target, log, confirmation=confirmation, transport=transport, timeout=timeout)
    with _stdout(outcome.exit_status):
        if json_out:
            _write(json_out, lambda: write_json(outcome.to_dict(), json_out))
        if outcome.error is not None:
            _fail(f"{outcome.error} (nothing ran; see {audit})")
        if not quiet:
            render_outcome(outcome, out)
    raise typer.Exit(outcome.exit_status)


RULES_EXIT = ("Exit status: 0 done (rules test: every rule passes its examples), 1 rules test: some fail, "
              "2 unusable rules or arguments.")
rules_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, epilog=RULES_EXIT,
                        help="The rule pack: the skew-sensitive failures skewsleuth recognises, as Sigma rules.\n\n"
                             "\b\nExamples:\n  skewsleuth rules list\n  skewsleuth rules test --rules my-rules/\n"
                             "  skewsleuth rules export --sigma --out sigma-rules/")
app.add_typer(rules_app, name="rules")


def _load_pack(rules: Optional[List[Path]], no_builtin: bool) -> list:
    from .rules import load_rules

    if no_builtin and not rules:
        _fail("--no-builtin needs a --rules folder")
    try:
        skipped: list = []
        pack = load_rules(rules, builtin=not no_builtin, skipped=skipped)
        _warn_skipped(skipped)
        return pack
    except (RuleError, OSError) as exc:
        _fail(str(exc))
    return []


@rules_app.command("list", epilog=RULES_EXIT)
def rules_list_cmd(
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
    json_out: Optional[str] = typer.Option(None, "--json", metavar="FILE", help="Write the rules as JSON to FILE ('-' for stdout)."),
) -> None:
    """List the rules: signature, protocol, tolerance, role and whose clock each accuses.

    \b
    Examples:
      skewsleuth rules list
      skewsleuth rules list --rules my-rules/ --json - | jq '.[] | select(.protocol == "kerberos")'
    """
    from .report.console import terminal
    from .report.json import write_json
    from .report.rules import render_rules, rule_row

    _check_outputs(json_out)
    pack = _load_pack(rules, no_builtin)
    with _stdout(0):
        if json_out:
            _write(json_out, lambda: write_json([rule_row(r) for r in pack], json_out))
        if json_out != "-":
            render_rules(pack, terminal())


@rules_app.command("test", epilog=RULES_EXIT)
def rules_test_cmd(
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
) -> None:
    """Run every rule over its own examples (skewsleuth.tests: match / no_match), with the
    SQL investigate uses. A rule with no example it must match fails.

    \b
    Examples:
      skewsleuth rules test
      skewsleuth rules test --rules my-rules/ --no-builtin
    """
    from .report.console import terminal
    from .report.rules import render_results
    from .rules.testing import test_rules

    results = test_rules(_load_pack(rules, no_builtin))
    status = 0 if all(r.passed for r in results) else 1
    with _stdout(status):
        render_results(results, terminal())
    raise typer.Exit(status)


@rules_app.command("export", epilog=RULES_EXIT)
def rules_export_cmd(
    sigma: bool = typer.Option(False, "--sigma", help="As Sigma YAML (the only format), for sigma-cli / pySigma."),
    out: Optional[Path] = typer.Option(None, "--out", metavar="DIR", help="Write one .yml per rule in DIR (default: one multi-document YAML stream on stdout)."),
    rules: RulesOpt = None,
    no_builtin: NoBuiltinOpt = False,
    keep_skewsleuth: bool = typer.Option(False, "--keep-skewsleuth", help="Keep each rule's skewsleuth block (a custom attribute SigmaHQ's validators flag), to load the copy back with --rules."),
) -> None:
    """Export the rules for a SIEM: Sigma rules in SigmaHQ's taxonomy and conventions
    (Provider_Name, 4-space YAML) that sigma-cli checks and converts.

    \b
    Examples:
      skewsleuth rules export --sigma --out sigma-rules/
      sigma convert -t splunk -p splunk_windows -p "$(skewsleuth rules pipeline)" sigma-rules/
      skewsleuth rules export --sigma > skew-rules.yml
    """
    from .rules.export import export_sigma, sigma_texts

    if not sigma:
        _fail("say the format: --sigma (the only one)")
    pack = _load_pack(rules, no_builtin)
    if out is None:
        with _stdout(0):
            sys.stdout.write("---\n".join(text for _, text in sigma_texts(pack, keep_skewsleuth)))
        return
    if out.exists() and not out.is_dir():
        _fail(f"--out {out} exists and is not a folder")
    try:
        paths = export_sigma(pack, out, keep_skewsleuth)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror or exc}")
    err.print(f"wrote {len(paths)} Sigma rules to {out}", markup=False, highlight=False)


@rules_app.command("pipeline", epilog=RULES_EXIT)
def rules_pipeline_cmd() -> None:
    """Print the path of the pySigma processing pipeline for skewsleuth's custom log
    sources (windows/lync, lync/sipstack, ...), for sigma convert -p.

    \b
    Examples:
      sigma convert -t lucene -p ecs_windows -p "$(skewsleuth rules pipeline)" sigma-rules/
    """
    from importlib import resources

    typer.echo(str(resources.files("skewsleuth.rules") / "sigma-pipeline.yml"))


@app.command("version")
def version_cmd() -> None:
    """Print the version."""
    typer.echo(VERSION_COMMAND_LINE.format(__version__))
