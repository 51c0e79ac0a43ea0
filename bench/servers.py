"""Starting, probing, measuring and stopping the servers under test.

Every server runs in its own session (process group); stop() and stop_all() kill
the whole group, so nothing is left behind on errors or Ctrl-C.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
MODEL_DIR = os.path.join(BENCH_DIR, "model")
MODEL_CLASS = "IrisSoftmax"
PREDICT_PATH = "/api/v1.0/predictions"
HOST = "127.0.0.1"
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
# MLServer's custom runtime serving a Seldon-style class (owned by tests/v2)
MLSERVER_RUNTIME_DIR = os.path.join(REPO_DIR, "tests", "v2", "mlserver")
MLSERVER_RUNTIME = "seldon_runtime.SeldonStyleModel"
V1, V2, V1_GRPC, V2_GRPC = "v1", "v2", "v1-grpc", "v2-grpc"  # as payloads.py names them
GRPC_PORT_ENV = "PREDICTIVE_UNIT_GRPC_SERVICE_PORT"


class ServerKind:
    """How to launch one of the stacks, and what it can be asked.

    build_cmd(workers, ports, workdir) -> argv; workdir is a scratch folder of this run;
    ports: nports free ports, the first one the REST port.
    protocols: the payload protocols it serves ("v1" Seldon, "v2" Open Inference Protocol, over
    REST; "v1-grpc", "v2-grpc" the same over gRPC, on ports[grpc_port_index]);
    extensions: the V2 extensions it has (a payload needing another one is n/a on it);
    max_workers: the largest worker count it is started with (None: any);
    env: variables set on top of this process's environment; port_env(ports) -> more of them;
    load: False for a server started for its memory and start-up only (warmed up with the
    selected payloads it speaks, never in the load rows);
    grpc_log: a line each worker logs once its gRPC server listens ("%d": the gRPC port); with
    it, a start waits for one such line per worker (its readiness path answers for one worker).
    """

    def __init__(self, name, exe, build_cmd, ready_path, cwd, nports, protocols=(V1,),
                 extensions=(), max_workers=None, env=None, hint="make venv", grpc_port_index=None,
                 port_env=None, load=True, grpc_log=None):
        self.name = name
        self.exe = exe
        self.build_cmd = build_cmd
        self.ready_path = ready_path
        self.cwd = cwd
        self.nports = nports
        self.protocols = frozenset(protocols)
        self.extensions = frozenset(extensions)
        self.max_workers = max_workers
        self.env = dict(env or {})
        self.hint = hint
        self.grpc_port_index = grpc_port_index
        self.port_env = port_env
        self.load = load
        self.grpc_log = grpc_log

    def command(self, workers, ports, workdir):
        return self.build_cmd(workers, ports, workdir)

    def runs_at(self, workers):
        return self.max_workers is None or workers <= self.max_workers

    def speaks(self, payload):
        return payload.protocol in self.protocols

    def lacks(self, payload):
        """Why this server cannot answer a payload of its protocol (None if it can)."""
        if payload.extension and payload.extension not in self.extensions:
            return "no %s extension" % payload.extension
        return None


def _modelkiln_cmd(python, grpc_flag=True):
    """modelkiln's command. Its gRPC server (on by default) always gets a free port: left at
    its default 5000 it would share that port, through SO_REUSEPORT, with any other modelkiln
    on the machine. grpc_flag False: the port goes in PREDICTIVE_UNIT_GRPC_SERVICE_PORT instead
    (port_env), which a commit older than --grpc-port ignores (the baseline); without a third
    port (gRPC off) neither is set."""
    def modelkiln(workers, ports, workdir):
        http_port, metrics_port = ports[:2]
        cmd = [
            python, "-m", "python_runtime", MODEL_CLASS, "--service-type", "MODEL",
            "--workers", str(workers), "--threads", "1",
            "--http-port", str(http_port), "--metrics-port", str(metrics_port),
        ]
        if grpc_flag and len(ports) > 2:
            cmd += ["--grpc-port", str(ports[2])]
        return cmd
    return modelkiln


def _grpc_port_env(ports):
    return {GRPC_PORT_ENV: str(ports[2])}


def uvicorn_command(asgi_python, module):
    """The build_cmd of a raw ASGI app of bench/ (``module``:app) on uvicorn with httptools
    and uvloop, one REST port."""
    def command(workers, ports, workdir):
        (http_port,) = ports
        return [asgi_python, "-m", "uvicorn", "--app-dir", BENCH_DIR, module + ":app",
                "--host", HOST, "--port", str(http_port), "--workers", str(workers),
                "--http", "httptools", "--loop", "uvloop", "--no-access-log",
                "--log-level", "warning"]
    return command


def server_kinds(python, seldon_venv, v2_venv, asgi_venv):
    seldon_exe = os.path.join(seldon_venv, "bin", "seldon-core-microservice")
    mlserver_exe = os.path.join(v2_venv, "bin", "mlserver")
    asgi_python = os.path.join(asgi_venv, "bin", "python")

    def uvicorn(module):
        return uvicorn_command(asgi_python, module)

    def seldon(workers, ports, workdir):
        http_port, metrics_port, grpc_port = ports
        return [
            seldon_exe, MODEL_CLASS, "--service-type", "MODEL",
            "--workers", str(workers), "--threads", "1",
            "--http-port", str(http_port), "--metrics-port", str(metrics_port),
            "--grpc-port", str(grpc_port), "--grpc-workers", "1",  # its defaults: gRPC on, 1 process
        ]

    def bare(workers, ports, workdir):
        (http_port,) = ports
        return [
            python, "-m", "gunicorn", "--worker-class", "sync",
            "--workers", str(workers), "--threads", "1",
            "--bind", "%s:%d" % (HOST, http_port), "--chdir", BENCH_DIR,
            "bare_wsgi:application",
        ]

    def mlserver(workers, ports, workdir):
        # <workdir>/mlserver-<port>/IrisSoftmax/{settings.json, model-settings.json}: the folder
        # is named after the model so MLServer does not warn that the two differ.
        http_port, grpc_port, metrics_port = ports
        folder = os.path.join(workdir, "mlserver-%d" % http_port, MODEL_CLASS)
        os.makedirs(folder)
        write_mlserver_settings(folder, http_port, grpc_port, metrics_port)
        return [mlserver_exe, "start", folder]

    return {
        # gRPC on (its default): /ready answers once every worker's load() has run, and each
        # worker starts its gRPC server right after its load(), so it is up when ready.
        "modelkiln": ServerKind("modelkiln", python, _modelkiln_cmd(python), "/ready", MODEL_DIR, 3,
                                protocols=(V1, V2, V1_GRPC, V2_GRPC), extensions=("binary_tensor_data",),
                                grpc_port_index=2, grpc_log="serving gRPC on :%d "),
        # the same with GRPC_WORKERS=0: for the memory (and start-up) of gRPC off; not loaded
        "modelkiln-nogrpc": ServerKind("modelkiln-nogrpc", python, _modelkiln_cmd(python), "/ready",
                                       MODEL_DIR, 2, protocols=(V1, V2), env={"GRPC_WORKERS": "0"},
                                       load=False),
        "seldon": ServerKind("seldon", seldon_exe, seldon, "/health/status", MODEL_DIR, 3,
                             protocols=(V1, V1_GRPC), grpc_port_index=2,
                             hint="make seldon-venv, or set MODELKILN_SELDON_VENV"),
        "bare": ServerKind("bare", python, bare, "/", BENCH_DIR, 1),
        # what users write instead: a raw ASGI app on uvicorn, and a FastAPI endpoint
        "uvicorn": ServerKind("uvicorn", asgi_python, uvicorn("asgi_raw"), "/", BENCH_DIR, 1,
                              hint="make asgi-venv, or set MODELKILN_ASGI_VENV"),
        "fastapi": ServerKind("fastapi", asgi_python, uvicorn("asgi_fastapi"), "/", BENCH_DIR, 1,
                              hint="make asgi-venv, or set MODELKILN_ASGI_VENV"),
        # parallel_workers 0: one process serves HTTP and runs the model (MLServer's worker
        # pool is not the same thing as N gunicorn workers), so it runs at 1 worker only.
        "mlserver": ServerKind("mlserver", mlserver_exe, mlserver, "/v2/health/ready", BENCH_DIR, 3,
                               protocols=(V2, V2_GRPC), max_workers=1, grpc_port_index=1,
                               env={"PYTHONPATH": MLSERVER_RUNTIME_DIR},
                               hint="make v2-venv, or set MODELKILN_V2_VENV"),
    }


def write_mlserver_settings(folder, http_port, grpc_port, metrics_port):
    settings = {
        "debug": False,
        "parallel_workers": 0,
        "host": HOST,
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
    }
    model_settings = {
        "name": MODEL_CLASS,  # the V2 name: same path as modelkiln's
        "implementation": MLSERVER_RUNTIME,
        "parameters": {"extra": {"model_name": MODEL_CLASS, "model_dir": MODEL_DIR}},
    }
    for name, doc in (("settings.json", settings), ("model-settings.json", model_settings)):
        with open(os.path.join(folder, name), "w") as f:
            json.dump(doc, f, indent=2)


def baseline_kind(python, worktree, label):
    """modelkiln as of an older commit: the worktree's python_runtime, the same interpreter; it
    is asked V2 REST too when that commit has it."""
    has_v2 = os.path.exists(os.path.join(worktree, "python_runtime", "protocols", "v2.py"))
    # gRPC rows too when that commit serves V2 gRPC from every worker (grpc_server.py)
    has_grpc = has_v2 and any(os.path.exists(os.path.join(worktree, "python_runtime", *parts))
                              for parts in (("grpc_server.py",), ("transport", "grpc_server.py")))
    return ServerKind("modelkiln@" + label, python, _modelkiln_cmd(python, grpc_flag=False), "/ready",
                      MODEL_DIR, 3, env={"PYTHONPATH": worktree}, port_env=_grpc_port_env,
                      protocols=((V1, V2) if has_v2 else (V1,)) + ((V1_GRPC, V2_GRPC) if has_grpc else ()),
                      extensions=("binary_tensor_data",) if has_v2 else (),
                      grpc_port_index=2 if has_grpc else None,
                      grpc_log="serving gRPC on :%d " if has_grpc else None)


def imported_from(kind):
    """Where kind's interpreter imports python_runtime from, started as the server is."""
    r = subprocess.run([kind.exe, "-c", "import python_runtime; print(python_runtime.__file__)"],
                       cwd=kind.cwd, env=dict(os.environ, **kind.env), capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise ServerError("%s: python_runtime is not importable:\n%s" % (kind.name, r.stderr[-2000:]))
    return r.stdout.strip()


# ---- a git worktree for the baseline ---------------------------------------------------

def git(*args):
    r = subprocess.run(["git", "-C", REPO_DIR] + list(args), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise ServerError("git %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
    return r.stdout.strip()


def resolve_rev(rev):
    """(full sha, short sha, subject) of a commit, or ServerError."""
    sha = git("rev-parse", "--verify", "--quiet", rev + "^{commit}")
    return sha, git("rev-parse", "--short=7", sha), git("log", "-1", "--format=%s", sha)


def add_worktree(path, sha):
    git("worktree", "add", "--detach", path, sha)


def remove_worktree(path):
    """Remove a worktree this run added (or prune its record if the folder is gone). Never raises."""
    try:
        if os.path.isdir(path):
            git("worktree", "remove", "--force", path)
        else:
            git("worktree", "prune")
    except (ServerError, OSError, subprocess.SubprocessError) as e:
        print("warning: removing the baseline worktree %s: %s (see `git worktree list`)" % (path, e))


def free_ports(n):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def http_request(port, method, path, body=None, timeout=30.0, headers=None):
    """(status, body, headers as a dict) of one request."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        if headers is None:
            headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


def wait_http(proc, port, path, timeout=60.0):
    """Whether GET path on port answered 200 before timeout seconds, while proc runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if http_request(port, "GET", path, timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


# ---- /proc helpers ---------------------------------------------------------------

def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 = state)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def process_tree(root):
    """root and all its live descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if os.path.exists("/proc/%d" % pid):
            tree.append(pid)
            todo.extend(children.get(pid, []))
    return tree


def _start_time(pid):
    try:
        return int(_stat_fields(pid)[19])
    except (OSError, IndexError, ValueError):
        return None


def rss_kib(pid):
    try:
        return int(_stat_fields(pid)[21]) * PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid):
    """utime + stime + cutime + cstime of one process, in clock ticks."""
    try:
        f = _stat_fields(pid)
        return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    except (OSError, IndexError, ValueError):
        return 0


def machine_busy_seconds():
    """CPU seconds all CPUs spent not idle since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    busy = sum(v[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / CLK_TCK


# ---- one running server -------------------------------------------------------------

_LIVE = []


class ServerError(RuntimeError):
    pass


class Server:
    def __init__(self, kind, workers, logdir):
        self.kind = kind
        self.workers = workers
        self.logdir = logdir
        self.logpath = os.path.join(logdir, "%s-w%d-%d.log" % (kind.name, workers, time.time_ns()))
        self.proc = None
        self.port = None
        self.grpc_port = None
        self.started_at = None

    @property
    def name(self):
        return self.kind.name

    def start(self):
        ports = free_ports(self.kind.nports)
        self.port = ports[0]
        if self.kind.grpc_port_index is not None:
            self.grpc_port = ports[self.kind.grpc_port_index]
        cmd = self.kind.command(self.workers, ports, self.logdir)
        extra = dict(self.kind.env, **(self.kind.port_env(ports) if self.kind.port_env else {}))
        env = dict(os.environ, **extra) if extra else None
        self._log = open(self.logpath, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, cwd=self.kind.cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        _LIVE.append(self)
        return self

    def wait_ready(self, timeout=90.0):
        """Poll the readiness path; return seconds from process start to the first 200."""
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError("%s exited with %s before ready:\n%s"
                                  % (self.name, self.proc.returncode, self.log_tail()))
            try:
                status, _, _ = http_request(self.port, "GET", self.kind.ready_path, timeout=5)
                if status == 200:
                    return time.monotonic() - self.started_at
            except OSError:
                pass
            time.sleep(0.005)
        raise ServerError("%s not ready after %.0f s:\n%s" % (self.name, timeout, self.log_tail()))

    def wait_grpc(self, timeout=60.0):
        """After wait_ready: wait until the gRPC port takes a TCP connection and, for a kind
        with grpc_log, every worker has logged that its gRPC server listens (so the memory
        read after the warm-up includes every worker's gRPC server). No-op without gRPC."""
        if self.grpc_port is None:
            return
        deadline = time.monotonic() + timeout
        want = self.kind.grpc_log % self.grpc_port if self.kind.grpc_log else None
        first_listen = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError("%s exited with %s before its gRPC server started:\n%s"
                                  % (self.name, self.proc.returncode, self.log_tail()))
            listening = False
            try:
                socket.create_connection((HOST, self.grpc_port), timeout=2).close()
                listening = True
            except OSError:
                pass
            if listening and (want is None or self._log_count(want) >= self.workers):
                return
            if listening and first_listen is None:
                first_listen = time.monotonic()
            if first_listen is not None and time.monotonic() - first_listen > 10:
                # the port answers, but not every worker logged the line: it may have changed
                print("warning: %s: gRPC answers on %d, but %d of %d worker(s) logged %r"
                      % (self.name, self.grpc_port, self._log_count(want), self.workers, want))
                return
            time.sleep(0.02)
        raise ServerError("%s: gRPC on port %d not up in all %d worker(s) after %.0f s:\n%s"
                          % (self.name, self.grpc_port, self.workers, timeout, self.log_tail()))

    def _log_count(self, text):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace").count(text)
        except OSError:
            return 0

    def post(self, path, body, headers=None, timeout=30.0):
        return http_request(self.port, "POST", path, body=body, timeout=timeout, headers=headers)

    def log_tail(self, n=30):
        try:
            with open(self.logpath, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    # measurements over the whole process tree
    def pids(self):
        return process_tree(self.proc.pid)

    def settle(self, quiet=1.0, timeout=15.0):
        """Wait until the process tree has had the same processes for `quiet` s (a server may
        still be forking workers or helper processes right after it answers ready)."""
        deadline = time.monotonic() + timeout
        last, since = set(self.pids()), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = set(self.pids())
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    def memory(self):
        pids = self.pids()
        return {
            "procs": len(pids),
            "rss_kib": sum(rss_kib(p) for p in pids),
            "pss_kib": sum(pss_kib(p) for p in pids),
        }

    def cpu_seconds(self):
        return sum(cpu_ticks(p) for p in self.pids()) / CLK_TCK

    def stop(self, grace=8.0):
        if self.proc is None:
            return
        tree = [(p, _start_time(p)) for p in self.pids()]
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # descendants that left the group (same start time => still the same process)
        for pid, started in tree:
            if started is not None and _start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        self.proc = None
        if self in _LIVE:
            _LIVE.remove(self)


def stop_all():
    for server in list(_LIVE):
        try:
            server.stop(grace=3.0)
        except Exception as e:  # keep going: every group must die
            print("warning: stopping %s: %s" % (server.name, e))


def add_peer_arguments(ap, python_help):
    """--python, --seldon-venv and --v2-venv: where modelkiln and the peers are installed."""
    ap.add_argument("--python", default=os.path.join(REPO_DIR, ".venv", "bin", "python"),
                    help="%s (default <repo>/.venv)" % python_help)
    ap.add_argument("--seldon-venv",
                    default=os.environ.get("MODELKILN_SELDON_VENV", os.path.join(REPO_DIR, ".venv-seldon")),
                    help="virtualenv with seldon-core 1.18 (env MODELKILN_SELDON_VENV, default <repo>/.venv-seldon)")
    ap.add_argument("--v2-venv",
                    default=os.environ.get("MODELKILN_V2_VENV", os.path.join(REPO_DIR, ".venv-v2")),
                    help="virtualenv with MLServer 1.7 (env MODELKILN_V2_VENV, default <repo>/.venv-v2)")
    ap.add_argument("--asgi-venv",
                    default=os.environ.get("MODELKILN_ASGI_VENV", os.path.join(REPO_DIR, ".venv-asgi")),
                    help="virtualenv with uvicorn, uvloop, orjson and FastAPI for the raw ASGI and "
                         "FastAPI peers (env MODELKILN_ASGI_VENV, default <repo>/.venv-asgi)")


def versions_of(python, modules):
    """'Python 3.11.7, gunicorn 20.1.0, ...' for the interpreter that runs a server."""
    code = ("import importlib.metadata as m, platform\n"
            "out = ['Python ' + platform.python_version()]\n"
            "for mod in %r:\n"
            "    try: out.append(mod + ' ' + m.version(mod))\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(', '.join(out))" % (list(modules),))
    r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    return r.stdout.strip() if r.returncode == 0 else "?"
