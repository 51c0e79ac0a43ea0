"""The ``modelkiln`` command: ``serve`` (run a model locally), ``test`` (check an app's
examples locally, before any build), ``build`` (s2i build with the local Docker engine) and
``test-image`` (run an app image against its examples)."""

import argparse
import sys
from typing import List, Optional

from .errors import CliError, report_errors

USAGE = """usage: modelkiln COMMAND [options]

commands:
  serve MODEL_NAME|APP_DIR [options]   serve a model class as a REST microservice
  test APP_DIR                         check APP_DIR/examples.json in this process, before building
  predict APP_DIR IN OUT [options]     score a file (.jsonl, .json, .csv, .npy) and exit
  info APP_DIR                         print the model's metadata and schema
  batch --url URL IN OUT [options]     score a file against a running server (retries, resume)
  build SOURCE BUILDER TAG [options]   build an app image from SOURCE with an s2i builder
  test-image TAG --app DIR             run TAG and check the answers to DIR/examples.json
  doctor [--image TAG]                 can the models use a GPU here (or in image TAG)?
  manifests APP_DIR --image IMAGE --kind KIND
                                       Kubernetes / OpenShift YAML for APP_DIR: deployment,
                                       seldon, kserve, job or openshift-build

modelkiln COMMAND --help shows the options of a command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelkiln build",
        description="Build an app image from SOURCE with an s2i builder image (s2i semantics, "
                    "no s2i binary needed).")
    parser.add_argument("source", help="app folder or git URL")
    parser.add_argument("builder", help="builder image, e.g. modelkiln/python311")
    parser.add_argument("tag", help="name:tag of the image to build")
    parser.add_argument("-r", "--ref", help="git branch, tag or commit to build")
    parser.add_argument("--context-dir", default="", help="sub-folder of SOURCE to build")
    parser.add_argument("--copy", action="store_true",
                        help="build a local folder as it is on disk, not its committed content")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                        help="build environment (after .s2i/environment)")
    parser.add_argument("-E", "--env-file", action="append", default=[], metavar="FILE",
                        help="KEY=VALUE lines (after .s2i/environment and -e, as in s2i; a "
                             "missing file is a warning)")
    parser.add_argument("-i", "--inject", action="append", default=[], metavar="SRC:DST",
                        help="file or folder present at DST during assemble only")
    parser.add_argument("--ca-bundle", metavar="FILE",
                        help="CA certificates pip trusts during assemble (TLS-inspecting "
                             "proxies); never stored in the image. Default: the bundle this "
                             "machine's pip trusts (PIP_CERT, pip's cert, SSL_CERT_FILE, "
                             "REQUESTS_CA_BUNDLE, else the system bundle)")
    parser.add_argument("--no-host-ca", action="store_true",
                        help="do not hand this machine's CA bundle to assemble")
    parser.add_argument("--pip-conf", metavar="FILE",
                        help="pip.conf used during assemble (index credentials); never stored")
    parser.add_argument("--incremental", action="store_true",
                        help="reuse the installed packages of the existing TAG")
    parser.add_argument("--network", help="network of the build container (e.g. host)")
    parser.add_argument("--slim", action="store_true",
                        help="run the app on the builder's runtime image (the label "
                             "io.modelkiln.runtime-image names it): no pip, setuptools or "
                             "conda installer in the app image")
    parser.add_argument("--runtime-image", metavar="IMAGE",
                        help="with --slim, this runtime image (implies --slim)")
    parser.add_argument("--as-dockerfile", metavar="PATH",
                        help="write a Dockerfile (and its context) instead of building")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not echo assemble output")
    return parser


def test_image_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelkiln test-image",
                                     description="Run an app image and check its examples.")
    parser.add_argument("tag")
    parser.add_argument("--app", required=True, help="app folder holding examples.json")
    parser.add_argument("--user", help="UID to run as (default: a random non-root UID)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for /ready (default 120)")
    parser.add_argument("--memory", metavar="SIZE",
                        help="run the container with this memory limit (e.g. 512m, 2g)")
    parser.add_argument("--cpus", type=float, metavar="N",
                        help="run the container with this many CPUs (e.g. 0.5, 2)")
    return parser


def test_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelkiln test",
        description="Load an app folder's class in this process (no image, nothing "
                    "installed) and check its examples.json, as test-image checks an image.")
    parser.add_argument("app", help="app folder holding examples.json (and .s2i/environment)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in ("build", "test", "test-image", "manifests", "doctor"):
        return report_errors(lambda: run_command(command, rest))
    if command == "serve":
        from python_runtime.cli import main as serve_main

        return serve_main(rest)
    if command in ("predict", "info"):
        from python_runtime.jobs.predict import main as job_main

        return job_main([command] + rest)
    if command == "batch":
        from python_runtime.jobs.batch import main as batch_main

        return batch_main(rest)
    sys.stderr.write("modelkiln: unknown command %r\n%s" % (command, USAGE))
    return 2


def run_command(command: str, rest: List[str]) -> int:
    """build, test, test-image or manifests; failures are raised (CliError), and printed by
    main."""
    if command == "build":
        from .build import BuildOptions
        from .build import main as build_main

        ns = build_parser().parse_args(rest)
        return build_main(BuildOptions(
            ns.source, ns.builder, ns.tag, ref=ns.ref, context_dir=ns.context_dir,
            copy=ns.copy, env=ns.env, env_files=ns.env_file, inject=ns.inject,
            incremental=ns.incremental, network=ns.network, as_dockerfile=ns.as_dockerfile,
            ca_bundle=ns.ca_bundle, pip_conf=ns.pip_conf, quiet=ns.quiet,
            host_ca=not ns.no_host_ca, slim=ns.slim, runtime_image=ns.runtime_image))
    if command == "test":
        from .testlocal import main as test_local_main

        ns = test_parser().parse_args(rest)
        return test_local_main(ns.app)
    if command == "test-image":
        from .testimage import main as test_main

        ns = test_image_parser().parse_args(rest)
        return test_main(ns.tag, ns.app, ns.user, ns.timeout, ns.memory, ns.cpus)
    if command == "doctor":
        from .doctor import main as doctor_main

        return doctor_main(rest)
    if command == "manifests":
        from .manifests import main as manifests_main

        return manifests_main(rest)
    raise CliError("unknown command %r" % command)


if __name__ == "__main__":
    sys.exit(main())
