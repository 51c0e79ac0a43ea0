"""Read this machine's own apt and pip settings, for building base and builder images.

``python -m modelkiln_cli.hostconfig apt-mirror`` prints the Debian mirror apt uses here;
``python -m modelkiln_cli.hostconfig pip-conf`` prints a pip.conf with the index settings pip uses
here (only http(s) locations: file paths do not exist inside a container). Nothing is
hard-coded: a machine without such settings gets the tools' defaults.
"""

import glob
import os
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

APT_SOURCES = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))


def apt_mirror(paths: Optional[List[str]] = None) -> Optional[str]:
    """The first Debian main-archive URI in apt's sources (one-line or deb822 format)."""
    for path in paths or APT_SOURCES:
        if not os.path.isfile(path) or path.endswith((".disabled", ".save")):
            continue
        with open(path) as handle:
            lines = handle.read().splitlines()
        for line in lines:
            words = line.split("#", 1)[0].split()
            uri = None
            if words[:1] == ["deb"]:
                uri = next((w for w in words[1:] if "://" in w), None)
            elif words[:1] == ["URIs:"] and len(words) > 1:
                uri = words[1]
            if uri and "security" not in uri and "debian" in uri:
                return uri.rstrip("/")
    return None


def _pip_config(key: str) -> Optional[str]:
    """pip's own setting ``key`` (``global.cert``) on this machine, or None."""
    result = subprocess.run([sys.executable, "-m", "pip", "config", "get", key],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            universal_newlines=True)
    value = result.stdout.strip() if result.returncode == 0 else ""
    return value or None


def pip_settings() -> Dict[str, str]:
    """index-url, extra-index-url and trusted-host as pip resolves them here."""
    found = {}  # type: Dict[str, str]
    for key in ("index-url", "extra-index-url", "trusted-host"):
        env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        value = env if env is not None else _pip_config("global." + key)
        if value:
            kept = [v for v in value.split() if key == "trusted-host"
                    or v.startswith(("http://", "https://"))]
            if kept:
                found[key] = " ".join(kept)
    return found


SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt",   # Debian, Ubuntu, Alpine
                  "/etc/pki/tls/certs/ca-bundle.crt",     # RHEL, Fedora
                  "/etc/ssl/cert.pem")                    # macOS, some BSDs


def ca_bundle(environ: Optional[Dict[str, str]] = None,
              system: Sequence[str] = SYSTEM_BUNDLES) -> Optional[Tuple[str, str]]:
    """(path, where it came from) of the CA bundle this machine's pip trusts: PIP_CERT, pip's
    ``cert`` setting, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, else the system bundle."""
    environ = os.environ if environ is None else environ
    candidates = [(environ.get("PIP_CERT"), "PIP_CERT")]
    if not environ.get("PIP_CERT"):
        candidates.append((_pip_config("global.cert"), "pip's cert setting"))
    candidates += [(environ.get("SSL_CERT_FILE"), "SSL_CERT_FILE"),
                   (environ.get("REQUESTS_CA_BUNDLE"), "REQUESTS_CA_BUNDLE")]
    candidates += [(path, "the system bundle") for path in system]
    for path, origin in candidates:
        if path and os.path.isfile(path) and os.path.getsize(path) > 0:
            return path, origin
    return None


def pip_conf() -> str:
    settings = pip_settings()
    return "[global]\n" + "".join("%s = %s\n" % item for item in sorted(settings.items()))


def main(argv: List[str]) -> int:
    if argv == ["apt-mirror"]:
        mirror = apt_mirror()
        if not mirror:
            print("no Debian mirror found in apt's sources", file=sys.stderr)
            return 1
        print(mirror)
        return 0
    if argv == ["pip-conf"]:
        sys.stdout.write(pip_conf())
        return 0
    print("usage: python -m modelkiln_cli.hostconfig apt-mirror|pip-conf", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
