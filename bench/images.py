"""Image measurements: sizes of the base, builder and app images; a clean app build versus
incremental rebuilds (a change of source only, one requirement more, and the save-artifacts
path real s2i takes); time from `docker run` to /ready. Prints a markdown section with the
targets: source only <= 30% of a clean build, one requirement more <= 50%.

    .venv/bin/python bench/images.py [--app bench/apps/heavy-deps] [--runs 3] [--write]

With ``--slim``: today's app image against the slim one (``modelkiln build --slim``, on
modelkiln/python311-runtime) for the model template, a scikit-learn app and a PyTorch CPU app
(torch from the wheel folder pip's configuration names, injected at /whl): sizes, build times
and `docker run` -> /ready, interleaved; aims: the slim template <= 45% of today's size, every
slim app >= 150 MB smaller, ready no slower. Then the bytes a code-only rebuild adds with 100 MiB
of weights, without and with MODELKILN_WEIGHTS. Writes bench/RESULTS-slim.md with ``--write``.

With ``--cuda``: sizes of modelkiln/python311 and the two CUDA builders (make image-py311-cuda
image-py38-cuda), and of a PyTorch app on each (the CPU wheel on python311, PyPI's CUDA builds
on the others), with build and ready times; bench/RESULTS-cuda.md with ``--write``.

Needs the engine and modelkiln/python311 (make image-py311). Runs builds of its own tags only.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from modelkiln_cli.engine import connect  # noqa: E402

CA = "/etc/ssl/certs/ca-certificates.crt"
IMAGES_MARK = "<!-- images:begin -->"
JOBS_MARK = "<!-- jobs:begin -->"


def find_links():
    """The wheel folder of this machine's pip configuration (the PyTorch CPU wheel), or None."""
    done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                          text=True)
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith("find-links"):
            for path in value.strip("'\"").split():
                if os.path.isdir(path):
                    return path
    return None


SLIM_APPS = (("model template", "templates/model-template-app"),
             ("scikit-learn", "bench/apps/sklearn-iris"),
             ("PyTorch CPU", "bench/apps/torch-mlp"))
SLIM_MARK = "<!-- slim:begin -->"


def slim_section(client, runs):
    """Today's app image against the slim one for each app of SLIM_APPS: markdown lines."""
    wheels = find_links()
    rows, aims = [], []
    for name, app in SLIM_APPS:
        extra = []
        if "torch" in app:
            if wheels is None:
                raise SystemExit("no wheel folder in pip's configuration: the PyTorch app "
                                 "needs its torch wheel (pip config list: find-links)")
            extra = ["--inject", "%s:/whl" % wheels]
        base = "modelkiln-bench/slim-%s" % os.path.basename(app)
        today, slim = base + ":today", base + ":slim"
        for tag in (today, slim):
            try:
                client.images.remove(tag, force=True)
            except Exception:
                pass
        built = {today: build(app, today, *extra), slim: build(app, slim, "--slim", *extra)}
        ready = {today: [], slim: []}
        for _ in range(runs):  # interleaved
            for tag in (today, slim):
                ready[tag].append(start_to_ready(client, tag))
        sizes = {tag: mib(client, tag) for tag in (today, slim)}
        share = sizes[slim] / sizes[today]
        saved = sizes[today] - sizes[slim]
        rows.append("| %s (`%s`) | %.0f | %.0f | %.0f%% | %.0f | %.1f / %.1f | %.2f (%.2f-%.2f) "
                    "/ %.2f (%.2f-%.2f) |" % (
                        name, app, sizes[today], sizes[slim], 100 * share, saved, built[today],
                        built[slim], statistics.median(ready[today]), min(ready[today]),
                        max(ready[today]), statistics.median(ready[slim]), min(ready[slim]),
                        max(ready[slim])))
        saved_mb = saved * 1048576 / 1e6
        aims.append("- %s: %.0f MB smaller (aim >= 150 MB): %s" % (
            name, saved_mb, "met" if saved_mb >= 150 else "**not met**"))
        if app.startswith("templates/"):
            aims.append("- %s: slim is %.1f%% of today's size (aim <= 45%%): %s" % (
                name, 100 * share, "met" if share <= 0.45 else "**not met**"))
        slower = statistics.median(ready[slim]) / statistics.median(ready[today]) - 1
        aims.append("- %s: ready %.2f s slim against %.2f s today, medians of %d interleaved "
                    "rounds, %+.0f%% (aim: no slower, within the machine's 5%% noise): %s" % (
                        name, statistics.median(ready[slim]), statistics.median(ready[today]),
                        runs, 100 * slower, "met" if slower <= 0.05 else "**not met**"))
    return [SLIM_MARK, "## Slim app images", "",
            "- date: %s UTC" % time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "- command: `.venv/bin/python bench/images.py --slim --runs %d --write`" % runs,
            "- images: %s (%.0f MiB) and %s (%.0f MiB)" % (
                "modelkiln/python311", mib(client, "modelkiln/python311"),
                "modelkiln/python311-runtime", mib(client, "modelkiln/python311-runtime")),
            "", "| app | today MiB | slim MiB | slim / today | saved MiB | clean build s "
            "(today / slim) | docker run to /ready s, median (min-max) of %d (today / slim) |"
            % runs,
            "|---|---:|---:|---:|---:|---:|---:|"] + rows + [""] + aims


def weights_section(client):
    """Bytes a code-only rebuild adds above what the previous image shares, for the model
    template with 100 MiB of weights, without and with MODELKILN_WEIGHTS."""
    lines = ["", "### Weights in a layer of their own", "",
             "The model template with a 100 MiB file `models/w.bin`, built, then rebuilt after a "
             "change of code only (`MyModel.py`); the rebuilt image's bytes above the layers it "
             "shares with the first (what a push to a registry holding the first sends):", "",
             "| build | shared base | bytes above it after a code-only rebuild |", "|---|---|---:|"]
    for label, setting in (("today, one layer", None), ("MODELKILN_WEIGHTS=models/*.bin",
                                                        "models/*.bin")):
        work = tempfile.mkdtemp(prefix="modelkiln-bench-weights-")
        app = os.path.join(work, "app")
        shutil.copytree(os.path.join(REPO, "templates", "model-template-app"), app)
        os.makedirs(os.path.join(app, "models"))
        with open(os.path.join(app, "models", "w.bin"), "wb") as f:
            f.write(os.urandom(100 * 1048576))
        if setting:
            with open(os.path.join(app, ".s2i", "environment"), "a") as f:
                f.write("MODELKILN_WEIGHTS=%s\n" % setting)
        tag = "modelkiln-bench/weights-%s:latest" % ("on" if setting else "off")
        build(app, tag)
        first = client.images.get(tag)
        with open(os.path.join(app, "MyModel.py"), "a") as f:
            f.write("\n# a change of code only\n")
        build(app, tag)
        after = client.images.get(tag)
        layers = after.attrs["RootFS"]["Layers"]
        shared = 0
        while (shared < len(layers) and shared < len(first.attrs["RootFS"]["Layers"])
               and layers[shared] == first.attrs["RootFS"]["Layers"][shared]):
            shared += 1
        bases = [client.images.get("modelkiln/python311")] + client.images.list(
            name="modelkiln-weights/modelkiln-bench-weights-on")
        base = [b for b in bases if b.attrs["RootFS"]["Layers"] == layers[:shared]]
        if not base:
            raise SystemExit("%s: no image holds exactly the shared layers" % tag)
        lines.append("| %s | %s | %.2f MiB |" % (
            label, base[0].tags[0] if base[0].tags else base[0].short_id,
            (after.attrs["Size"] - base[0].attrs["Size"]) / 1048576.0))
        shutil.rmtree(work, ignore_errors=True)
    return lines


def build(app, tag, *extra, builder="modelkiln/python311"):
    command = [sys.executable, "-m", "modelkiln_cli.cli", "build", app, builder, tag,
               "--quiet"] + (["--ca-bundle", CA] if os.path.exists(CA) else []) + list(extra)
    started = time.time()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.time() - started


def start_to_ready(client, tag):
    started = time.time()
    container = client.containers.run(tag, detach=True, ports={"9000/tcp": ("127.0.0.1", None)})
    try:
        while True:
            container.reload()
            ports = container.ports.get("9000/tcp")
            if ports:
                try:
                    url = "http://127.0.0.1:%s/ready" % ports[0]["HostPort"]
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            return time.time() - started
                except OSError:
                    pass
            if time.time() - started > 60:
                raise SystemExit("%s not ready after 60 s" % tag)
            time.sleep(0.05)
    finally:
        container.remove(force=True)


CUDA_MARK = "<!-- cuda:begin -->"


def cuda_section(client):
    """Sizes of the CPU and CUDA builders and of a PyTorch app built on each: markdown lines."""
    wheels = find_links()
    if wheels is None:
        raise SystemExit("no wheel folder in pip's configuration: the CPU PyTorch app needs "
                         "its torch wheel (pip config list: find-links)")
    with open(os.path.join(REPO, ".build", "base-py38-cuda")) as handle:
        py38 = handle.read().split()[3]   # the tag `make image-py38-cuda` gave it
    cases = (("modelkiln/python311", "bench/apps/torch-mlp", "PyTorch CPU wheel (pip's "
              "find-links folder, injected at /whl)", ["--inject", "%s:/whl" % wheels]),
             ("modelkiln/python311-cuda", "test_apps/cuda-torch", "torch==2.9.1 (CUDA 12.8) "
              "from PyPI; its CUDA wheels are the builder's", []),
             (py38, "test_apps/cuda-torch", "torch==2.0.1 (CUDA 11.7) from PyPI with its own "
              "CUDA 11 wheels", []))
    rows = []
    for builder, app, torch, extra in cases:
        tag = "modelkiln-bench/cuda-%s:latest" % builder.split("/")[-1].replace(":", "-")
        seconds = build(app, tag, *extra, builder=builder)
        ready = start_to_ready(client, tag)
        rows.append("| `%s` | %.0f | `%s`: %s | %.0f | %.0f | %.0f | %.1f |" % (
            builder, mib(client, builder), app, torch, mib(client, tag),
            mib(client, tag) - mib(client, builder), seconds, ready))
        client.images.remove(tag, force=True)
    return [CUDA_MARK, "## CUDA builders", "",
            "- date: %s UTC" % time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "- command: `.venv/bin/python bench/images.py --cuda --write`",
            "- one build each (sizes do not vary between builds); the clean build includes the "
            "download of torch; docker run to /ready on the CPU (no GPU here)", "",
            "| builder | builder MiB | app | app image MiB | app above builder MiB | clean "
            "build s | docker run to /ready s |", "|---|---:|---|---:|---:|---:|---:|"] + rows


def mib(client, tag):
    return client.images.get(tag).attrs["Size"] / 1048576.0


def emit(text, write, name, title, flag):
    """Print a section; with ``write``, also as bench/NAME under its title."""
    print(text)
    if write:
        path = os.path.join(REPO, "bench", name)
        with open(path, "w") as f:
            f.write("# %s\n\nGenerated by `bench/images.py %s` (see its docstring).\n\n%s"
                    % (title, flag, text))
        print("wrote %s" % path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default="bench/apps/heavy-deps")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="put the section into bench/RESULTS.md")
    ap.add_argument("--slim", action="store_true",
                    help="today's app images against slim ones (bench/RESULTS-slim.md)")
    ap.add_argument("--cuda", action="store_true",
                    help="the CUDA builders and a PyTorch app on each (bench/RESULTS-cuda.md)")
    args = ap.parse_args()
    client = connect()
    if args.cuda:
        return emit("\n".join(cuda_section(client)) + "\n", args.write, "RESULTS-cuda.md",
                    "CUDA builder images: sizes", "--cuda")
    if args.slim:
        return emit("\n".join(slim_section(client, args.runs) + weights_section(client)) + "\n",
                    args.write, "RESULTS-slim.md", "Slim app images: today's against slim",
                    "--slim")
    base = open(os.path.join(REPO, ".build", "base-py311")).read().strip()
    template = "modelkiln-bench/model-template-app:latest"
    build("templates/model-template-app", template)
    tag = "modelkiln-bench/incremental:latest"
    work = tempfile.mkdtemp(prefix="modelkiln-bench-app-")
    times = {"clean": [], "source": [], "requirement": [], "artifacts": []}
    for run in range(args.runs):
        app = os.path.join(work, "app%d" % run)
        shutil.copytree(os.path.join(REPO, args.app), app)
        try:
            client.images.remove(tag, force=True)
        except Exception:
            pass
        times["clean"].append(build(app, tag))
        with open(os.path.join(app, "changed.py"), "w") as f:  # a change of source only
            f.write("EDITED = %d\n" % run)
        times["source"].append(build(app, tag, "--incremental"))
        with open(os.path.join(app, "requirements.txt"), "a") as f:
            f.write("six==1.16.0\n")
        times["requirement"].append(build(app, tag, "--incremental"))
        # another build environment: the save-artifacts path (the one real s2i takes)
        times["artifacts"].append(build(app, tag, "--incremental", "-e", "BENCH_RUN=%d" % run))
    shutil.rmtree(work, ignore_errors=True)
    ready = [start_to_ready(client, template) for _ in range(args.runs)]
    c = statistics.median(times["clean"])
    share = {k: statistics.median(v) / c for k, v in times.items()}
    lines = [IMAGES_MARK, "## Images", "",
             "- date: %s UTC" % time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
             "- command: `.venv/bin/python bench/images.py --app %s --runs %d`"
             % (args.app, args.runs), "", "| image | size MiB |", "|---|---|"]
    for name in (base, "modelkiln/python311", template):
        lines.append("| %s | %.0f |" % (name, mib(client, name)))
    lines += ["", "| measure (median of %d) | seconds | of clean | target |" % args.runs,
              "|---|---|---|---|",
              "| clean build of %s | %.1f | | |" % (args.app, c)]
    for key, what, target in (
            ("source", "incremental, a change of source only", 0.30),
            ("requirement", "incremental, one requirement more", 0.50),
            ("artifacts", "incremental through save-artifacts (another build environment; "
                          "real s2i's path)", None)):
        verdict = "" if target is None else "%s ≤ %.0f%%" % (
            "PASS" if share[key] <= target else "FAIL", 100 * target)
        lines.append("| %s | %.1f | %.0f%% | %s |" % (
            what, statistics.median(times[key]), 100 * share[key], verdict))
    lines.append("| docker run to /ready (model template) | %.2f | | |"
                 % statistics.median(ready))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        path = os.path.join(REPO, "bench", "RESULTS.md")
        with open(path) as f:
            results = f.read()
        after = ""  # the file-jobs section (bench/jobs.py) follows this one: kept
        if JOBS_MARK in results:
            after = "\n" + results[results.index(JOBS_MARK):]
            results = results[:results.index(JOBS_MARK)]
        if IMAGES_MARK in results:
            results = results[:results.index(IMAGES_MARK)]
        with open(path, "w") as f:
            f.write(results.rstrip("\n") + "\n\n" + text + after)
        print("wrote %s" % path)


if __name__ == "__main__":
    main()
