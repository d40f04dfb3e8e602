"""The ``bindscope`` command line: argument parsing and printing over ``engine.workspace``.

Progress goes to stderr, results to stdout; ``--json`` prints strict machine-readable JSON
(schemas in the README; no NaN or Infinity), an error included, as ``{"error": kind, "message":
...}``. The exit code is 0 when a command did its job, even if some files failed (they are
reported), 1 only when interrupted, and 2 for every other failure, with one line naming the cause;
a mistyped command line too (``{"error": "UsageError", ...}`` under ``--json``). Without ``--library``
a command uses the default library, the one the app opens first (``$BINDSCOPE_LIBRARY`` overrides).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from app.timecode import span
from engine.facts import DEVICE_CHOICES, PRECISION_CHOICES, REDUCED_JPEG_EFFECT, ZERO_SHOT_TEMPLATES
from engine.modality import Modality

EXIT_OK, EXIT_INTERRUPTED, EXIT_FAILED = 0, 1, 2


class CliError(Exception):
    """A command that cannot run: printed as ``bindscope: <message>`` with exit code 2."""


class UsageError(Exception):
    """A command line argparse refuses: its usage and message on stderr (and JSON under ``--json``), exit 2."""

    def __init__(self, parser: argparse.ArgumentParser, message: str):
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are raised, so ``main`` can print them as JSON when ``--json`` was asked."""

    def error(self, message: str):
        raise UsageError(self, message)


# Shell completion hints for shtab (its FILE and DIRECTORY, written here so building the parser needs no shtab).
FILES = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}
FOLDERS = {"bash": "_shtab_compgen_dirs", "zsh": "_files -/", "tcsh": "d"}


def _clean(value):
    """JSON-safe: NaN and infinities become null, paths are shown with replacement characters."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        from engine.workspace import display

        return display(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _printable(text: str) -> str:
    from app.terminal import printable

    return printable(text)


def _print_json(value) -> None:
    json.dump(_clean(value), sys.stdout, indent=2, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")


def _say(*lines: str) -> None:
    """Print each line for a person: control characters from files and libraries escaped."""
    for line in lines:
        print(_printable(line))


@contextmanager
def _progress_bar(description: str):
    """A tqdm bar on stderr driven by (phase, done, total) callbacks; silent when stderr is not a terminal (but for
    one line per wait for another process), and cleared however the command ends, so an error line never follows
    a half-drawn bar."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit="item", file=sys.stderr, leave=False, dynamic_ncols=True, disable=None)
    said: set[str] = set()

    def update(phase: str, done: int, total: int | None) -> None:
        if phase.startswith("waiting") and bar.disable and phase not in said:  # a wait is said, bar or none
            said.add(phase)
            print(f"bindscope: {phase}", file=sys.stderr)
        bar.set_description(f"{description}: {phase}", refresh=False)
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _workspace(args, create: bool = False):
    from engine.facts import default_library
    from engine.workspace import Workspace

    return Workspace.open(
        args.library or default_library(),
        create=create,
        model=getattr(args, "model", None),
        device=getattr(args, "device", "auto"),
        precision=getattr(args, "precision", "auto"),
    )


def _item_json(item) -> dict:
    return {
        "id": item.id,
        "modality": item.modality.value,
        "path": item.path,
        "text": item.text,
        "status": item.status,
        "offline": item.missing,
        "error_kind": item.error_kind,
        "error": item.error,
    }


# -- models --------------------------------------------------------------------------------


def cmd_models(args) -> int:
    from engine.workspace import active_model, download_model, find_model, models

    if args.action == "download":
        if not args.name:
            raise CliError("name the model to download, e.g. `bindscope models download imagebind-huge`")
        licence = find_model(args.name).weights.licence
        if licence:
            print(f"licence: {licence}", file=sys.stderr)
        with _progress_bar(f"downloading {args.name}") as bar:
            entry, path = download_model(args.name, progress=bar)
        if args.json:
            _print_json({"name": entry.name, "path": str(path), "licence": entry.weights.licence})
        else:
            _say(f"{entry.title} is at {path}")
        return EXIT_OK
    active = active_model()
    rows = [
        {
            "name": e.name,
            "title": e.title,
            "available": e.available,
            "active": active is not None and e.name == active.name,
            "path": str(e.weights_path),
            "summary": e.summary,
            "licence": e.weights.licence,
        }
        for e in models()
    ]
    if args.action == "show":
        wanted = find_model(args.name).name if args.name else None
        rows = [r for r in rows if (r["name"] == wanted if wanted else r["active"])]
    if args.json:
        _print_json(rows)
        return EXIT_OK
    downloadable = {e.name for e in models() if e.downloadable}
    for r in rows:
        mark = "*" if r["active"] else " "
        state = "ready" if r["available"] else ("not downloaded" if r["name"] in downloadable else "missing")
        _say(f"{mark} {r['name']:16s} {state:15s} {r['summary']}")
        _say(f"  {'':16s} licence: {r['licence']}")
    if active is None:
        print("no model is available yet: `bindscope models download imagebind-huge`", file=sys.stderr)
    return EXIT_OK


# -- index, import, export, re-embed, roots ---------------------------------------------------


def _need_ray() -> None:
    """The cluster backend is an extra (the desktop bundle leaves it out): say so instead of an import error."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise CliError("running on Ray needs the cluster extra: pip install 'bindscope[cluster]'")


def cmd_index(args) -> int:
    from engine.workspace import RayCluster

    if args.ray:
        _need_ray()

    workspace = _workspace(args, create=True)
    backend = RayCluster(args.ray, args.shards) if args.ray else None
    with _progress_bar("indexing on Ray" if backend else "indexing") as bar:
        report = workspace.index(
            args.paths,
            progress=bar,
            batch_size=args.batch_size,
            backend=backend,
            moments=args.moments,
            moments_hop=args.moments_hop,
            reduced_jpeg=args.reduced_jpeg,
        )
    scan, embedded = report.scan, report.embed
    failures = [_item_json(i) for i in workspace.failed(limit=args.failures)]
    summary = {
        **{k: getattr(scan, k) for k in ("added", "changed", "removed", "unchanged", "ignored", "missing")},
        "warnings": scan.warnings,
        "embedded": embedded.embedded if embedded else 0,
        "failed": embedded.failed if embedded else 0,
        "offline": embedded.offline if embedded else 0,
        "segments": embedded.segments if embedded else 0,
        "model": report.model_name,
        "model_seconds": round(embedded.model_seconds, 3) if embedded else 0.0,
        "model_waited_seconds": round(embedded.model_waited_seconds, 3) if embedded else 0.0,
        "failures": failures,
    }
    if args.json:
        _print_json(summary)
        return EXIT_OK
    _say(
        f"{scan.added} new, {scan.changed} changed, {scan.removed} moved, {scan.missing} now missing, "
        f"{scan.unchanged} unchanged; {summary['embedded']} embedded, {summary['failed']} failed"
        + (f", {summary['offline']} offline" if summary["offline"] else "")
        + (f", {summary['segments']:,} moments" if summary["segments"] else "")
        + (f" ({report.model_name})" if report.model_name else "")
    )
    if embedded and embedded.model_seconds:
        _say(
            f"  the model ran {embedded.model_seconds:.1f} s and waited {embedded.model_waited_seconds:.1f} s "
            "for decoded inputs"
        )
    for item in failures:
        _say(f"  failed: {item['path'] or item['text']}: {item['error_kind']}: {item['error']}")
    for warning in scan.warnings + (embedded.warnings if embedded else []):
        print(f"  warning: {_printable(warning)}", file=sys.stderr)
    return EXIT_OK


def cmd_embed_shards(args) -> int:
    _need_ray()
    from engine.workspace import RayCluster, embed_shards

    with _progress_bar("embedding on Ray") as bar:
        report = embed_shards(
            args.paths,
            args.model,
            args.out,
            RayCluster(args.ray),
            strip_prefix=args.strip_prefix,
            prefix=args.prefix,
            progress=bar,
            batch_size=args.batch_size,
        )
    summary = {
        "out": str(args.out),
        "model": report.model,
        **{k: getattr(report, k) for k in ("files", "embedded", "failed", "ignored", "changed", "offline", "shards")},
        "warnings": report.warnings,
    }
    if args.json:
        _print_json(summary)
        return EXIT_OK
    _say(
        f"{report.embedded:,} embedded, {report.failed:,} failed, {report.ignored:,} ignored: "
        f"{len(report.shards):,} shards in {args.out}; `bindscope import {args.out} --library DIR` adds them to a library"
    )
    for path in report.changed:
        _say(f"  changed while it was read (not written; run again): {path}")
    for path in report.offline:
        _say(f"  gone while it was read: {path}")
    for warning in report.warnings:
        print(f"  warning: {_printable(warning)}", file=sys.stderr)
    return EXIT_OK


def cmd_import(args) -> int:
    workspace = _workspace(args, create=True)
    with _progress_bar("importing") as bar:
        report = workspace.import_embeddings(args.source, progress=bar)
    summary = {
        "refused": report.refused,
        "files": report.files,
        "rows": report.rows,
        "changed": report.changed,
        "segments": report.segments,
        "failures": report.failures,
        "invalid": report.invalid,
        "model": report.model,
    }
    if args.json:
        _print_json(summary)
    else:
        _say(
            f"imported {report.rows:,} rows from {report.files} file(s): {report.changed:,} items added or updated, "
            + (f"{report.segments:,} moments, " if report.segments else "")
            + f"{report.failures:,} recorded failures, {len(report.invalid):,} invalid rows skipped"
        )
        for line in report.invalid[:20]:
            _say(f"  invalid: {line}")
        for line in report.refused:
            _say(f"  refused: {line}")
    return EXIT_FAILED if report.refused else EXIT_OK


def cmd_export(args) -> int:
    workspace = _workspace(args)
    rows = workspace.export(args.out, include_failures=args.include_failures)
    if args.json:
        _print_json({"out": str(args.out), "rows": rows})
    else:
        _say(f"wrote {rows:,} rows to {args.out}")
    return EXIT_OK


def cmd_reembed(args) -> int:
    workspace = _workspace(args)
    plan = workspace.plan_reembed(args.to)
    print(
        f"re-embedding {plan.items:,} items with {plan.target.title} (about {plan.seconds / 3600:.1f} h here; "
        f"{plan.offline:,} offline items wait for their folders); searches keep the current model until it is done",
        file=sys.stderr,
    )
    with _progress_bar(f"re-embedding with {plan.target.title}") as bar:
        report, switched = workspace.reembed(
            args.to, progress=bar, batch_size=args.batch_size, switch_incomplete=args.switch_anyway
        )
    summary = {
        "model": plan.target.name,
        "embedded": report.embedded,
        "failed": report.failed,
        "offline": report.offline,
        "switched": switched,
    }
    if args.json:
        _print_json(summary)
    else:
        state = (
            "the library now uses it"
            if switched
            else "not switched yet: rerun when the offline folders are back, or pass --switch-anyway"
        )
        _say(f"{report.embedded:,} embedded, {report.failed:,} failed, {report.offline:,} offline; {state}")
    return EXIT_OK


def cmd_roots(args) -> int:
    workspace = _workspace(args)
    if args.action == "move":
        if not (args.old and args.new):
            raise CliError("give the old and the new folder: `bindscope roots move OLD NEW --library DIR`")
        roots, items = workspace.move_root(args.old, args.new)
        result = {"roots": roots, "items": items}
        lines = [f"moved {roots} root(s) and {items:,} items from {args.old} to {args.new}; nothing is encoded again"]
    elif args.action == "forget-missing":
        removed = workspace.forget_missing()
        result, lines = {"removed": removed}, [f"forgot {removed:,} items whose files are gone"]
    else:
        summary = workspace.summary()
        result = [{"id": r.id, "path": r.path, "state": r.state, "offline": r.offline} for r in summary.roots]
        lines = [f"{r['path']}  ({r['state']}, {r['offline']:,} offline)" for r in result] or ["no roots"]
    if args.json:
        _print_json(result)
    else:
        _say(*lines)
    return EXIT_OK


def cmd_status(args) -> int:
    from engine.workspace import STATUSES

    workspace = _workspace(args)
    summary = workspace.summary()
    health = workspace.health()
    counts = {m.value: {s: summary.totals.get(m.value, {}).get(s, 0) for s in STATUSES} for m in Modality}
    status = {
        "library": summary.folder,
        "model": summary.model.ref.name if summary.model.ref else None,
        "model_available": summary.model.available,
        "model_message": summary.model.message,
        "vectors_made_by": workspace.library.get_meta("vectors_made_by"),
        "reembedding": summary.reembedding,
        "read_only": summary.read_only,
        "health": health,
        "roots": [{"path": r.path, "state": r.state, "offline": r.offline} for r in summary.roots],
        "counts": counts,
        "offline": summary.offline,
        "failed": [_item_json(i) for i in workspace.failed(limit=args.failures)],
        "failed_total": summary.failed,
        "index": workspace.index_details(),
        "moments": summary.moments,
        "moments_hop": summary.moments_hop,
        "moments_recut": summary.moments_recut,
        "segments": summary.segments,
    }
    if args.json:
        _print_json(status)
    else:
        _say(f"library {summary.folder} ({summary.model.message}{', read-only' if summary.read_only else ''})")
        if status["vectors_made_by"]:
            _say(f"  vectors made by {status['vectors_made_by']}")
        if health != "ok":
            _say(f"  DAMAGED: {health}")
        for root in status["roots"]:
            _say(
                f"  root {root['path']} ({root['state']}"
                + (f", {root['offline']:,} offline" if root["offline"] else "")
                + ")"
            )
        print(f"  {'modality':8s} {'embedded':>9s} {'pending':>8s} {'failed':>7s}")
        for name, row in counts.items():
            if any(row.values()):
                print(f"  {name:8s} {row['embedded']:9d} {row['pending']:8d} {row['failed']:7d}")
        if summary.segments or not summary.moments:
            held = ", ".join(f"{n:,} {m}" for m, n in summary.segments.items()) or "none"
            state = (
                f", hop {summary.moments_hop:g} of a window"
                if summary.moments
                else ", off: `index --moments` turns them on"
            )
            _say(f"  moments: {held}{state}")
        if summary.moments_recut:
            _say(
                f"  moments: {summary.moments_recut:,} files wait to be cut again with hop {summary.moments_hop:g} "
                "(cut with another; `index` does it)"
            )
        for item in status["failed"]:
            _say(f"  failed: {item['path'] or item['text']}: {item['error_kind']}: {item['error']}")
        if summary.failed > len(status["failed"]):
            print(f"  ... and {summary.failed - len(status['failed']):,} more failed (--failures N)")
    if health != "ok":  # reported above (and in the JSON's "health"): the command did its job, the library did not
        print(
            f"bindscope: {_printable(f'{summary.folder}: the library database is damaged ({health})')}", file=sys.stderr
        )
        return EXIT_FAILED
    return EXIT_OK


# -- search and classify -------------------------------------------------------------------


class _TermAction(argparse.Action):
    """--file/--text/--item/--moment append query terms in the order given."""

    def __call__(self, parser, namespace, value, option_string=None):
        from engine.workspace import Term

        terms = getattr(namespace, "terms", None) or []
        if self.dest == "item":
            terms.append(Term("item", value))  # an id or a path: resolved against the library later
        elif self.dest == "moment":
            terms.append(Term("moment", value[0], span=value[1]))  # the item resolved later, as for --item
        else:
            terms.append(getattr(Term, self.dest)(value))
        namespace.terms = terms


def _seconds(text: str) -> float:
    """A time in a recording: seconds (83.5) or as the app and ``search --moments`` show it (1:23.5, 1:01:23.5)."""
    parts = text.strip().split(":")
    try:
        if len(parts) > 3 or any(not p.strip() for p in parts):
            raise ValueError
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: write seconds (83.5) or m:ss.s (1:23.5)") from None
    seconds = sum(v * 60**n for n, v in enumerate(reversed(values)))
    if not math.isfinite(seconds) or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time in a recording")
    return seconds


def _moment(text: str) -> tuple[str, tuple[float, float]]:
    """``ID|PATH@START-END`` (``–`` too, as times are shown): an item and a window's span in seconds."""
    item, at, window = text.rpartition("@")
    start, dash, end = window.replace("–", "-").partition("-")
    if not (item and at and dash):
        raise argparse.ArgumentTypeError(f"{text!r}: write ID@START-END, e.g. 12@1:03.0-1:09.0 or 12@63-69")
    span = (_seconds(start), _seconds(end))
    if span[0] >= span[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: the window ends before it starts")
    return item, span


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a whole number") from None


def _count(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more")
    return value


def _hop(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a fraction of a window in (0, 1]")
    return value


def _positive(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


class _WeightAction(argparse.Action):
    """--weight W sets the weight of the term just before it."""

    def __call__(self, parser, namespace, value, option_string=None):
        terms = getattr(namespace, "terms", None)
        if not terms:
            parser.error("--weight must follow a --file, --text, --item or --moment")
        terms[-1] = dataclasses.replace(terms[-1], weight=value)


def _add_terms(parser: argparse.ArgumentParser, single: bool = False) -> None:
    parser.add_argument(
        "--file", dest="file", action=_TermAction, metavar="F", help="a file of any modality"
    ).complete = FILES
    parser.add_argument("--text", dest="text", action=_TermAction, metavar="T", help="a text")
    parser.add_argument(
        "--item", dest="item", action=_TermAction, metavar="ID|PATH", help="a library item's id or path"
    )
    parser.add_argument(
        "--moment",
        dest="moment",
        action=_TermAction,
        type=_moment,
        metavar="ID|PATH@START-END",
        help="a stored window of a long recording in the library (times as `search --moments` prints them)",
    )
    if not single:
        parser.add_argument(
            "--weight",
            action=_WeightAction,
            type=_finite,
            metavar="W",
            help="weight of the preceding term (default 1; negative subtracts)",
        )


def _resolved(workspace, terms):
    """--item and --moment values are ids or paths of library items."""
    out = []
    for term in terms:
        if term.kind in ("item", "moment"):
            try:
                item = workspace.item(term.value)
            except OverflowError:  # digits beyond any id SQLite can hold
                item = None
            if item is None:
                raise CliError(f"no library item {term.value!r} (give an item id or the path of a file in the library)")
            term = dataclasses.replace(term, value=item.id)
        out.append(term)
    return out


def _date(text: str) -> tuple[float, bool]:
    """A local date (2024-05-01) or date and time (2024-05-01T14:30) as epoch seconds, and whether it was a date
    alone (so ``--until`` takes in that whole day)."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write 2024-05-01 or 2024-05-01T14:30") from None
    return moment.timestamp(), len(text.strip()) == 10


def _score(text: str) -> float:
    value = _finite(text)
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a score is a cosine similarity, from -1 to 1")
    return value


def _add_filters(parser: argparse.ArgumentParser, score: bool = False) -> None:
    """The filter flags: the same for search, list and map."""
    group = parser.add_argument_group("filters")
    group.add_argument("--under", metavar="FOLDER", help="only items under this folder").complete = FOLDERS
    group.add_argument("--glob", metavar="PATTERN", help="only paths matching it (*.wav, 2021/*, /media/*/raw/*)")
    group.add_argument("--since", type=_date, metavar="DATE", help="only files modified on or after DATE")
    group.add_argument("--until", type=_date, metavar="DATE", help="only files modified on or before DATE")
    if score:
        group.add_argument("--min-score", type=_score, metavar="S", help="only results scoring at least S (-1..1)")


def _filter(args, workspace):
    """The Filter the flags ask for; a folder the library holds nothing under is refused, with the reason."""
    from engine.workspace import Filter

    under = None
    if args.under:
        under = os.path.realpath(os.path.expanduser(args.under))
        if not workspace.has_folder(under):
            if os.path.isfile(under):
                raise CliError(f"--under {args.under}: a file, not a folder")
            where = "" if os.path.isdir(under) else " (and there is no such folder here)"
            raise CliError(f"--under {args.under}: no item of the library is under this folder{where}")
    since = args.since[0] if args.since else None
    until = None
    if args.until:
        until = args.until[0] + (86400.0 if args.until[1] else 0.0)  # a date alone: up to the end of that day
    if since is not None and until is not None and since >= until:
        raise CliError("--since is after --until: no file can match")
    modalities = tuple(dict.fromkeys(Modality.parse(m) for m in args.modality or ()))
    return Filter(under, args.glob or None, since, until, modalities, getattr(args, "min_score", None))


def _hit_json(outcome, hit) -> dict:
    """A file hit; ``start``/``end`` are its best window's (null for a file without moments)."""
    item = outcome.items[hit.item_id]
    best = outcome.best_moments(hit.item_id)
    return {
        "id": hit.item_id,
        "score": round(hit.score, 6),
        "modality": hit.modality.value,
        "path": item.path,
        "text": item.text,
        "start": round(best[0].start, 3) if best else None,
        "end": round(best[0].end, 3) if best else None,
    }


def _moment_json(items, moment) -> dict:
    item = items[moment.item_id]
    return {
        "id": moment.item_id,
        "start": round(moment.start, 3),
        "end": round(moment.end, 3),
        "score": round(moment.score, 6),
        "modality": moment.modality.value,
        "path": item.path,
    }


def cmd_search(args) -> int:
    terms = getattr(args, "terms", None)
    if not terms:
        raise CliError("give at least one --file, --text, --item or --moment")
    workspace = _workspace(args)
    outcome = workspace.search(
        _resolved(workspace, terms), args.k, filter=_filter(args, workspace), moments=args.moments
    )
    if args.moments:
        return _print_moments(args, outcome)
    results = outcome.results
    payload = {
        "query": [
            {"kind": e.term.kind, "value": e.term.value, "weight": e.term.weight, "modality": e.modality.value}
            for e in results.terms
        ],
        "results": {m.value: [_hit_json(outcome, h) for h in hits] for m, hits in results.by_modality.items()},
        "merged": [_hit_json(outcome, h) for h in results.merged],
    }
    if args.json:
        _print_json(payload)
        return EXIT_OK
    groups = [("all modalities", payload["merged"])] if args.merged else payload["results"].items()
    for name, hits in groups:
        print(f"{name}:")
        for rank, hit in enumerate(hits, start=1):
            when = f"  best at {span(hit['start'], hit['end'])}" if hit["start"] is not None else ""
            _say(
                f"  {rank:2d}. {hit['score']:.3f}  [{hit['modality']}] {hit['path'] or repr(hit['text'])}  "
                f"(item {hit['id']}){when}"
            )
    return EXIT_OK


def _print_moments(args, outcome) -> int:
    """A moments search: the best windows across the library, best first."""
    moments = [_moment_json(outcome.items, m) for m in outcome.moments]
    if args.json:
        _print_json({"moments": moments})
        return EXIT_OK
    for rank, hit in enumerate(moments, start=1):
        _say(
            f"  {rank:2d}. {hit['score']:.3f}  {span(hit['start'], hit['end'])}  [{hit['modality']}] "
            f"{hit['path']}  (item {hit['id']})"
        )
    return EXIT_OK


def cmd_classify(args) -> int:
    terms = getattr(args, "terms", None)
    if not terms or len(terms) != 1:
        raise CliError("give exactly one --file, --text, --item or --moment to classify")
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    workspace = _workspace(args)
    [term] = _resolved(workspace, terms)
    ranked = workspace.classify(term, labels, tuple(args.template) if args.template else ZERO_SHOT_TEMPLATES)
    if args.json:
        _print_json([{"label": label, "probability": round(p, 6)} for label, p in ranked])
    else:
        for label, p in ranked:
            _say(f"{p:7.2%}  {label}")
    return EXIT_OK


def cmd_list(args) -> int:
    workspace = _workspace(args)
    chosen = _filter(args, workspace)
    total = workspace.count(chosen)
    page = workspace.listing(chosen, args.sort, args.offset, args.limit)
    if args.json:
        _print_json(
            {
                "total": total,
                "offset": args.offset,
                "items": [{**_item_json(item), "mtime": item.mtime or None} for item in page],
            }
        )
        return EXIT_OK
    for item in page:
        _say(f"{item.id:>9d}  [{item.modality.value}] {item.path or repr(item.text)}")
    shown = f"{args.offset + 1:,}-{args.offset + len(page):,} of " if page else "none of "
    print(f"{shown}{total:,} items", file=sys.stderr)
    return EXIT_OK


# -- map --------------------------------------------------------------------------------------


def cmd_map(args) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".json"):
        raise CliError(f"{out}: the map is written as .png or .json")
    if not out.parent.is_dir():
        raise CliError(f"{out.parent}: no such folder")
    workspace = _workspace(args)
    print("mapping the library (PCA preview, then UMAP)...", file=sys.stderr)
    chosen = _filter(args, workspace)
    data = workspace.map(clusters=args.clusters)
    if data is None:
        raise CliError(f"{workspace.folder}: nothing is embedded yet; run `bindscope index` first")
    if data.clusters_note:
        print(data.clusters_note, file=sys.stderr)
    if chosen.narrows:
        data = data.only(workspace.map_mask(chosen, data))
    projection = data.projection
    if out.suffix.lower() == ".json":
        paths = {item.id: _clean(item.path) for item in workspace.items([int(i) for i in data.projection.ids])}
        out.write_text(json.dumps(data.to_json(paths), allow_nan=False))
    else:
        from app.map_picture import draw_map

        draw_map(projection, out, data.clusters)
    if args.json:
        _print_json({"out": str(out), "points": len(projection)})
    else:
        _say(f"wrote {out} ({len(projection):,} points, {projection.method.upper()})")
    return EXIT_OK


# -- demo world and training ---------------------------------------------------------------


def cmd_demo(args) -> int:
    from engine.workspace import demo_gallery

    scenes = demo_gallery(args.out, args.per_concept, seed=args.seed)
    summary = {"out": str(Path(args.out).resolve()), "scenes": scenes, "files": 6 * scenes}
    if args.json:
        _print_json(summary)
    else:
        _say(f"wrote {summary['files']} files ({summary['scenes']} scenes) to {summary['out']}")
    return EXIT_OK


def cmd_train_bind(args) -> int:
    from engine.workspace import train_bind

    run = train_bind(
        args.base,
        Modality.parse(args.modality),
        args.pairs,
        args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        val_fraction=args.val_fraction,
        checkpoint=args.checkpoint,
        device=args.device,
        log=lambda line: print(line, file=sys.stderr),
    )
    if args.json:
        _print_json({"out": str(run.out), "report": [r.__dict__ for r in run.report.rows] if run.report else []})
    else:
        if run.report:
            print(run.report.table())
        _say(f"wrote {run.out}; use it with --model {run.out}")
    return EXIT_OK


def cmd_train_demo(args) -> int:
    import tempfile

    from engine.workspace import train_demo

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bindscope-demo-"))
    report = train_demo(work, args.out, args.seed, log=lambda line: print(line, file=sys.stderr))
    print(report.table())
    return EXIT_OK


def cmd_completion(args) -> int:
    import shtab

    print(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK


# -- the parser ----------------------------------------------------------------------------

EXAMPLES = {
    "bindscope": """examples:
  bindscope demo --out ~/demo                      write the synthetic demo gallery
  bindscope index ~/demo                           index it into the default library
  bindscope search --text "a dog barking" -k 5     nearest items of every modality
  bindscope --version
  bindscope completion bash > ~/.local/share/bash-completion/completions/bindscope""",
    "models": """examples:
  bindscope models                                 what is installed, and each model's licence
  bindscope models download imagebind-huge         4.5 GB; CC-BY-NC 4.0 (non-commercial)""",
    "index": """examples:
  bindscope index ~/Pictures ~/Sounds              add two folders to the default library
  bindscope index --library ~/lib --model demo ~/demo
  bindscope index                                  re-scan the library's folders""",
    "search": """examples:
  bindscope search --file bark.wav --text rain --weight 0.5
  bindscope search --item 42 --modality audio --merged --json
  bindscope search --text rain --under ~/Sounds/2024 --since 2024-05-01 --until 2024-05-31 --min-score 0.2""",
    "list": """examples:
  bindscope list --under ~/Pictures/2021 --sort date --offset 100 --limit 50
  bindscope list --glob '*.wav' --since 2024-01-01 --json""",
    "classify": """examples:
  bindscope classify --file bell.wav --labels dog,train,rain,bell""",
    "map": """examples:
  bindscope map --out map.png --clusters kmeans
  bindscope map --out audio-2024.json --modality audio --since 2024-01-01""",
    "export": """examples:
  bindscope export --out embeddings.parquet""",
    "import": """examples:
  bindscope import shards/ --library ~/lib""",
    "completion": """examples:
  bindscope completion bash > ~/.local/share/bash-completion/completions/bindscope
  bindscope completion zsh > ~/.zfunc/_bindscope   (with fpath+=~/.zfunc before compinit)""",
}


def build_parser() -> argparse.ArgumentParser:
    from engine import __version__

    raw = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="bindscope",
        description="Explore ImageBind's joint embedding space from the command line.",
        epilog=EXAMPLES["bindscope"],
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"bindscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str, library: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES.get(name), formatter_class=raw)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        if library:
            p.add_argument(
                "--library",
                metavar="DIR",
                help="the library folder (default: $BINDSCOPE_LIBRARY, else the app's default library)",
            ).complete = FOLDERS
        return p

    def runtime(p: argparse.ArgumentParser, precision: bool = False) -> None:
        p.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
        if precision:
            p.add_argument("--precision", default="auto", choices=PRECISION_CHOICES)

    p = command("models", cmd_models, "list models, show the active one, or download one")
    p.add_argument("action", nargs="?", choices=["list", "show", "download"], default="list")
    p.add_argument("name", nargs="?", help="model name (for show and download)")

    p = command("index", cmd_index, "add folders to a library and embed what is new or changed", library=True)
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="folders to add (none: re-scan the library's folders)"
    ).complete = FOLDERS
    p.add_argument(
        "--model",
        help="for a new library, the model to embed with (default: the best available); for one that has a "
        "model, where its checkpoint is (to change the model, use `bindscope reembed`)",
    )
    runtime(p, precision=True)
    p.add_argument("--batch-size", type=_positive, default=None)
    p.add_argument("--failures", type=_count, default=50, metavar="N", help="list at most N failed files (default 50)")
    p.add_argument("--ray", metavar="ADDRESS", help="embed on a Ray cluster: local, auto or ray://host:port")
    p.add_argument(
        "--shards", metavar="DIR", help="where the cluster writes its Parquet shards (default: in the library)"
    )
    p.add_argument(
        "--moments",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also embed the windows of long audio, video and IMU files, so searches can say when (the library "
        "remembers the choice; on by default)",
    )
    p.add_argument(
        "--moments-hop",
        type=_hop,
        metavar="F",
        help="how far apart the windows start, as a fraction of a window (default 0.5: each instant in two windows; "
        "1: side by side). The library remembers it; files cut with another hop are cut again, one at a time "
        "(`status` counts those waiting)",
    )
    p.add_argument(
        "--reduced-jpeg",
        action="store_true",
        help=f"decode JPEG pictures at a reduced size (libjpeg's DCT scaling): {REDUCED_JPEG_EFFECT}; not with --ray",
    )

    p = command(
        "embed-shards",
        cmd_embed_shards,
        "embed files on a Ray cluster into Parquet shards, for `bindscope import` into a library elsewhere",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders, as the cluster's workers see them")
    p.add_argument("--model", required=True, help="the model: a name, or a checkpoint path that every worker has")
    p.add_argument("--out", required=True, metavar="SHARDS", help="the shards' folder (on storage the workers share)")
    p.add_argument(
        "--ray",
        default="local",
        metavar="ADDRESS",
        help="local (this machine's Ray, default), auto (the cluster this machine belongs to) or ray://host:port",
    )
    p.add_argument("--strip-prefix", metavar="P", help="the start of the paths as the workers see them ...")
    p.add_argument("--prefix", metavar="P", help="... and what replaces it in the shards: the desktop's view")
    p.add_argument("--batch-size", type=_positive, default=None)

    p = command("import", cmd_import, "add precomputed embeddings (Parquet files, or a folder of shards)", library=True)
    p.add_argument("source", metavar="FILE_OR_FOLDER")

    p = command("export", cmd_export, "embeddings with paths and modalities as Parquet or NPZ", library=True)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument(
        "--include-failures", action="store_true", help="also the failed files, as rows without an embedding (Parquet)"
    )

    p = command(
        "reembed",
        cmd_reembed,
        "embed the library with another model; searches keep the current one meanwhile",
        library=True,
    )
    p.add_argument("--model", dest="to", required=True, help="the new model (name or checkpoint path)")
    runtime(p, precision=True)
    p.add_argument("--batch-size", type=_positive, default=None)
    p.add_argument("--switch-anyway", action="store_true", help="switch even if offline items are not embedded yet")

    p = command("roots", cmd_roots, "list the library's folders, move one, or forget files that are gone", library=True)
    p.add_argument("action", nargs="?", choices=["list", "move", "forget-missing"], default="list")
    p.add_argument("old", nargs="?", help="for move: the folder as the library knows it")
    p.add_argument("new", nargs="?", help="for move: where it is now")

    p = command("search", cmd_search, "nearest items to a query composed of files, texts and items", library=True)
    _add_terms(p)
    p.add_argument("--modality", action="append", metavar="M", help="restrict results to this modality (repeatable)")
    _add_filters(p, score=True)
    p.add_argument("-k", type=_positive, default=10, help="results per modality (default 10)")
    p.add_argument(
        "--merged",
        action="store_true",
        help="one list across modalities (same-modality items score highest) instead of one per modality",
    )
    p.add_argument(
        "--moments",
        action="store_true",
        help="rank the windows of long recordings instead of whole files: when in a file the query matches",
    )
    p.add_argument("--model", help="where the library's model checkpoint is, if not where it was")
    runtime(p)

    p = command(
        "classify", cmd_classify, "zero-shot probabilities of text labels for an item, file or text", library=True
    )
    _add_terms(p, single=True)
    p.add_argument("--labels", required=True, help="comma-separated labels")
    p.add_argument("--template", action="append", help="prompt template with {} for the label (repeatable)")
    p.add_argument("--model", help="where the library's model checkpoint is, if not where it was")
    runtime(p)

    p = command("list", cmd_list, "the library's items, filtered and sorted, a page at a time", library=True)
    p.add_argument("--modality", action="append", metavar="M", help="only this modality (repeatable)")
    _add_filters(p)
    p.add_argument("--sort", choices=["path", "date", "id"], default="path", help="order (default path)")
    p.add_argument("--offset", type=_count, default=0, metavar="N", help="skip the first N (default 0)")
    p.add_argument("--limit", type=_count, default=100, metavar="N", help="list at most N (default 100)")

    p = command("map", cmd_map, "a 2-D map of the library (UMAP): a .png picture or .json coordinates", library=True)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--clusters", choices=["kmeans", "hdbscan"], help="also cluster the items")
    p.add_argument("--modality", action="append", metavar="M", help="only this modality's points (repeatable)")
    _add_filters(p)

    p = command(
        "status", cmd_status, "counts per modality and status, failed files, and the library's health", library=True
    )
    p.add_argument("--failures", type=_count, default=50, metavar="N", help="list at most N failed files (default 50)")

    p = command("demo", cmd_demo, "write a gallery of the synthetic demo world")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--per-concept", type=_positive, default=8)
    p.add_argument("--seed", type=int, default=0)

    p = command(
        "train-bind",
        cmd_train_bind,
        "bind (or fine-tune) a modality's encoder to the frozen image encoder on (image, X) pairs",
    )
    p.add_argument("--base", default="imagebind-huge", help="model to start from (name or checkpoint)")
    p.add_argument("--modality", required=True, choices=[m.value for m in Modality if m is not Modality.VISION])
    p.add_argument("--pairs", required=True, metavar="CSV", help="header: image,<modality>[,label]")
    p.add_argument("--out", default="bound.safetensors", metavar="FILE")
    p.add_argument("--checkpoint", metavar="FILE", help="where to save and resume from (default: beside --out)")
    p.add_argument("--epochs", type=_positive, default=10)
    p.add_argument("--batch-size", type=_positive, default=64)
    p.add_argument("--lr", type=_finite, default=1e-4)
    p.add_argument("--val-fraction", type=_finite, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    runtime(p)

    p = command("completion", cmd_completion, "print a shell completion script (bash, zsh or tcsh)")
    p.add_argument("shell", choices=["bash", "zsh", "tcsh"])

    p = command("train-demo", cmd_train_demo, "reproduce the shipped demo model from the demo world")
    p.add_argument("--out", metavar="DIR", help="where to write it (default: over the shipped demo model)")
    p.add_argument(
        "--work", metavar="DIR", help="folder for the generated world and checkpoints (default: a temporary one)"
    )
    p.add_argument("--seed", type=int, default=0)
    return parser


COMMANDS = frozenset(
    name
    for action in build_parser()._actions
    if isinstance(action, argparse._SubParsersAction)
    for name in action.choices
)


def main(argv: list[str] | None = None) -> int:
    warnings.simplefilter("ignore")  # numpy's and scikit-learn's warnings are for developers; failures have their line
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        if "--json" in argv:
            _print_json({"error": "UsageError", "message": str(error)})
        error.parser.print_usage(sys.stderr)
        print(f"{error.parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    try:
        return args.handler(args)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("bindscope: interrupted; finished batches are saved, run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # every failure is one line and exit 2, never a traceback
        from engine.workspace import explain

        kind, message = ("CliError", str(error)) if isinstance(error, (CliError, ValueError)) else explain(error)
        if getattr(args, "json", False):
            _print_json({"error": kind, "message": message})
        print(f"bindscope: {_printable(message)}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
