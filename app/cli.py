"""The ``bindscope`` command line: small, honest commands over the engine.

Progress goes to stderr, results to stdout; ``--json`` prints machine-readable output (schemas
in the README). The exit code is 0 when a command did its job, even if some files failed
(they are reported), 1 when a run was interrupted, and 2 for bad arguments or an unusable
library or model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.modality import Modality

EXIT_OK, EXIT_INTERRUPTED, EXIT_UNUSABLE = 0, 1, 2


class CliError(Exception):
    """A command that cannot run: printed as ``bindscope: <message>`` with exit code 2."""


def _print_json(value) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _progress_bar(description: str):
    """A tqdm bar on stderr driven by (done, total) callbacks."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit="item", file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    update.close = bar.close
    return update


def _open_library(folder: str, create: bool = False):
    from engine.library import Library, LibraryError

    try:
        return Library(folder, create=create)
    except LibraryError as error:
        raise CliError(str(error)) from None


def _load_model(name: str | None, library=None, device: str = "auto", precision: str = "auto"):
    from engine.models.factory import load_model
    from engine.models.runtime import RuntimeUnavailable
    from engine.models.weights import WeightsError
    from engine.models.zoo import ModelUnavailable, default_entry

    from_library = name is None and library is not None and bool(library.model)
    if from_library:
        name = library.model  # the model the library was embedded with, never silently another
    entry = default_entry() if name is None else None
    if name is None and entry is None:
        raise CliError("no model is available: run `bindscope models download imagebind-huge`, or pass --model PATH")
    try:
        return load_model(name or entry, device=device, precision=precision)
    except (ModelUnavailable, WeightsError, RuntimeUnavailable) as error:
        hint = (
            " (the library was embedded with it; pass --model NAME to use another, which embeds the library again)"
            if from_library
            else ""
        )
        raise CliError(f"{error}{hint}") from None


# -- models --------------------------------------------------------------------------------


def cmd_models(args) -> int:
    from engine.models.zoo import ModelUnavailable, default_entry, entries, resolve

    if args.action == "download":
        from engine.models.download import DownloadError
        from engine.models.factory import fetch_weights

        try:
            entry = resolve(args.name)
            bar = _progress_bar(f"downloading {entry.title}")
            path = fetch_weights(entry, progress=bar)
            bar.close()
        except (ModelUnavailable, DownloadError) as error:
            raise CliError(str(error)) from None
        print(json.dumps({"name": entry.name, "path": str(path)}) if args.json else f"{entry.title} is at {path}")
        return EXIT_OK
    active = default_entry()
    rows = [
        {
            "name": e.name,
            "title": e.title,
            "available": e.available,
            "active": active is not None and e.name == active.name,
            "path": str(e.weights_path),
            "summary": e.summary,
        }
        for e in entries()
    ]
    if args.action == "show":
        try:
            wanted = resolve(args.name).name if args.name else None
        except ModelUnavailable as error:
            raise CliError(str(error)) from None
        rows = [r for r in rows if (r["name"] == wanted if wanted else r["active"])]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            mark = "*" if r["active"] else " "
            state = "ready" if r["available"] else "not downloaded"
            print(f"{mark} {r['name']:16s} {state:15s} {r['summary']}")
        if active is None:
            print("no model is available yet: `bindscope models download imagebind-huge`", file=sys.stderr)
    return EXIT_OK


# -- index and status ----------------------------------------------------------------------


def cmd_index(args) -> int:
    from engine.indexer import embed_pending, scan

    library = _open_library(args.library, create=True)
    model = _load_model(args.model, library, args.device, args.precision)
    totals = {"added": 0, "changed": 0, "removed": 0, "unchanged": 0, "ignored": 0, "warnings": []}
    for path in args.paths:
        if not Path(path).is_dir():
            raise CliError(f"{path}: not a folder")
        bar = _progress_bar(f"scanning {path}")
        report = scan(library, path, progress=lambda phase, done, total, bar=bar: bar(done, total))
        bar.close()
        for key in ("added", "changed", "removed", "unchanged", "ignored"):
            totals[key] += getattr(report, key)
        totals["warnings"] += report.warnings
    bar = _progress_bar(f"embedding with {model.entry.title}")
    try:
        embedded = embed_pending(
            library, model, progress=lambda phase, done, total: bar(done, total), batch_size=args.batch_size
        )
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: finished batches are saved; run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    failed = [_item_json(i) for i in library.items(status="failed")]
    summary = {
        **totals,
        "embedded": embedded.embedded,
        "failed": embedded.failed,
        "failures": failed,
        "model": model.name,
    }
    if args.json:
        _print_json(summary)
    else:
        print(
            f"{totals['added']} new, {totals['changed']} changed, {totals['removed']} removed, "
            f"{totals['unchanged']} unchanged; {embedded.embedded} embedded, {embedded.failed} failed ({model.describe()})"
        )
        for item in failed:
            print(f"  failed: {item['path']}: {item['error']}")
        for warning in totals["warnings"]:
            print(f"  warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _item_json(item) -> dict:
    return {
        "id": item.id,
        "modality": item.modality.value,
        "path": item.path,
        "text": item.text,
        "status": item.status,
        "error_kind": item.error_kind,
        "error": item.error,
    }


def cmd_status(args) -> int:
    library = _open_library(args.library)
    counts = library.counts()
    by_modality = {
        m.value: {s: counts.get((m.value, s), 0) for s in ("pending", "embedded", "failed")} for m in Modality
    }
    failed = [_item_json(i) for i in library.items(status="failed")]
    status = {
        "library": str(library.folder),
        "model": library.model,
        "roots": [r.path for r in library.roots()],
        "counts": by_modality,
        "failed": failed,
    }
    if args.json:
        _print_json(status)
        return EXIT_OK
    print(f"library {library.folder} (model: {library.model or 'none yet'})")
    for root in status["roots"]:
        print(f"  root {root}")
    print(f"  {'modality':8s} {'embedded':>9s} {'pending':>8s} {'failed':>7s}")
    for name, row in by_modality.items():
        if any(row.values()):
            print(f"  {name:8s} {row['embedded']:9d} {row['pending']:8d} {row['failed']:7d}")
    for item in failed:
        print(f"  failed: {item['path'] or item['text']}: {item['error']}")
    return EXIT_OK


# -- search and classify -------------------------------------------------------------------


class _TermAction(argparse.Action):
    """--file/--text/--item append query terms in the order given."""

    def __call__(self, parser, namespace, value, option_string=None):
        from engine.query import Term

        terms = getattr(namespace, "terms", None) or []
        kind = self.dest
        if kind == "item":
            try:
                value = int(value)
            except ValueError:
                parser.error(f"--item takes an item id, got {value!r}")
        terms.append(getattr(Term, kind)(value))
        namespace.terms = terms


class _WeightAction(argparse.Action):
    """--weight W sets the weight of the term just before it."""

    def __call__(self, parser, namespace, value, option_string=None):
        import dataclasses

        terms = getattr(namespace, "terms", None)
        if not terms:
            parser.error("--weight must follow a --file, --text or --item")
        terms[-1] = dataclasses.replace(terms[-1], weight=value)


def _add_terms(parser: argparse.ArgumentParser, single: bool = False) -> None:
    parser.add_argument("--file", dest="file", action=_TermAction, metavar="F", help="a file of any modality")
    parser.add_argument("--text", dest="text", action=_TermAction, metavar="T", help="a text")
    parser.add_argument("--item", dest="item", action=_TermAction, metavar="ID", help="a library item id")
    if not single:
        parser.add_argument(
            "--weight",
            action=_WeightAction,
            type=float,
            metavar="W",
            help="weight of the preceding term (default 1; negative subtracts)",
        )


def _searcher(args, library, need_model: bool):
    from engine.query import QueryError, Searcher

    model = _load_model(args.model, library, args.device, "auto") if need_model else None
    try:
        return Searcher(library, model)
    except QueryError as error:
        raise CliError(str(error)) from None


def _hit_json(library, hit) -> dict:
    item = library.item(hit.item_id)
    return {
        "id": hit.item_id,
        "score": round(hit.score, 6),
        "modality": hit.modality.value,
        "path": item.path,
        "text": item.text,
    }


def cmd_search(args) -> int:
    from engine.query import QueryError

    terms = getattr(args, "terms", None)
    if not terms:
        raise CliError("give at least one --file, --text or --item")
    library = _open_library(args.library)
    searcher = _searcher(args, library, need_model=any(t.kind != "item" for t in terms))
    try:
        modalities = [Modality.parse(m) for m in args.modality] if args.modality else None
    except ValueError as error:
        raise CliError(str(error)) from None
    try:
        results = searcher.search(terms, args.k, modalities)
    except QueryError as error:
        raise CliError(str(error)) from None
    payload = {
        "query": [
            {"kind": e.term.kind, "value": e.term.value, "weight": e.term.weight, "modality": e.modality.value}
            for e in results.terms
        ],
        "results": {m.value: [_hit_json(library, h) for h in hits] for m, hits in results.by_modality.items()},
        "merged": [_hit_json(library, h) for h in results.merged],
    }
    if args.json:
        _print_json(payload)
        return EXIT_OK
    groups = [("all modalities", payload["merged"])] if args.merged else payload["results"].items()
    for name, hits in groups:
        print(f"{name}:")
        for rank, hit in enumerate(hits, start=1):
            print(
                f"  {rank:2d}. {hit['score']:.3f}  [{hit['modality']}] {hit['path'] or repr(hit['text'])}  (item {hit['id']})"
            )
    return EXIT_OK


def cmd_classify(args) -> int:
    from engine.prompts import ZERO_SHOT_TEMPLATES
    from engine.query import QueryError

    terms = getattr(args, "terms", None)
    if not terms or len(terms) != 1:
        raise CliError("give exactly one --file, --text or --item to classify")
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    library = _open_library(args.library)
    searcher = _searcher(args, library, need_model=True)
    try:
        ranked = searcher.classify(terms[0], labels, tuple(args.template) if args.template else ZERO_SHOT_TEMPLATES)
    except QueryError as error:
        raise CliError(str(error)) from None
    if args.json:
        _print_json([{"label": label, "probability": round(p, 6)} for label, p in ranked])
    else:
        for label, p in ranked:
            print(f"{p:7.2%}  {label}")
    return EXIT_OK


# -- map and export ------------------------------------------------------------------------


def _embedded_library(folder: str):
    """The library and its embeddings for its model; a library with nothing embedded is unusable here."""
    library = _open_library(folder)
    embeddings = library.embeddings(library.model) if library.model else None
    if embeddings is None or not len(embeddings[0]):
        raise CliError(f"{library.folder}: nothing is embedded yet; run `bindscope index` first")
    return library, embeddings


def cmd_map(args) -> int:
    from engine.projection import MapMaker, cluster

    library, (ids, modalities, vectors, _) = _embedded_library(args.library)
    print(f"mapping {len(ids)} items (UMAP, cosine)...", file=sys.stderr)
    projection = MapMaker(library.cache_dir, library.model).compute(
        ids, modalities, vectors, library.state(library.model)
    )
    clusters = cluster(vectors, args.clusters) if args.clusters else None
    out = Path(args.out)
    if out.suffix.lower() == ".json":
        points = [
            {
                "id": int(i),
                "modality": str(m),
                "x": float(x),
                "y": float(y),
                **({"cluster": int(clusters[n])} if clusters is not None else {}),
            }
            for n, (i, m, (x, y)) in enumerate(zip(ids, modalities, projection.coords, strict=True))
        ]
        out.write_text(json.dumps({"method": projection.method, "points": points}, indent=1))
    elif out.suffix.lower() == ".png":
        from app.map_picture import draw_map

        draw_map(projection, out, clusters)
    else:
        raise CliError(f"{out}: the map is written as .png or .json")
    print(json.dumps({"out": str(out), "points": len(ids)}) if args.json else f"wrote {out} ({len(ids)} points)")
    return EXIT_OK


def cmd_export(args) -> int:
    import numpy as np

    library, (ids, modalities, vectors, scales) = _embedded_library(args.library)
    items = {i.id: i for i in library.items(ids=ids.tolist())} if len(ids) else {}
    paths = [items[i].path or "" for i in ids.tolist()]
    texts = [items[i].text or "" for i in ids.tolist()]
    out = Path(args.out)
    if out.suffix.lower() == ".npz":
        np.savez(
            out,
            ids=ids,
            modalities=modalities.astype(str),
            paths=np.array(paths, dtype=str),
            texts=np.array(texts, dtype=str),
            embeddings=vectors,
            scales=scales,
            model=np.array(library.model),
        )
    elif out.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "id": ids,
                "modality": modalities.astype(str),
                "path": paths,
                "text": texts,
                "scale": scales,
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.reshape(-1)), vectors.shape[1] if vectors.ndim == 2 and vectors.size else 0
                ),
            }
        )
        pq.write_table(table.replace_schema_metadata({"bindscope.model": library.model}), out)
    else:
        raise CliError(f"{out}: export as .parquet or .npz")
    print(json.dumps({"out": str(out), "rows": len(ids)}) if args.json else f"wrote {len(ids)} embeddings to {out}")
    return EXIT_OK


# -- demo world and training ---------------------------------------------------------------


def cmd_demo(args) -> int:
    from engine.demo.world import generate

    observations = generate(args.out, args.per_concept, seed=args.seed)
    summary = {"out": str(Path(args.out).resolve()), "scenes": len(observations), "files": 6 * len(observations)}
    print(
        json.dumps(summary)
        if args.json
        else f"wrote {summary['files']} files ({summary['scenes']} scenes) to {summary['out']}"
    )
    return EXIT_OK


def cmd_train_bind(args) -> int:
    import torch

    from engine.models.weights import save_safetensors
    from engine.models.zoo import metadata_for
    from engine.prompts import ZERO_SHOT_TEMPLATES
    from engine.train.evaluate import evaluate
    from engine.train.pairs import PairsError, load_pairs, read_pairs
    from engine.train.trainer import Binder, BindSettings

    modality = Modality.parse(args.modality)
    if modality is Modality.VISION:
        raise CliError("images are the anchor; choose the modality to bind to them")
    base = _load_model(args.base, None, args.device, "float32")
    try:
        pairs = load_pairs(read_pairs(args.pairs, modality), modality, base.spec)
    except PairsError as error:
        raise CliError(str(error)) from None
    for _pair, error in pairs.failures:
        print(f"skipped pair: {error}", file=sys.stderr)
    count = len(pairs)
    held = max(1, int(count * args.val_fraction)) if count > 4 else 0
    order = torch.randperm(count, generator=torch.Generator().manual_seed(args.seed)).tolist()  # a fair held-out split
    train, val = pairs.subset(order[: count - held]), pairs.subset(order[count - held :]) if held else None
    settings = BindSettings(epochs=args.epochs, batch_size=min(args.batch_size, len(train)), lr=args.lr, seed=args.seed)
    checkpoint = Path(args.checkpoint or Path(args.out).with_suffix(".checkpoint.pt"))
    binder = Binder(base.model, modality, train, settings, runtime=base.runtime, checkpoint=checkpoint)
    print(
        f"binding {modality.value} to images: {len(train)} training pairs, {held} held out, {settings.epochs} epochs "
        f"on {base.runtime.describe()} (checkpoint {checkpoint})",
        file=sys.stderr,
    )
    try:
        binder.fit(on_epoch=lambda e, n, loss: print(f"epoch {e}/{n}  loss {loss:.4f}", file=sys.stderr))
    except KeyboardInterrupt:
        print(f"interrupted; rerun the same command to resume from {checkpoint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    labels = sorted({label for label in (val.labels if val else []) if label})
    report = evaluate(base.model, {modality: val}, labels, ZERO_SHOT_TEMPLATES, base.spec) if val else None
    out = save_safetensors(base.model, args.out, metadata_for(base.entry.config, base.spec))
    if args.json:
        _print_json({"out": str(out), "report": [r.__dict__ for r in report.rows] if report else []})
    else:
        if report:
            print(report.table())
        print(f"wrote {out}; use it with --model {out}")
    return EXIT_OK


def cmd_train_demo(args) -> int:
    import tempfile

    from engine.demo.recipe import RecipeSettings, train_demo_model

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bindscope-demo-"))
    report = train_demo_model(
        work, args.out, RecipeSettings(seed=args.seed), log=lambda line: print(line, file=sys.stderr)
    )
    print(report.table())
    return EXIT_OK


# -- the parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bindscope", description="Explore ImageBind's joint embedding space from the command line."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str, library: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        if library:
            p.add_argument("--library", required=True, metavar="DIR", help="the library folder")
        return p

    p = command("models", cmd_models, "list models, show the active one, or download one")
    p.add_argument("action", nargs="?", choices=["list", "show", "download"], default="list")
    p.add_argument("name", nargs="?", help="model name (for show and download)")

    p = command("index", cmd_index, "add folders to a library and embed what is new or changed", library=True)
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--model", help="model name or checkpoint path (default: the library's, else the best available)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    p.add_argument("--batch-size", type=int, default=None)

    p = command("search", cmd_search, "nearest items to a query composed of files, texts and items", library=True)
    _add_terms(p)
    p.add_argument("--modality", action="append", metavar="M", help="restrict results to this modality (repeatable)")
    p.add_argument("-k", type=int, default=10, help="results per modality (default 10)")
    p.add_argument(
        "--merged",
        action="store_true",
        help="one list across modalities (same-modality items score highest) instead of one per modality",
    )
    p.add_argument("--model", help="model for files and texts (default: the library's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    p = command(
        "classify", cmd_classify, "zero-shot probabilities of text labels for an item, file or text", library=True
    )
    _add_terms(p, single=True)
    p.add_argument("--labels", required=True, help="comma-separated labels")
    p.add_argument("--template", action="append", help="prompt template with {} for the label (repeatable)")
    p.add_argument("--model", help="model (default: the library's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    p = command("map", cmd_map, "a 2-D map of the library (UMAP): a .png picture or .json coordinates", library=True)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--clusters", choices=["kmeans", "hdbscan"], help="also cluster the items")

    command("status", cmd_status, "counts per modality and status, and the failed files", library=True)

    p = command("export", cmd_export, "embeddings with paths and modalities as Parquet or NPZ", library=True)
    p.add_argument("--out", required=True, metavar="FILE")

    p = command("demo", cmd_demo, "write a gallery of the synthetic demo world")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--per-concept", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)

    p = command(
        "train-bind",
        cmd_train_bind,
        "bind (or fine-tune) a modality's encoder to the frozen image encoder on (image, X) pairs",
    )
    p.add_argument("--base", default="imagebind-huge", help="model to start from (name or checkpoint)")
    p.add_argument("--modality", required=True, choices=["audio", "depth", "thermal", "imu", "text"])
    p.add_argument("--pairs", required=True, metavar="CSV", help="header: image,<modality>[,label]")
    p.add_argument("--out", default="bound.safetensors", metavar="FILE")
    p.add_argument("--checkpoint", metavar="FILE", help="where to save and resume from (default: beside --out)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    p = command("train-demo", cmd_train_demo, "reproduce the shipped demo model from the demo world")
    p.add_argument("--out", default="resources/models", metavar="DIR")
    p.add_argument(
        "--work", metavar="DIR", help="folder for the generated world and checkpoints (default: a temporary one)"
    )
    p.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CliError as error:
        print(f"bindscope: {error}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
