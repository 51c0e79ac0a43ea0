"""modelkiln vs seldon-core 1.18 vs a bare WSGI callable (Seldon v1 REST) and vs MLServer 1.7
(V2 REST), driven by wrk on loopback; over gRPC, modelkiln vs seldon-core (Seldon v1) and vs
MLServer (V2), driven by N processes of bench/grpc_client.py; optionally against modelkiln as of
an older commit.

    .venv/bin/python bench/run.py            # full run (~36 min on 2 cores), writes bench/RESULTS.md
    .venv/bin/python bench/run.py --quick    # ~5 min smoke run
    .venv/bin/python bench/run.py --servers seldon,bare --no-write
    .venv/bin/python bench/run.py --baseline 01738f9 --servers modelkiln --payloads small-ndarray
    .venv/bin/python bench/run.py --quick --no-write --payloads grpc-small-tensor,grpc-v2-small-raw

See bench/README.md for what each row means.
"""
import argparse
import atexit
import datetime
import os
import platform
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpcload  # noqa: E402
import payloads as payloads_mod  # noqa: E402
import report  # noqa: E402
import servers as srv  # noqa: E402
import wrk  # noqa: E402

PROFILES = {
    # c=1 runs at 1 worker only: one connection keeps one worker busy, so a 2-worker c=1
    # row measures the same thing again. 60 v1 cells (3 servers) + 21 V2 cells (modelkiln 15,
    # mlserver 6 at 1 worker) x 3 repeats x 7 s ~ 30 min of load; --baseline adds 20 cells.
    # The gRPC rows (5 payloads, 10 cells at 1 worker, N client processes) add ~4 min.
    "full": dict(duration=7, repeat=3, concurrency=[1, 8, 64], workers=[1, 2], starts=5, warmup=1),
    "quick": dict(duration=2, repeat=1, concurrency=[8, 64], workers=[1, 2], starts=2, warmup=1),
}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run: 1 repeat, 2 s, c=8 and 64 only")
    ap.add_argument("--servers", default=",".join(report.SERVER_ORDER),
                    help="comma list of %s (default: all)" % ", ".join(report.SERVER_ORDER))
    ap.add_argument("--baseline", metavar="REV",
                    help="also run modelkiln as of commit REV (a git worktree, same interpreter) as the "
                         "server modelkiln@REV on the REST payloads it speaks, with a mk/base column and a target")
    ap.add_argument("--duration", type=int, help="seconds per wrk or gRPC run (full: 7, quick: 2)")
    ap.add_argument("--repeat", type=int, help="repeats of each row; the median is reported (full: 3)")
    ap.add_argument("--concurrency", help="comma list of wrk connection counts (full: 1,8,64)")
    ap.add_argument("--workers", help="comma list of gunicorn worker counts (default: 1,2)")
    ap.add_argument("--payloads", help="comma list of payload names (default: all twelve)")
    ap.add_argument("--grpc-clients", type=int, default=4,
                    help="gRPC client processes per run (each its own channel, one call at a time; "
                         "default 4): the gRPC rows' concurrency")
    ap.add_argument("--starts", type=int, help="extra cold starts per server for start→ready (full: 5)")
    ap.add_argument("--warmup", type=int, help="seconds of warm-up load per payload after each start")
    srv.add_peer_arguments(ap, "interpreter for modelkiln and the bare WSGI app")
    ap.add_argument("--output", default=os.path.join(srv.BENCH_DIR, "RESULTS.md"), help="results file")
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = ap.parse_args(argv)
    prof = PROFILES["quick" if args.quick else "full"]
    for key in ("duration", "repeat", "starts", "warmup"):
        if getattr(args, key) is None:
            setattr(args, key, prof[key])
    ints = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    args.concurrency = ints(args.concurrency) if args.concurrency else prof["concurrency"]
    args.workers = ints(args.workers) if args.workers else prof["workers"]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for s in args.servers:  # modelkiln@REV in --servers is the same as --baseline REV
        if s.startswith("modelkiln@"):
            rev = s.split("@", 1)[1]
            if args.baseline and args.baseline != rev:
                ap.error("--servers %s and --baseline %s disagree" % (s, args.baseline))
            args.baseline = rev
    bad = [s for s in args.servers if s not in report.SERVER_ORDER and not s.startswith("modelkiln@")]
    if bad:
        ap.error("unknown server(s): %s" % ", ".join(bad))
    args.servers = [s for s in report.SERVER_ORDER if s in args.servers]
    if args.baseline is not None and not args.baseline.strip():
        ap.error("--baseline needs a commit")
    names = [p.name for p in payloads_mod.all_payloads()]
    args.payloads = [p.strip() for p in args.payloads.split(",")] if args.payloads else names
    if any(p not in names for p in args.payloads):
        ap.error("payloads are: %s" % ", ".join(names))
    if args.duration < 1 or args.repeat < 1:
        ap.error("--duration and --repeat must be >= 1")
    if args.grpc_clients < 1:
        ap.error("--grpc-clients must be >= 1")
    return args


def log(msg):
    print(msg, flush=True)


def row_keys(args, by_name):
    """(workers, concurrency, payload) of every row. REST: every worker count x concurrency;
    gRPC: 1 worker only, concurrency = the number of client processes."""
    keys = []
    for w in args.workers:
        for c in args.concurrency:
            if c == 1 and w > 1 and 1 in args.workers:
                continue
            for p in args.payloads:
                if by_name[p].transport == payloads_mod.HTTP:
                    keys.append((w, c, p))
    if 1 in args.workers:
        keys += [(1, args.grpc_clients, p) for p in args.payloads
                 if by_name[p].transport == payloads_mod.GRPC]
    return keys


def client_pythons(args):
    """The interpreter of the gRPC clients, per gRPC protocol: the venv whose stubs they use."""
    return {payloads_mod.V1_GRPC: os.path.join(args.seldon_venv, "bin", "python"),
            payloads_mod.V2_GRPC: os.path.join(args.v2_venv, "bin", "python")}


def preflight(args, kinds, payload_list):
    if any(p.transport == payloads_mod.HTTP for p in payload_list) and not wrk.find_wrk():
        sys.exit("wrk is not on PATH: apt-get install wrk")
    pythons = client_pythons(args)
    hints = {payloads_mod.V1_GRPC: "make seldon-venv, or set MODELKILN_SELDON_VENV",
             payloads_mod.V2_GRPC: "install tritonclient[grpc] in the V2 venv (make v2-venv)"}
    for proto, kind in ((payloads_mod.V1_GRPC, "seldon"), (payloads_mod.V2_GRPC, "v2")):
        if any(p.protocol == proto and any(kinds[s].load and kinds[s].speaks(p) for s in args.servers)
               for p in payload_list):
            why = grpcload.client_problem(pythons[proto], kind)
            if why:
                sys.exit("gRPC client for %s: %s\n(%s)" % (proto, why, hints[proto]))
    for s in args.servers:
        exe = kinds[s].exe
        if not os.access(exe, os.X_OK):
            sys.exit("%s: %s not found (%s)" % (s, exe, kinds[s].hint))
    if "modelkiln" in args.servers:
        r = subprocess.run([args.python, "-c", "import python_runtime"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("modelkiln: `%s -m python_runtime` is not importable:\n%s" % (args.python, r.stderr[-2000:]))
    if "mlserver" in args.servers:
        runtime = os.path.join(srv.MLSERVER_RUNTIME_DIR, srv.MLSERVER_RUNTIME.split(".")[0] + ".py")
        if not os.path.isfile(runtime):
            sys.exit("mlserver: its runtime %s is missing (tests/v2 provides it)" % runtime)


def plan_servers(args, kinds, payload_list):
    """The servers that have at least one selected payload to serve (others are left out, said so)."""
    keep = []
    for s in args.servers:
        if not kinds[s].load and any(kinds[s].runs_at(w) for w in args.workers):
            keep.append(s)  # memory and start-up only: it runs whatever the payloads
        elif any(kinds[s].speaks(p) for p in payload_list) and any(kinds[s].runs_at(w) for w in args.workers):
            keep.append(s)
        else:
            log("note: %s left out: none of the selected payloads or worker counts apply to it" % s)
    return keep


def resolve_baseline(args):
    """(sha, short sha, subject) of --baseline, or None; exits if it is not a commit."""
    if not args.baseline:
        return None
    try:
        return srv.resolve_rev(args.baseline)
    except srv.ServerError:
        sys.exit("--baseline %s: not a commit in %s" % (args.baseline, srv.REPO_DIR))


def setup_baseline(args, kinds, tmp, rev):
    """Check out rev in a worktree under tmp, add modelkiln@<short sha> to kinds and
    args.servers (right after modelkiln). Returns (name, description) or (None, None)."""
    if not rev:
        return None, None
    sha, short, subject = rev
    path = os.path.join(tmp, "baseline-" + short)
    log("baseline: git worktree add --detach %s %s" % (path, short))
    srv.add_worktree(path, sha)
    atexit.register(srv.remove_worktree, path)  # also on errors; a second removal is harmless
    args.baseline_worktree = path
    kind = srv.baseline_kind(args.python, path, short)
    where = srv.imported_from(kind)
    if not where.startswith(path + os.sep):
        sys.exit("%s imports python_runtime from %s, not from the worktree %s" % (kind.name, where, path))
    log("baseline: %s imports %s" % (kind.name, where))
    kinds[kind.name] = kind
    i = args.servers.index("modelkiln") + 1 if "modelkiln" in args.servers else 0
    args.servers.insert(i, kind.name)
    return kind.name, "%s: commit %s (%s), run from a git worktree with the same interpreter" % (
        kind.name, sha, subject)


NCPU = os.cpu_count() or 1


def children_cpu():
    """CPU seconds of this harness's reaped children (each finished wrk run lands here)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def check_answer(server, payload):
    """One request with this body; None if it is a 200 with a sane answer, else the reason."""
    try:
        status, raw, headers = server.post(payload.path, payload.body, headers=payload.headers)
    except OSError as e:
        return "request failed: %s" % e
    return payload.check(status, raw, headers)


def url(server, payload):
    return "http://%s:%d%s" % (srv.HOST, server.port, payload.path)


def start_ready(kind, workers, logdir):
    """A started server and its seconds from Popen to the first 200 on its readiness path;
    its gRPC server (if any) is listening in every worker when this returns."""
    server = srv.Server(kind, workers, logdir).start()
    secs = server.wait_ready()
    server.wait_grpc()
    return server, secs


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    kinds = srv.server_kinds(args.python, args.seldon_venv, args.v2_venv, args.asgi_venv)
    payload_list = [p for p in payloads_mod.all_payloads() if p.name in args.payloads]
    args.servers = plan_servers(args, kinds, payload_list)
    if not args.servers and not args.baseline:
        sys.exit("nothing to run: no selected server serves the selected payloads")
    preflight(args, kinds, payload_list)
    rev = resolve_baseline(args)

    # Ctrl-C and SIGTERM end the run through the finally below; atexit is the last net.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    atexit.register(srv.stop_all)

    tmp = tempfile.mkdtemp(prefix="modelkiln-bench-")
    try:
        baseline, baseline_info = setup_baseline(args, kinds, tmp, rev)
    except (srv.ServerError, SystemExit) as e:
        shutil.rmtree(tmp, ignore_errors=True)  # the worktree, if any, is removed at exit
        sys.exit("baseline: %s" % e)
    if baseline and not any(kinds[baseline].speaks(p) for p in payload_list):
        log("note: %s has no payload to run: it serves REST payloads only" % baseline)
    scripts, specs = {}, {}
    for p in payload_list:
        if p.transport == payloads_mod.GRPC:
            specs[p.name] = grpcload.write_spec(tmp, p)
        else:
            scripts[p.name] = wrk.write_script(tmp, p.name, p.body, p.path, p.headers)
    by_name = {p.name: p for p in payload_list}
    keys = row_keys(args, by_name)
    pythons = client_pythons(args)

    def warms(s, w, p):
        """s is warmed up with p at w workers (and checked to answer it): it speaks p's protocol
        and has its extension; gRPC payloads at 1 worker only, like their rows."""
        k = kinds[s]
        return (k.runs_at(w) and k.speaks(p) and k.lacks(p) is None
                and (p.transport == payloads_mod.HTTP or w == 1))

    def serves(s, w, p):
        """(runs this cell, n/a reason): s runs at w workers and speaks p's protocol."""
        k = kinds[s]
        if not (k.load and k.runs_at(w) and k.speaks(p)):
            return False, None
        why = k.lacks(p)
        return why is None, why

    def is_grpc(p):
        return p.transport == payloads_mod.GRPC

    def grpc_run(server, p, duration, measure=None):
        """(GrpcResult, before, after) of the gRPC clients against server for duration s."""
        return grpcload.run(pythons[p.protocol], specs[p.name], "%s:%d" % (srv.HOST, server.grpc_port),
                            args.grpc_clients, duration, tmp, p.compare, measure)

    def run_grpc_cell(server, p):
        """(GrpcResult or None, failed check or None) of one measured gRPC run; server CPU and
        the background load are measured from the clients' release to their last result."""
        def measure():
            return server.cpu_seconds(), srv.machine_busy_seconds()
        try:
            res, (cpu0, busy0), (cpu1, busy1) = grpc_run(server, p, args.duration, measure)
        except grpcload.CheckFailed as e:
            return None, str(e)
        if res.requests:
            res.cpu_ms_per_req = (cpu1 - cpu0) * 1000 / res.requests
        # CPU used by anything but this server and the clients, as a share of the machine
        other = (busy1 - busy0) - (cpu1 - cpu0) - res.client_cpu_s
        background.append(max(0.0, other) / (res.duration_s * NCPU))
        return res, None

    cost = {}  # seconds per run/warm-up beyond its duration (gRPC: spawning the clients)
    for p in payload_list:
        cost[p.name] = 1.2 if is_grpc(p) else 0.3
    n_runs = sum(1 for (w, c, pn) in keys for s in args.servers if serves(s, w, by_name[pn])[0]) * args.repeat
    t_runs = sum(args.duration + cost[pn] for (w, c, pn) in keys for s in args.servers
                 if serves(s, w, by_name[pn])[0]) * args.repeat
    n_ready = sum(1 for w in args.workers for s in args.servers if kinds[s].runs_at(w))
    t_warm = sum(args.warmup + cost[p.name] for w in args.workers for s in args.servers
                 for p in payload_list if warms(s, w, p))
    eta = t_runs + n_ready * 3 + t_warm + args.starts * len(args.servers) * 2
    started = time.time()
    log("modelkiln bench: servers %s, workers %s, concurrency %s, %d gRPC clients, %d payloads, "
        "%d s x %d repeats -> %d runs, about %.0f min. Logs in %s"
        % (",".join(args.servers), args.workers, args.concurrency, args.grpc_clients, len(payload_list),
           args.duration, args.repeat, n_runs, eta / 60, tmp))
    for s in args.servers:
        if not kinds[s].load:
            log("note: %s is started for its memory and start-up only (warmed up with the selected "
                "payloads it speaks, not loaded)" % s)
    loadavg_before = open("/proc/loadavg").read().split()[:3]

    cells = {}
    memory = {}
    startup = {}
    problems = []
    background = []  # per wrk run: share of the machine's CPU used by other processes
    try:
        # 1. start -> ready, interleaved cold starts at 1 worker
        if args.starts:
            log("\n== start -> ready (%d starts each, 1 worker)" % args.starts)
        for i in range(args.starts):
            for s in args.servers:
                server, secs = start_ready(kinds[s], 1, tmp)
                server.stop()
                startup.setdefault((s, 1), []).append(secs)
                log("  %-17s start %d: %.2f s" % (s, i + 1, secs))

        # 2. load, per worker count: all servers up side by side, rows interleaved
        for w in args.workers:
            log("\n== %d worker(s)" % w)
            running = {}
            for s in args.servers:
                if not kinds[s].runs_at(w):
                    continue
                server, secs = start_ready(kinds[s], w, tmp)
                running[s] = server
                startup.setdefault((s, w), []).append(secs)
                log("  %-17s ready in %.2f s on port %d" % (s, secs, server.port))
            for s, server in running.items():
                for p in payload_list:
                    if not warms(s, w, p):
                        continue
                    if is_grpc(p):  # each client checks its first answer; then warmup s of load
                        try:
                            grpc_run(server, p, args.warmup)
                        except grpcload.CheckFailed as e:
                            raise RuntimeError("%s %dx1 answers %s wrongly: %s" % (s, w, p.name, e))
                        continue
                    why = check_answer(server, p)
                    if why:
                        raise RuntimeError("%s %dx1 answers %s wrongly: %s" % (s, w, p.name, why))
                    if args.warmup:
                        wrk.run(url(server, p), scripts[p.name], 8, args.warmup)
                server.settle()
                memory[(s, w)] = server.memory()
                m = memory[(s, w)]
                log("  %-17s after warm-up: %d processes, RSS %.1f MiB, PSS %.1f MiB"
                    % (s, m["procs"], m["rss_kib"] / 1024, m["pss_kib"] / 1024))
            wkeys = [k for k in keys if k[0] == w]
            order = list(running)
            for r in range(args.repeat):
                for (_, c, pname) in wkeys:
                    p = by_name[pname]
                    line = []
                    for s in order:
                        runs, na = serves(s, w, p)
                        if na:
                            cells.setdefault((w, c, pname, s), report.Cell(na=na))
                            line.append("%s n/a" % s)
                        if not runs:
                            continue
                        cell = cells.setdefault((w, c, pname, s), report.Cell())
                        server = running[s]
                        if is_grpc(p):
                            res, why = run_grpc_cell(server, p)
                            if why:
                                cell.check_failures.append(why)
                                problems.append("%s %dx1 %d clients %s: %s" % (s, w, c, pname, why))
                                line.append("%s FAILED CHECK" % s)
                                continue
                            cell.samples.append(res)
                            if res.errors:
                                problems.append("%s %dx1 %d clients %s: %d gRPC errors (%s)" % (
                                    s, w, c, pname, res.errors,
                                    ", ".join("%s %d" % kv for kv in sorted(res.codes.items()))))
                            line.append("%s %.0f%s" % (s, res.rps, " (%d err)" % res.errors if res.errors else ""))
                            continue
                        why = check_answer(server, p)
                        if why:
                            cell.check_failures.append(why)
                            problems.append("%s %dx1 c=%d %s: %s" % (s, w, c, pname, why))
                            line.append("%s FAILED CHECK" % s)
                            continue
                        cpu0, busy0, kids0 = server.cpu_seconds(), srv.machine_busy_seconds(), children_cpu()
                        res = wrk.run(url(server, p), scripts[pname], c, args.duration)
                        cpu1, busy1, kids1 = server.cpu_seconds(), srv.machine_busy_seconds(), children_cpu()
                        if res.requests:
                            res.cpu_ms_per_req = (cpu1 - cpu0) * 1000 / res.requests
                        # CPU used by anything but this server and wrk, as a share of the machine
                        other = (busy1 - busy0) - (cpu1 - cpu0) - (kids1 - kids0)
                        background.append(max(0.0, other) / (res.duration_s * NCPU))
                        cell.samples.append(res)
                        if res.errors:
                            problems.append("%s %dx1 c=%d %s: %d status errors, %d socket errors"
                                            % (s, w, c, pname, res.status_errors, res.socket_errors))
                        line.append("%s %.0f%s" % (s, res.rps, " (%d err)" % res.errors if res.errors else ""))
                    if line:
                        log("  [%d/%d] %dx1 c=%-2d %-16s %s" % (r + 1, args.repeat, w, c, pname, "  ".join(line)))
                    for s, server in running.items():
                        if server.proc.poll() is not None:
                            raise RuntimeError("%s died:\n%s" % (s, server.log_tail()))
                order = order[1:] + order[:1]  # rotate who goes first on the next repeat
            for s, server in running.items():
                memory[(s, w)]["rss_after_kib"] = server.memory()["rss_kib"]
                server.stop()
    except KeyboardInterrupt:
        log("\ninterrupted: stopping servers (logs kept in %s)" % tmp)
        return 130
    except (srv.ServerError, wrk.WrkError, grpcload.GrpcError, RuntimeError) as e:
        log("\nerror: %s\n(server logs kept in %s)" % (e, tmp))
        return 1
    finally:
        srv.stop_all()
        if baseline:
            srv.remove_worktree(args.baseline_worktree)
    if problems:
        log("server logs kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.time() - started
    targets = report.evaluate(cells, memory, startup, baseline)
    tables = [
        ("Seldon v1 REST (`POST %s`)" % payloads_mod.V1_PATH,
         report.throughput_table(cells, keys, args.servers, report.V1_PAYLOADS, baseline)),
        ("V2 REST (`POST %s`)" % payloads_mod.V2_PATH,
         report.throughput_table(cells, keys, args.servers, report.V2_PAYLOADS, baseline)),
        ("Seldon v1 gRPC (`%s`; conc = client processes)" % payloads_mod.SELDON_GRPC_METHOD,
         report.throughput_table(cells, keys, args.servers, report.V1_GRPC_PAYLOADS, baseline, client_cpu=True)),
        ("V2 gRPC (`%s`; conc = client processes)" % payloads_mod.V2_GRPC_METHOD,
         report.throughput_table(cells, keys, args.servers, report.V2_GRPC_PAYLOADS, baseline, client_cpu=True)),
    ]
    throughput = "\n\n".join("### %s\n\n%s" % (title, table) for title, table in tables if table)
    procs = report.process_table(memory, startup, args.servers, args.workers)
    targets_md = report.targets_text(targets)
    noise = report.background_text(background, NCPU)
    log("\n" + throughput + "\n\n" + procs + "\n\n" + noise + "\n\nTargets:\n" + targets_md)
    if problems:
        log("\nErrors:\n" + "\n".join("- " + x for x in problems))
    log("\n(%.1f min)" % (elapsed / 60))

    if not args.no_write:
        exe = sys.executable
        if exe.startswith(srv.REPO_DIR + os.sep):
            exe = os.path.relpath(exe, srv.REPO_DIR)
        words = [exe, os.path.relpath(os.path.abspath(__file__), srv.REPO_DIR)] + argv
        for var in ("MODELKILN_V2_VENV", "MODELKILN_SELDON_VENV", "MODELKILN_ASGI_VENV"):
            if os.environ.get(var):
                words.insert(0, "%s=%s" % (var, os.environ[var]))
        cmd = " ".join(shlex.quote(a) if not a.startswith("MODELKILN_") else a for a in words)
        versions = []
        if any(s in args.servers for s in ("modelkiln", report.NOGRPC, "bare")):
            versions.append("modelkiln and bare WSGI: %s"
                            % srv.versions_of(args.python, ["modelkiln", "gunicorn", "flask", "numpy", "orjson",
                                                          "hpack", "protobuf"]))
        if "seldon" in args.servers:
            versions.append("seldon: %s" % srv.versions_of(os.path.join(args.seldon_venv, "bin", "python"),
                                                        ["seldon-core", "gunicorn", "flask", "numpy", "grpcio",
                                                         "protobuf"]))
        if "mlserver" in args.servers:
            versions.append("mlserver: %s; runtime %s from tests/v2/mlserver, parallel_workers 0"
                            % (srv.versions_of(os.path.join(args.v2_venv, "bin", "python"),
                                           ["mlserver", "uvicorn", "uvloop", "fastapi", "numpy", "grpcio",
                                            "protobuf"]),
                               srv.MLSERVER_RUNTIME))
        if "uvicorn" in args.servers or "fastapi" in args.servers:
            versions.append("uvicorn and fastapi (`bench/asgi_raw.py`, `bench/asgi_fastapi.py`): %s"
                            % srv.versions_of(os.path.join(args.asgi_venv, "bin", "python"),
                                              ["uvicorn", "httptools", "uvloop", "orjson", "fastapi",
                                               "pydantic", "numpy"]))
        if baseline_info:
            versions.append(baseline_info)
        for proto, what in ((payloads_mod.V1_GRPC, "Seldon v1"), (payloads_mod.V2_GRPC, "V2")):
            if any(p.protocol == proto for p in payload_list):
                versions.append("gRPC clients (%s, %d processes, `bench/grpc_client.py`): %s"
                                % (what, args.grpc_clients, grpcload.client_versions(pythons[proto])))
        md = render_results(args, cmd, elapsed, loadavg_before, versions, throughput, procs, targets_md,
                            problems, noise)
        md += kept_section(args.output)
        with open(args.output, "w") as f:
            f.write(md)
        log("wrote %s" % args.output)
    return 0


IMAGES_MARK = "<!-- images:begin -->"


def kept_section(path):
    """The image measurements (bench/images.py) at the end of an existing results file."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return ""
    return "\n" + text[text.index(IMAGES_MARK):] if IMAGES_MARK in text else ""


def render_results(args, cmd, elapsed, loadavg_before, versions, throughput, procs, targets_md,
                            problems, noise):
    loadavg_after = open("/proc/loadavg").read().split()[:3]
    out = [
        "# modelkiln benchmark results%s" % (" (quick smoke run)" if args.quick else ""),
        "",
        "Generated by `bench/run.py`; see `bench/README.md` for what each row means.",
        "",
        "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "- command: `%s` (from the repository root)" % cmd,
        "- machine: %d CPUs (nproc), %s, Python %s (harness)"
        % (os.cpu_count(), platform.platform(), platform.python_version()),
    ] + ["- %s" % v for v in versions] + [
        "- load: wrk `-t min(2,c) -c c -d %ds --latency` on 127.0.0.1 (REST), %d `bench/grpc_client.py` "
        "processes for %d s (gRPC); %d repeat(s) per row, servers interleaved, median req/s reported; "
        "%d s warm-up per payload after each start"
        % (args.duration, args.grpc_clients, args.duration, args.repeat, args.warmup),
        "- load average before / after: %s / %s; run took %.1f min"
        % (" ".join(loadavg_before), " ".join(loadavg_after), elapsed / 60),
        "- " + noise,
        "",
        "## Targets",
        "",
        targets_md,
        "",
        "## Throughput and latency",
        "",
        throughput,
        "",
        "## Processes, memory, start-up",
        "",
        procs,
        "",
    ]
    if problems:
        out += ["## Errors", ""] + ["- " + p for p in problems] + [""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
