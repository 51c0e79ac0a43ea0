"""File jobs with the model loaded in this process: ``predict`` scores a file and exits,
``info`` prints what the model takes and answers. The same user class as the server, no
extra build: ``docker run --rm -v $PWD:/data IMAGE predict /data/in.jsonl /data/out.jsonl``
(the image's run script hands ``predict`` and ``info`` here), or ``modelkiln predict APP_DIR
IN OUT`` on the host.

Inputs (by extension): ``.jsonl`` (one Seldon message or V2 request per line, told apart per
line), ``.json`` (an array of them, or ODAHU's ``{"columns", "data"}``), ``.csv`` (a header,
then rows: ``--batch-size`` rows per call) and ``.npy``. Outputs keep the input's order:
JSON lines for messages (a line that fails gets ``{"error": ...}`` and the job goes on), CSV or
``.npy`` for tables. ``--resume`` continues a JSON-lines or CSV output after its last complete
line or record, byte for byte as a clean run would have written it; ``--shard I/N`` (or
``auto`` from an Indexed Job) scores every N-th item from the I-th. A Modzy template model
(``model.formats.modzy``) reads and writes files instead: its input is a folder of its input
files (one ``run``) or a folder of such folders (one ``run`` each), its output the folder (of
folders) it writes to. Inputs are streamed
(``jobinputs``) and outputs locked (``joboutputs``). Exit codes: 0 every item succeeded, 1
some failed (their error lines say why), 2 the job could not run (one ``ERROR:`` line naming
the fix).
"""

import argparse
import collections
import csv
import io
import json
import multiprocessing
import os
import sys
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from ..inference.documents import write_atomically
from .inputs import (BadLine, JobError, Shard, Table, chunks, count_message_lines,
                        load_json, message_lines, open_input, selected, shard_size)
from .outputs import (Output, OutputLock, complete_lines, complete_records, failed_lines,
                         writable_folder, write_error)

EXIT_OK, EXIT_FAILED_ITEMS, EXIT_USAGE = 0, 1, 2
MESSAGES_PER_TASK = 20  # messages a worker scores per task (the output is written per task)
MESSAGE_FORMATS = (".jsonl", ".json")
TABLE_FORMATS = (".csv", ".npy")
ODAHU_RESULTS = "results.json"  # what ODAHU's docker-cli image writes in its output folder


# -- the model --------------------------------------------------------------------------------

def load_app(app_dir: str, docs: bool = False) -> Any:
    """The WSGI app an image would serve for ``app_dir``, built in this process: settings from
    its ``.s2i/environment``, the class constructed and its ``load()`` run (``modelkiln test``
    sends its examples to it; file jobs call its operations). ``docs``: also the /docs page
    (off by default: neither serves pages)."""
    from ..model.context import LoadState
    from ..errors import LoadError
    from ..transport.http import create_app
    from ..server import load_component, user_class

    settings = load_settings(app_dir)
    settings.docs = settings.docs and docs  # no /docs page in a job or `modelkiln test`
    try:
        component = load_component(settings, user_class(settings))
    except LoadError as exc:
        raise JobError(str(exc)) from exc
    if component.load is not None:
        try:
            component.load()
        except Exception as exc:
            raise JobError("load() failed: %s: %s" % (type(exc).__name__, exc)) from exc
    state = LoadState()
    state.ready = True
    return create_app(settings, component, None, state)


def load_settings(app_dir: str) -> Any:
    """The settings an image would serve ``app_dir`` with (its limits are the job's too)."""
    from ..settings import Settings, SettingsError

    from ..server import resolve_format

    try:
        return resolve_format(Settings.load([app_dir, "--workers", "1"],
                                            read_annotations=False))
    except SettingsError as exc:
        raise JobError(str(exc)) from exc


def error_line(status: int, reason: str, message: str) -> Dict[str, Any]:
    return {"error": {"status": status, "reason": reason, "message": message}}


class Scorer(object):
    """The user's class, constructed and loaded, behind the server's own operations."""

    def __init__(self, app_dir: str) -> None:
        self.app = load_app(app_dir)
        self.ctx = self.app.ctx
        self.documents = self.app.documents

    def message(self, item: Any) -> Dict[str, Any]:
        """The answer to one Seldon message or V2 request, or ``{"error": ...}``."""
        from ..errors import from_user_exception

        try:
            return self.documents.message(item)
        except Exception as exc:  # ours or the user's: reported on its line, the job goes on
            error = from_user_exception(exc)  # (a MicroserviceError is kept as it is)
            return error_line(error.status_code, error.reason, error.message)

    def table(self, names: List[str], rows: Any) -> Tuple[List[str], Any]:
        """(output column names, output rows) for one batch of table rows."""
        from ..errors import from_user_exception

        try:
            return self.documents.table(names, rows)
        except Exception as exc:
            raise JobError(from_user_exception(exc).message) from exc

    def info(self) -> Dict[str, Any]:
        from ..model.metadata import metadata_or_error

        ctx = self.ctx
        return {"metadata": metadata_or_error(ctx.metadata, ctx.metadata_error),
                "inputs": [spec.as_metadata() for spec in ctx.signature.inputs],
                "outputs": [spec.as_metadata() for spec in ctx.signature.outputs],
                "service_type": ctx.settings.service_type,
                "model_name": ctx.settings.model_name}


# -- workers ----------------------------------------------------------------------------------

_scorer = None  # type: Optional[Scorer]


def _start_worker(app_dir: str) -> None:
    global _scorer
    _scorer = Scorer(app_dir)


def _run_batches(app_dir: str, batches: Iterable[List[Tuple[int, Any]]], workers: int
                 ) -> Iterator[List[Tuple[int, Dict[str, Any]]]]:
    """Answers batch by batch, in input order, from ``workers`` processes (each loads the
    model once) or from this one. At most two batches per worker are read ahead (a Pool's
    imap would read the whole input into its queue)."""
    if workers <= 1:
        _start_worker(app_dir)
        for batch in batches:
            yield _score_items(batch)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_start_worker, initargs=(app_dir,)) as pool:
        pending = collections.deque()  # type: Any
        for batch in batches:
            pending.append(pool.apply_async(_score_items, (batch,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _score_items(batch: List[Tuple[int, Any]]) -> List[Tuple[int, Dict[str, Any]]]:
    """Answers to a batch of (index, item), in this worker's model."""
    assert _scorer is not None
    out = []
    for index, item in batch:
        if isinstance(item, BadLine):
            out.append((index, error_line(item.status, item.reason, item.message)))
        else:
            out.append((index, _scorer.message(item)))
    return out


# -- outputs ----------------------------------------------------------------------------------

def sharded_name(path: str, shard: Shard) -> str:
    if shard is None:
        return path
    base, ext = os.path.splitext(path)
    return "%s.shard-%d-of-%d%s" % (base, shard[0], shard[1], ext)


def parse_shard(text: Optional[str], environ: Optional[Dict[str, str]] = None) -> Shard:
    """``I/N``, or ``auto`` (Kubernetes Indexed Job: JOB_COMPLETION_INDEX and
    MODELKILN_SHARDS, else the job's completions count in JOB_COMPLETIONS)."""
    if not text:
        return None
    environ = os.environ if environ is None else environ
    if text == "auto":
        index = environ.get("JOB_COMPLETION_INDEX")
        count = environ.get("MODELKILN_SHARDS") or environ.get("JOB_COMPLETIONS")
        if index is None or count is None:
            raise JobError("--shard auto needs JOB_COMPLETION_INDEX (an Indexed Job sets it) and "
                           "the number of shards in MODELKILN_SHARDS (or JOB_COMPLETIONS)")
        text = "%s/%s" % (index, count)
    try:
        index, _, count = text.partition("/")
        shard = int(index), int(count)
    except ValueError:
        raise JobError("--shard %r must be I/N (e.g. 0/4) or auto" % text) from None
    if not 0 <= shard[0] < shard[1]:
        raise JobError("--shard %s: I must be between 0 and N-1" % text)
    return shard


def csv_rows(answer: List[Any]) -> List[Any]:
    """Answer rows as CSV rows (a model answering one value per row gives a column)."""
    return [row if isinstance(row, (list, tuple)) else [row] for row in answer]


def resume_table(target: str, resume: bool, stderr: Any) -> Tuple[int, bool]:
    """(rows already in a CSV output, whether its header is) after a cut record is removed;
    (0, False) for a fresh output."""
    if not resume:
        return 0, False
    records = complete_records(target)
    if records:
        stderr.write("resuming after %d completed row(s) of %s\n" % (records - 1, target))
    return max(records - 1, 0), records > 0


class Progress(object):
    """Items done, rate and ETA on stderr: a bar on a terminal, a line every 5 s otherwise."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = self.last = time.time()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.time()
        if self.tty or now - self.last >= 5.0 or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate else 0.0
            text = "%d/%d (%.0f%%) %.0f/s ETA %.0f s" % (
                self.done, self.total, 100.0 * self.done / max(self.total, 1), rate, eta)
            if self.tty:
                filled = int(30 * self.done / max(self.total, 1))
                self.stream.write("\r[%s%s] %s" % ("#" * filled, "." * (30 - filled), text))
                if self.done >= self.total:
                    self.stream.write("\n")
            else:
                self.stream.write("progress: %s\n" % text)
            self.stream.flush()


# -- the job ----------------------------------------------------------------------------------

def predict(app_dir: str, source: str, target: str, batch_size: int = 100, workers: int = 1,
            resume: bool = False, shard: Shard = None, stderr: Any = None,
            output_file_name: Optional[str] = None) -> int:
    """Score ``source`` into ``target``; the exit code (0: every item succeeded)."""
    stderr = stderr or sys.stderr
    settings = load_settings(app_dir)
    if settings.model_format == "gppi":
        if resume or shard is not None or workers > 1:
            raise JobError("--resume, --shard and --workers are for message and table inputs: "
                           "a GPPI model's job scores one ODAHU matrix file")
        return predict_gppi(app_dir, source, target, output_file_name, stderr)
    if settings.model_format == "modzy":
        if resume or shard is not None or workers > 1:
            raise JobError("--resume, --shard and --workers are for message and table inputs: "
                           "a Modzy template model's job runs its input folders one by one")
        return predict_folders(app_dir, source, target, stderr)
    limit = settings.max_request_size
    ext = os.path.splitext(source)[1].lower()
    document = None  # type: Any
    if ext == ".json" and os.path.isfile(source):
        document = load_json(source, limit)
        if isinstance(document, dict) and "data" in document:  # ODAHU's {"columns", "data"}
            if os.path.isdir(target):  # its form: predict in.json OUTDIR
                target = os.path.join(target, output_file_name or ODAHU_RESULTS)
            writable_folder(target)
            with OutputLock(target):
                return _predict_odahu(app_dir, document, source, target, stderr)
        if not isinstance(document, list):
            raise JobError("%s must hold a JSON array of Seldon messages or V2 requests (or "
                           "be a .jsonl file, one per line)" % source)
    target = sharded_name(target, shard)
    check_paths(source, target)
    with OutputLock(target):
        if ext in TABLE_FORMATS:
            return _predict_table(app_dir, Table(source, limit), target, batch_size, resume,
                                  shard, stderr)
        if document is not None:
            items, total = enumerate(document), len(document)  # type: Any, int
        else:
            items, total = message_lines(source, limit), count_message_lines(source, limit)
        return _predict_messages(app_dir, items, shard_size(total, shard), target, workers,
                                 resume, shard, stderr)


def check_paths(source: str, target: str) -> str:
    """The input's format (its extension), once the input is a readable file of a known
    format and the output a file in a writable folder; else a JobError naming the fix."""
    if not os.path.isfile(source):
        raise JobError("input %s does not exist (or is not a file)" % source)
    ext = os.path.splitext(source)[1].lower()
    if ext not in MESSAGE_FORMATS + TABLE_FORMATS:
        raise JobError("input %s: the extension says the format; use one of %s"
                       % (source, ", ".join(MESSAGE_FORMATS + TABLE_FORMATS)))
    open_input(source).close()
    if os.path.isdir(target):
        raise JobError("output %s is a folder: name the output file (a folder is ODAHU's form, "
                       'for a {"columns": ..., "data": ...} input)' % target)
    writable_folder(target)
    return ext


def _predict_messages(app_dir: str, items: Iterator[Tuple[int, Any]], total: int, target: str,
                      workers: int, resume: bool, shard: Shard, stderr: Any) -> int:
    skip = complete_lines(target) if resume else 0
    if skip:
        stderr.write("resuming after %d completed line(s) of %s\n" % (skip, target))
    failed = failed_lines(target) if skip else 0
    progress = Progress(total, stderr)
    progress.done = skip
    batches = chunks(selected(items, shard, skip), MESSAGES_PER_TASK)
    with Output(target, append=skip > 0) as out:
        for batch in _run_batches(app_dir, batches, workers):
            for index, answer in batch:
                if "error" in answer:
                    failed += 1
                    answer = dict(answer, line=index + 1)
                out.write(json.dumps(answer, ensure_ascii=False) + "\n")
            out.flush()  # a killed job keeps every line written so far (--resume)
            progress.advance(len(batch))
    stderr.write("%d item(s) scored into %s, %d failed\n" % (total, target, failed))
    return EXIT_OK if failed == 0 else EXIT_FAILED_ITEMS


def _predict_table(app_dir: str, table: Table, target: str, batch_size: int, resume: bool,
                   shard: Shard, stderr: Any) -> int:
    import numpy as np

    out_ext = os.path.splitext(target)[1].lower()
    if out_ext not in TABLE_FORMATS:
        raise JobError("a table input (%s) is scored into a table: name the output .csv or "
                       ".npy, not %s" % (table.path, target))
    total = shard_size(table.count(), shard)
    if out_ext == ".csv":
        done, header = resume_table(target, resume, stderr)
    else:
        done, header = 0, False
        if resume:
            stderr.write("%s is written whole at the end: scoring from the start\n" % target)
    progress = Progress(total, stderr)
    progress.done = done
    answers = _table_answers(Scorer(app_dir), table, shard, done, total, max(batch_size, 1))
    if out_ext == ".npy":
        results = []  # type: List[Any]
        for _, answer in answers:
            results.extend(answer)
            progress.advance(len(answer))
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(results))
        write_output(target, buffer.getvalue())
    else:
        with Output(target, append=header, newline="") as out:
            writer = csv.writer(out)
            for out_names, answer in answers:
                rows = csv_rows(answer)
                if not header:
                    writer.writerow(out_names or ["t:%d" % i for i in range(len(rows[0]))])
                    header = True
                writer.writerows(rows)
                out.flush()  # a killed job keeps every row written so far (--resume)
                progress.advance(len(rows))
    stderr.write("%d row(s) scored into %s\n" % (total, target))
    return EXIT_OK


def _table_answers(scorer: Scorer, table: Table, shard: Shard, done: int, total: int,
                   size: int) -> Iterator[Tuple[List[str], List[Any]]]:
    """(output names, output rows) batch by batch, one output row per input row."""
    for start, batch in zip(range(done, total, size), table.batches(shard, done, size)):
        out_names, answer = scorer.table(table.names, batch.tolist())
        if not isinstance(answer, list) or len(answer) != len(batch):
            raise JobError("rows %d-%d of %s: the model answered %s row(s) for %d; a table "
                           "job needs one answer row per input row"
                           % (start + 1, start + len(batch), table.path,
                              len(answer) if isinstance(answer, list) else "no",
                              len(batch)))
        yield out_names, answer


def write_output(target: str, data: bytes) -> None:
    """A whole output, written atomically; a full disk is a JobError."""
    try:
        write_atomically(target, data)
    except OSError as exc:
        raise write_error(target, exc, "run the job again (this output is written whole at "
                                       "the end)") from exc


def _predict_odahu(app_dir: str, document: Dict[str, Any], source: str, target: str,
                   stderr: Any) -> int:
    """ODAHU's docker-CLI form: ``{"columns": [...], "data": [[...]]}`` in, ``results.json``
    with ``{"prediction": [[...]], "columns": [...]}`` out."""
    if not isinstance(document.get("data"), list):
        raise JobError('%s: expected {"columns": [...], "data": [[...], ...]}' % source)
    scorer = Scorer(app_dir)
    names, rows = scorer.table(list(document.get("columns") or []), document["data"])
    text = json.dumps({"prediction": rows, "columns": names})
    write_output(target, text.encode("utf-8"))
    stderr.write("%d row(s) scored into %s\n" % (len(document["data"]), target))
    return EXIT_OK


def predict_gppi(app_dir: str, source: str, target: str, output_file_name: Optional[str],
                 stderr: Any) -> int:
    """A GPPI model's job, as ODAHU's docker-cli image runs it: ``{"columns", "data"}`` from
    ``source``, ``predict_on_matrix`` once, ``{"prediction", "columns"}`` written to
    ``target/results.json`` (``--output_file_name``; or to ``target`` when it names a file)
    with the entrypoint's output JSON serializer."""
    from ..errors import MicroserviceError

    if not os.path.isfile(source):
        raise JobError("input %s does not exist (or is not a file): a GPPI model's job reads "
                       'one JSON file, {"columns": [...], "data": [[...], ...]}' % source)
    if os.path.isdir(target) or output_file_name:
        target = os.path.join(target, output_file_name or ODAHU_RESULTS)
    writable_folder(target)
    document = load_json(source, load_settings(app_dir).max_request_size)
    model = Scorer(app_dir).ctx.component.obj
    if model.mode != "matrix":  # ODAHU's CLI knows no other mode
        raise JobError("Unknown model's return type: %s" % (model.mode,))
    try:
        prediction, columns = model.invoke(document)
    except MicroserviceError as exc:
        raise JobError(exc.message) from exc
    answer = {"prediction": prediction.tolist() if hasattr(prediction, "tolist")
              else prediction, "columns": columns}
    try:
        text = json.dumps(answer, cls=model.output_serializer())
    except (TypeError, ValueError) as exc:
        raise JobError("the model's answer cannot be written as JSON: %s (its "
                       "get_output_json_serializer() names the encoder that can)" % exc
                       ) from exc
    with OutputLock(target):
        write_output(target, text.encode("utf-8"))
    stderr.write("Prediction is successful. Result file: %s\n" % target)
    return EXIT_OK


def gppi_info(app_dir: str) -> str:
    """What ODAHU's docker-cli image's ``info`` prints: the invoke call's input and output
    properties, from the entrypoint's ``info()``."""
    from ..errors import LoadError
    from ..model.formats import gppi
    from ..protocols.odahu import swagger

    settings = load_settings(app_dir)
    try:  # the entrypoint's info() alone: ODAHU's info does not run init()
        schemas = gppi.import_entrypoint(settings.app_dir).info()
    except LoadError as exc:
        raise JobError(str(exc)) from exc
    invoke = swagger(settings.model_name, "", *schemas)["paths"]["/api/model/invoke"]
    properties = invoke["post"]["parameters"][0]["schema"]["properties"]
    output = invoke["post"]["responses"]["200"]["properties"]
    return "Input schema:\n%s\nOutput schema:\n%s\n" % (
        json.dumps(properties, indent=4), json.dumps(output, indent=4))


def predict_folders(app_dir: str, source: str, target: str, stderr: Any) -> int:
    """A Modzy template model's job: one ``run`` on the input files in ``source`` into
    ``target``, or, when ``source`` holds folders of them instead, one per folder into the
    folder of the same name in ``target``. A run that fails is reported and the job goes on."""
    from ..errors import MicroserviceError

    if not os.path.isdir(source):
        raise JobError("input %s is not a folder: a Modzy template model reads its input files "
                       "from a folder (or from each folder in it)" % source)
    if os.path.exists(target) and not os.path.isdir(target):
        raise JobError("output %s is a file: name the folder the model writes its output files "
                       "to (it is made when missing)" % target)
    model = Scorer(app_dir).ctx.component.obj
    if all(os.path.isfile(os.path.join(source, name)) for name in model.inputs):
        runs = [(source, target)]
    else:
        runs = [(os.path.join(source, entry), os.path.join(target, entry))
                for entry in sorted(os.listdir(source))
                if os.path.isdir(os.path.join(source, entry))]
    if not runs:
        raise JobError("%s holds neither the model's input files (%s) nor folders of them"
                       % (source, ", ".join(model.inputs)))
    failed = 0
    for folder, out in runs:
        try:
            written = model.run_folder(folder, out)
        except MicroserviceError as exc:
            failed += 1
            stderr.write("%s: %d %s\n" % (folder, exc.status_code, exc.message))
        except OSError as exc:  # an output folder that cannot be made
            failed += 1
            stderr.write("%s: %s\n" % (folder, exc))
        else:
            stderr.write("%s: wrote %s\n" % (folder, ", ".join(written)))
    stderr.write("%d folder(s) run into %s, %d failed\n" % (len(runs), target, failed))
    return EXIT_OK if failed == 0 else EXIT_FAILED_ITEMS


# -- command line -----------------------------------------------------------------------------

def add_resume_and_shard(parser: argparse.ArgumentParser) -> None:
    """The options ``predict`` and ``batch`` share."""
    parser.add_argument("--resume", action="store_true",
                        help="continue a .jsonl or .csv output after its last complete line "
                             "(a .npy output is scored again: it is written at the end)")
    parser.add_argument("--shard", help="I/N: score every N-th item from the I-th; auto: from "
                                        "an Indexed Job (JOB_COMPLETION_INDEX, "
                                        "MODELKILN_SHARDS)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelkiln", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("predict", help="score a file with the model and exit")
    run.add_argument("app", help="app folder (in an image: /opt/app-root/src)")
    run.add_argument("input", help=".jsonl, .json, .csv or .npy; for a Modzy template model, "
                                   "a folder of its input files, or of such folders")
    run.add_argument("output", help=".jsonl for messages; .csv or .npy for tables; a folder: "
                                    "FOLDER/results.json (ODAHU's form), or a Modzy template "
                                    "model's output files (a folder each)")
    run.add_argument("--batch-size", type=int, default=100, help="table rows per call")
    run.add_argument("--output_file_name", "--output-file-name", dest="output_file_name",
                     help="ODAHU's form: the file written in the output folder (default "
                          "results.json)")
    run.add_argument("--workers", type=int, default=1,
                     help="processes scoring messages, each with its own model (order kept)")
    add_resume_and_shard(run)
    info = commands.add_parser("info", help="print the model's metadata and schema")
    info.add_argument("app", help="app folder (in an image: /opt/app-root/src)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "info":
            if load_settings(args.app).model_format == "gppi":
                sys.stdout.write(gppi_info(args.app))
            else:
                print(json.dumps(Scorer(args.app).info(), indent=2))
            return EXIT_OK
        if args.command == "predict":
            return predict(args.app, args.input, args.output, args.batch_size, args.workers,
                           args.resume, parse_shard(args.shard),
                           output_file_name=args.output_file_name)
    except JobError as exc:
        sys.stderr.write("ERROR: %s\n" % exc)
        return EXIT_USAGE
    except OSError as exc:  # a file that changed under the job: one line, not a traceback
        sys.stderr.write("ERROR: %s\n" % exc)
        return EXIT_USAGE
    build_parser().print_help()
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
