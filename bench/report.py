"""Summaries, the results table, the target checks and RESULTS.md."""
import statistics

# a modelkiln@REV baseline goes after modelkiln; modelkiln-nogrpc is started for its memory only
SERVER_ORDER = ["modelkiln", "modelkiln-nogrpc", "seldon", "bare", "uvicorn", "fastapi", "mlserver"]
NOGRPC = "modelkiln-nogrpc"
SMALL = ["small-ndarray", "small-tensor"]
LARGE = ["1000x4-ndarray", "1000x4-tensor"]
V1_PAYLOADS = SMALL + LARGE
V2_SMALL_JSON = "v2-small-json"
V2_LARGE_JSON = "v2-1000x4-json"
V2_LARGE_BINARY = "v2-1000x4-binary"
V2_PAYLOADS = [V2_SMALL_JSON, V2_LARGE_JSON, V2_LARGE_BINARY]
BINARY_OF = {V2_LARGE_BINARY: V2_LARGE_JSON}  # a binary payload -> the JSON one with the same rows
GRPC_SMALL = ["grpc-small-ndarray", "grpc-small-tensor"]
GRPC_LARGE = ["grpc-1000x4-tensor"]
V1_GRPC_PAYLOADS = GRPC_SMALL + GRPC_LARGE
V2_GRPC_SMALL = "grpc-v2-small-raw"
V2_GRPC_LARGE = "grpc-v2-1000x4-raw"
V2_GRPC_PAYLOADS = [V2_GRPC_SMALL, V2_GRPC_LARGE]
GRPC_PAYLOADS = V1_GRPC_PAYLOADS + V2_GRPC_PAYLOADS


def median(xs):
    return statistics.median(xs) if xs else None


class Cell:
    """All repeats of one (workers, concurrency, payload, server)."""

    def __init__(self, na=None):
        self.samples = []
        self.check_failures = []
        self.na = na  # why this server cannot run this payload (the row shows n/a)

    @property
    def rps(self):
        return median([s.rps for s in self.samples])

    @property
    def spread(self):
        if len(self.samples) < 2:
            return ""
        rs = [s.rps for s in self.samples]
        return "%.0f–%.0f" % (min(rs), max(rs))

    @property
    def p50(self):
        return median([s.p50_ms for s in self.samples])

    @property
    def p99(self):
        return median([s.p99_ms for s in self.samples])

    @property
    def cpu(self):
        return median([s.cpu_ms_per_req for s in self.samples if s.cpu_ms_per_req is not None])

    @property
    def client_cpu(self):
        """gRPC runs: CPU of all client processes per request (ms)."""
        return median([s.client_cpu_ms_per_req for s in self.samples
                       if getattr(s, "client_cpu_ms_per_req", None) is not None])

    @property
    def errors(self):
        return sum(s.errors for s in self.samples) + len(self.check_failures)

    @property
    def requests(self):
        return sum(s.requests for s in self.samples)


def background_text(shares, ncpu):
    if not shares:
        return "background load: not measured"
    s = sorted(shares)
    return ("background load from other processes during the measured runs: median %.0f%%, "
            "90th percentile %.0f%%, max %.0f%% of the machine's %d CPUs"
            % (100 * median(s), 100 * s[int(0.9 * (len(s) - 1))], 100 * s[-1], ncpu))


def fmt(x, spec="%.0f", none="—"):
    return none if x is None else spec % x


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def md_table(header, rows, align=None):
    """A markdown table padded so it also reads well on a terminal."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    align = align or ["l"] * len(header)

    def line(cells):
        out = []
        for c, w, a in zip(cells, widths, align):
            out.append(c.rjust(w) if a == "r" else c.ljust(w))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2)) for w, a in zip(widths, align)) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def throughput_table(cells, row_keys, servers, payload_names, baseline=None, client_cpu=False):
    """One markdown table for the rows of these payloads, or "" if none ran.

    Ratio columns are on modelkiln's row (peer columns whose peer did not run are left out):
    mk/<peer> = modelkiln req/s over the peer's, CPU <peer>/mk = the peer's server CPU per request
    over modelkiln's; bin/json = modelkiln's binary req/s over its JSON req/s on the same rows.
    client_cpu: add "cli CPU ms/req" (the gRPC clients' CPU per request) after the server's.
    """
    keys = [k for k in row_keys if k[2] in payload_names]
    ran = [s for s in servers if any((w, c, p, s) in cells for (w, c, p) in keys)]
    if not keys or not ran:
        return ""
    peers = [s for s in ran if s != "modelkiln"]
    label = {baseline: "base"} if baseline else {}
    cols = []
    for peer in peers:
        name = label.get(peer, peer)
        cols.append(("mk/%s" % name, lambda w, c, p, peer=peer: ratio(
            _rps(cells, (w, c, p, "modelkiln")), _rps(cells, (w, c, p, peer)))))
    for peer in peers:
        name = label.get(peer, peer)
        cols.append(("CPU %s/mk" % name, lambda w, c, p, peer=peer: ratio(
            _cpu(cells, (w, c, p, peer)), _cpu(cells, (w, c, p, "modelkiln")))))
    if any(p in BINARY_OF for (_, _, p) in keys):
        cols.append(("bin/json", lambda w, c, p: ratio(
            _rps(cells, (w, c, p, "modelkiln")), _rps(cells, (w, c, BINARY_OF[p], "modelkiln")))
            if p in BINARY_OF else None))
    base = ["workers", "conc", "payload", "server", "req/s", "min–max", "p50 ms", "p99 ms",
            "srv CPU ms/req"] + (["cli CPU ms/req"] if client_cpu else []) + ["errors"]
    nbase = len(base)
    header = base + [h for h, _ in cols]
    align = ["l", "r", "l", "l"] + ["r"] * (len(header) - 4)
    rows = []
    notes = set()
    for (w, c, p) in keys:
        for s in ran:
            cell = cells.get((w, c, p, s))
            if cell is None:
                continue
            if cell.na:
                rows.append(["%dx1" % w, c, p, s, "n/a"] + [""] * (nbase - 6) + ["n/a"] + [""] * len(cols))
                notes.add("n/a: %s has %s" % (s, cell.na))
                continue
            extra = [fmt(fn(w, c, p), "%.2fx", "") if s == "modelkiln" else "" for _, fn in cols]
            rows.append([
                "%dx1" % w, c, p, s, fmt(cell.rps), cell.spread, fmt(cell.p50, "%.2f"),
                fmt(cell.p99, "%.2f"), fmt(cell.cpu, "%.3f"),
            ] + ([fmt(cell.client_cpu, "%.3f")] if client_cpu else []) + [cell.errors] + extra)
    # leave out ratio columns with nothing in them
    keep = [i for i in range(len(header)) if i < nbase or any(r[i] for r in rows)]
    table = md_table([header[i] for i in keep], [[r[i] for i in keep] for r in rows], [align[i] for i in keep])
    if notes:
        table += "\n\n" + "; ".join(sorted(notes)) + " (not run, not an error)."
    return table


def _rps(cells, key):
    c = cells.get(key)
    return c.rps if c else None


def _cpu(cells, key):
    c = cells.get(key)
    return c.cpu if c else None


def process_table(memory, startup, servers, workers_list):
    header = ["server", "workers", "processes", "RSS MiB (sum)", "PSS MiB (sum)",
              "RSS MiB after bench", "start→ready s (median)", "starts"]
    align = ["l", "r", "r", "r", "r", "r", "r", "r"]
    rows = []
    for s in servers:
        for w in workers_list:
            m = memory.get((s, w))
            if not m:
                continue
            st = startup.get((s, w), [])
            rows.append([
                s, "%dx1" % w, m["procs"], "%.1f" % (m["rss_kib"] / 1024), "%.1f" % (m["pss_kib"] / 1024),
                fmt(m.get("rss_after_kib") and m["rss_after_kib"] / 1024, "%.1f"),
                fmt(median(st), "%.2f"), len(st),
            ])
    return md_table(header, rows, align)


class Check:
    def __init__(self, where, value, threshold, op=">=", info=False, note="", extra=""):
        self.where = where
        self.extra = extra
        self.value = value
        self.threshold = threshold
        self.op = op
        self.info = info
        self.note = note

    @property
    def status(self):
        if self.value is None:
            return "n/a"
        if self.info or self.threshold is None:
            return "info"
        if self.note.startswith("errors"):
            return "FAIL"
        ok = self.value >= self.threshold if self.op == ">=" else self.value <= self.threshold
        return "PASS" if ok else "FAIL"


def evaluate(cells, memory, startup, baseline=None):
    """[(target title, [Check])] from this run's numbers (baseline: the modelkiln@REV server name)."""
    def cell_rps(w, c, p, s):
        return _rps(cells, (w, c, p, s))

    def cpu_extra(w, c, p, peer):
        r = ratio(_cpu(cells, (w, c, p, peer)), _cpu(cells, (w, c, p, "modelkiln")))
        return "" if r is None else "server CPU per request %s/modelkiln = %.2fx" % (peer, r)

    def mk_note(w, c, p, server="modelkiln"):
        cell = cells.get((w, c, p, server))
        return "errors in %s run" % server if cell and cell.errors else ""

    targets = []
    checks = []
    for p in SMALL:
        for c in (1, 8, 64):
            note = mk_note(1, c, p)
            mk = cell_rps(1, c, p, "modelkiln")
            checks.append(Check("%s c=%d: modelkiln/seldon" % (p, c),
                                ratio(mk, cell_rps(1, c, p, "seldon")), 2.5, info=(c == 1), note=note,
                                extra=cpu_extra(1, c, p, "seldon")))
            checks.append(Check("%s c=%d: modelkiln/bare" % (p, c),
                                ratio(mk, cell_rps(1, c, p, "bare")), 0.70, info=(c == 1), note=note,
                                extra=cpu_extra(1, c, p, "bare")))
    targets.append(("small requests, 1 worker: modelkiln ≥ 2.5x seldon and ≥ 0.70x bare WSGI req/s "
                    "(c=8, c=64; c=1 shown)", checks))

    # what a speed-minded engineer would write instead (a raw ASGI app on uvicorn), and what
    # most teams write (FastAPI), side by side
    checks = []
    for p in SMALL + LARGE:
        for c in (1, 8, 64):
            mk = cell_rps(1, c, p, "modelkiln")
            checks.append(Check("%s c=%d: modelkiln/uvicorn" % (p, c), ratio(mk, cell_rps(1, c, p, "uvicorn")),
                                1.0, info=(c == 1 or p in LARGE), note=mk_note(1, c, p),
                                extra=cpu_extra(1, c, p, "uvicorn")))
            checks.append(Check("%s c=%d: modelkiln/fastapi" % (p, c), ratio(mk, cell_rps(1, c, p, "fastapi")),
                                1.0, info=True, extra=cpu_extra(1, c, p, "fastapi")))
    targets.append(("small requests, 1 worker: modelkiln ≥ 1.0x a raw ASGI app on uvicorn (httptools, "
                    "uvloop, orjson) req/s (c=8, c=64; c=1, 1000x4 and FastAPI shown)", checks))

    checks = []
    for p in LARGE:
        for c in (1, 8, 64):
            checks.append(Check("%s 1x1 c=%d: modelkiln/seldon" % (p, c),
                                ratio(cell_rps(1, c, p, "modelkiln"), cell_rps(1, c, p, "seldon")), 4.0,
                                info=(c == 1), note=mk_note(1, c, p), extra=cpu_extra(1, c, p, "seldon")))
        for c in (8, 64):
            checks.append(Check("%s 2x1 c=%d: modelkiln/seldon" % (p, c),
                                ratio(cell_rps(2, c, p, "modelkiln"), cell_rps(2, c, p, "seldon")), 4.0,
                                info=True))
    targets.append(("1000x4 ndarray and tensor: modelkiln ≥ 4x seldon req/s (1 worker, c=8, c=64; "
                    "others shown)", checks))

    targets.append(("modelkiln 2 workers ≥ 1.7x its 1-worker req/s (small-ndarray, c=64)", [
        Check("small-ndarray c=64: modelkiln 2x1 / 1x1",
              ratio(cell_rps(2, 64, "small-ndarray", "modelkiln"), cell_rps(1, 64, "small-ndarray", "modelkiln")),
              1.7, note=mk_note(2, 64, "small-ndarray")),
        Check("small-ndarray c=64: seldon 2x1 / 1x1",
              ratio(cell_rps(2, 64, "small-ndarray", "seldon"), cell_rps(1, 64, "small-ndarray", "seldon")),
              1.7, info=True),
        Check("small-ndarray c=64: bare 2x1 / 1x1",
              ratio(cell_rps(2, 64, "small-ndarray", "bare"), cell_rps(1, 64, "small-ndarray", "bare")),
              1.7, info=True),
    ]))

    # V2: modelkiln vs MLServer on JSON, and modelkiln binary vs its own JSON
    for p, title in ((V2_SMALL_JSON, "V2 [1,4] FP64 JSON"), (V2_LARGE_JSON, "V2 [1000,4] FP64 JSON")):
        checks = []
        for c in (1, 8, 64):
            checks.append(Check("%s 1x1 c=%d: modelkiln/mlserver" % (p, c),
                                ratio(cell_rps(1, c, p, "modelkiln"), cell_rps(1, c, p, "mlserver")), 2.0,
                                info=(c == 1), note=mk_note(1, c, p), extra=cpu_extra(1, c, p, "mlserver")))
        targets.append(("%s, 1 worker: modelkiln ≥ 2x MLServer req/s (c=8, c=64; c=1 shown)" % title, checks))

    checks = []
    for w, c in ((1, 1), (1, 8), (1, 64), (2, 8), (2, 64)):
        b, j = cell_rps(w, c, V2_LARGE_BINARY, "modelkiln"), cell_rps(w, c, V2_LARGE_JSON, "modelkiln")
        note = mk_note(w, c, V2_LARGE_BINARY) or mk_note(w, c, V2_LARGE_JSON)
        cpu = ratio(_cpu(cells, (w, c, V2_LARGE_JSON, "modelkiln")), _cpu(cells, (w, c, V2_LARGE_BINARY, "modelkiln")))
        checks.append(Check("%dx1 c=%d: modelkiln %s / %s" % (w, c, V2_LARGE_BINARY, V2_LARGE_JSON),
                            ratio(b, j), 2.0, info=(w != 1 or c == 1), note=note,
                            extra="" if cpu is None else "server CPU per request json/binary = %.2fx" % cpu))
    targets.append(("V2 [1000,4] FP64 binary: modelkiln ≥ 2x its own V2 JSON req/s on the same rows "
                    "(1 worker, c=8, c=64; others shown)", checks))

    if baseline:
        checks = []
        for p in [p for p in V1_PAYLOADS + V2_PAYLOADS
                  if any(k[2] == p for k in cells)]:  # the payloads run
            for w, c in ((1, 1), (1, 8), (1, 64), (2, 8), (2, 64)):
                value = ratio(cell_rps(w, c, p, "modelkiln"), cell_rps(w, c, p, baseline))
                if value is None and p in V2_PAYLOADS:
                    continue  # a baseline from before V2
                if value is None and (w != 1 or c == 1):
                    continue
                note = mk_note(w, c, p) or mk_note(w, c, p, baseline)
                checks.append(Check("%s %dx1 c=%d: modelkiln/%s" % (p, w, c, baseline), value, 0.95,
                                    info=(w != 1 or c == 1), note=note, extra=cpu_extra(w, c, p, baseline)))
        targets.append(("v1 and V2 REST rows: modelkiln ≥ 0.95x %s req/s (c=8, c=64, 1 worker; others shown)"
                        % baseline, checks))

    # gRPC: modelkiln vs seldon-core's gRPC server (Seldon v1) and MLServer's (V2), 1 worker, at
    # the run's number of client processes
    def grpc_checks(payload_names, peer, threshold):
        checks = []
        for p in payload_names:
            for c in sorted({k[1] for k in cells if k[0] == 1 and k[2] == p}):
                checks.append(Check("%s 1x1 %d clients: modelkiln/%s" % (p, c, peer),
                                    ratio(cell_rps(1, c, p, "modelkiln"), cell_rps(1, c, p, peer)), threshold,
                                    note=mk_note(1, c, p), extra=cpu_extra(1, c, p, peer)))
        return checks or [Check("%s 1x1: modelkiln/%s" % (p, peer), None, threshold) for p in payload_names]

    targets.append(("Seldon v1 gRPC small ndarray and tensor, 1 worker: modelkiln ≥ 3x seldon-core's "
                    "gRPC req/s", grpc_checks(GRPC_SMALL, "seldon", 3.0)))
    targets.append(("Seldon v1 gRPC 1000x4 tensor, 1 worker: modelkiln ≥ 3x seldon-core's gRPC req/s",
                    grpc_checks(GRPC_LARGE, "seldon", 3.0)))
    targets.append(("V2 gRPC ModelInfer [1,4] and [1000,4] FP64 raw_input_contents, 1 worker: "
                    "modelkiln ≥ 2x MLServer's gRPC req/s", grpc_checks(V2_GRPC_PAYLOADS, "mlserver", 2.0)))

    def rss(s, w):
        m = memory.get((s, w))
        return m["rss_kib"] if m else None

    rss_checks = [
        Check("RSS 1x1: modelkiln/seldon", ratio(rss("modelkiln", 1), rss("seldon", 1)), 0.40, op="<="),
        Check("RSS 1x1: modelkiln/%s" % NOGRPC, ratio(rss("modelkiln", 1), rss(NOGRPC, 1)), 1.15, op="<="),
        Check("RSS 2x1: modelkiln/seldon", ratio(rss("modelkiln", 2), rss("seldon", 2)), 0.40, op="<=", info=True),
        Check("RSS 2x1: modelkiln/%s" % NOGRPC, ratio(rss("modelkiln", 2), rss(NOGRPC, 2)), 1.15, op="<=",
              info=True),
        Check("RSS 1x1: modelkiln/mlserver", ratio(rss("modelkiln", 1), rss("mlserver", 1)), None),
    ]
    if baseline:
        rss_checks.append(Check("RSS 1x1: modelkiln/%s" % baseline, ratio(rss("modelkiln", 1), rss(baseline, 1)),
                                None))
    targets.append(("modelkiln total RSS (REST + gRPC on) at 1 worker ≤ 0.40x seldon-core's (REST + gRPC, "
                    "its defaults) and ≤ 1.15x modelkiln's with gRPC off (MLServer's shown)", rss_checks))

    mk_start = median(startup.get(("modelkiln", 1), []))
    start_checks = [
        Check("start→ready 1x1: modelkiln/seldon", ratio(mk_start, median(startup.get(("seldon", 1), []))), 1.0,
              op="<="),
        Check("start→ready 1x1: modelkiln/mlserver", ratio(mk_start, median(startup.get(("mlserver", 1), []))),
              None),
        Check("start→ready 1x1: modelkiln/%s" % NOGRPC, ratio(mk_start, median(startup.get((NOGRPC, 1), []))),
              None),
    ]
    if baseline:
        start_checks.append(Check("start→ready 1x1: modelkiln/%s" % baseline,
                                  ratio(mk_start, median(startup.get((baseline, 1), []))), None))
    targets.append(("modelkiln start-to-ready ≤ seldon's (median, 1 worker)", start_checks))
    return targets


def targets_text(targets):
    lines = []
    for title, checks in targets:
        graded = [c.status for c in checks if not c.info and c.threshold is not None]
        if any(s == "FAIL" for s in graded):
            overall = "FAIL"
        elif graded and all(s == "PASS" for s in graded):
            overall = "PASS"
        else:
            overall = "n/a"
        if all(c.value is None for c in checks):
            lines.append("- **n/a** — %s: not measured in this run" % title)
            continue
        lines.append("- **%s** — %s" % (overall, title))
        for c in checks:
            if (c.info or c.threshold is None) and c.value is None:
                continue  # an informational row this run did not measure
            want = " (want %s %.2f)" % ("≥" if c.op == ">=" else "≤", c.threshold) if c.threshold is not None else ""
            tail = "".join("; " + t for t in (c.note, c.extra) if t)
            lines.append("    - %-5s %s = %s%s%s" % (c.status, c.where, fmt(c.value, "%.3fx", "—"), want, tail))
    return "\n".join(lines)


def peer_lines(results, keys, kinds, extra=()):
    """Markdown rows ``| request | conc | server | median | min-max | ratio |`` of interleaved
    rounds: ``results[(name, c, kind)]`` is a list of req/s; the first of ``kinds`` is
    modelkiln, the ratio is modelkiln's median over each peer's. ``extra``: (format,
    {(name, c, kind): [values]}) of more columns, each the median of its values (empty when
    there are none)."""
    lines = []
    for name, c in keys:
        mine = statistics.median(results[(name, c, kinds[0])])
        for kind in kinds:
            values = results[(name, c, kind)]
            middle = statistics.median(values)
            more = [form % statistics.median(column[(name, c, kind)])
                    if column.get((name, c, kind)) else "" for form, column in extra]
            lines.append("| %s | %d | %s | %.0f | %.0f-%.0f | %s |" % (
                name, c, kind, middle, min(values), max(values),
                "" if kind == kinds[0] else "%.2fx" % (mine / middle))
                + "".join(" %s |" % text for text in more))
    return lines


def print_and_write(lines, output=None):
    """The report's lines on stdout, and in ``output`` when one is given."""
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if output:
        with open(output, "w") as handle:
            handle.write(text)
