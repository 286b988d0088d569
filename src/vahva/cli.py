"""The ``vahva`` command.

``vahva init`` writes a configuration file with fresh secrets (it runs before Django can
start, since Django needs those secrets); ``vahva serve`` runs the ASGI server; every other
subcommand is a Django management command (``migrate``, ``demo``, ``user``, ``rotate-keys``...).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import secrets
import sys
from pathlib import Path

from vahva.crypto import new_key

DEMO_SETTINGS = """\
# Written by `vahva init --demo` for a laptop demo. Keep this file secret: it holds the keys
# that protect passwords' sessions and the secrets of registered methods.
debug = true
secure_cookies = false      # the demo is served over plain http://localhost
allowed_hosts = ["localhost", "127.0.0.1"]
"""


def _config_path() -> Path:
    if os.environ.get("VAHVA_CONFIG"):
        return Path(os.environ["VAHVA_CONFIG"])
    return Path(os.environ.get("VAHVA_DATA_DIR", "var")) / "vahva.toml"


def init(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vahva init", description=init.__doc__)
    parser.add_argument("--demo", action="store_true", help="settings for a local demo")
    parser.add_argument(
        "--public-url", default="http://localhost:8000", help="where people reach this server"
    )
    args = parser.parse_args(argv)
    if not args.public_url.startswith(("http://", "https://")) or '"' in args.public_url:
        parser.error("--public-url must be an http(s) address")
    path = _config_path()
    if path.exists():
        print(f"{path} exists; leaving it as it is.")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        DEMO_SETTINGS if args.demo else "debug = false\n",
        f'secret_key = "{secrets.token_urlsafe(48)}"\n',
        "\n[vahva]\n",
    ]
    if args.demo:
        lines.append('organisation_name = "Demo University"\n')
        lines.append('helpdesk_email = "helpdesk@demo.example"\n')
        lines.append('helpdesk_phone = "+358 9 123 4567"\n')
        lines.append(f'public_url = "{args.public_url}"\n')
        # Texts and calls of the demo land on the dev phone page, /dev/phone.
        lines.append("dev_phone = true\n")
        # The seed's organisation: MFA from two hours after registering, not on campus or
        # VPN (addresses the demo's own browser never has, so the demo asks for MFA), and
        # "Don't ask again on this device" for two weeks.
        lines.append("activation_delay = 7200\n")
        lines.append("remember_device_days = 14\n")
        lines.append(
            'trusted_networks = { Campus = ["130.233.0.0/16", "2001:708::/32"], '
            'VPN = ["10.100.0.0/16"] }\n'
        )
    lines.append('encryption_key_id = "k1"\n')
    lines.append(f'encryption_keys = {{ k1 = "{new_key()}" }}\n')
    # Owner-only: the file holds the secret key and the encryption keys.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    print(f"Wrote {path} with a new secret key and encryption key.")
    return 0


#: glibc's mallopt parameter M_ARENA_MAX (malloc.h).
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX would), unless the environment sets it.

    Each request thread that checks a password takes argon2id's 19 MiB; with an arena per
    thread glibc keeps those blocks, and a server that has signed a thousand people in sits
    at ~280 MiB instead of ~140 MiB (bench/push.py). Done before any thread starts; False
    where there is no glibc.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


#: glibc's mallopt parameters M_TRIM_THRESHOLD and M_MMAP_THRESHOLD (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the arenas instead of a fresh mmap (glibc's largest).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the top of an arena kept for the next blocks rather than given back.
TRIM_THRESHOLD = 48 * 1024 * 1024
#: The same settings as environment variables, which glibc reads at a process's start.
MALLOC_THRESHOLDS = {
    "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
}


def keep_hash_memory() -> bool:
    """Let glibc keep argon2id's 19 MiB blocks for the next password checks (mallopt), unless
    the environment sets either threshold.

    With glibc's dynamic thresholds a freed block went back to the kernel as soon as two were
    free at the top of an arena (the trim threshold is twice the block), and the next check
    faulted its pages in again: ~2,400 page faults and ~5 ms of kernel CPU per sign-in, a
    tenth of the server's (bench/README.md, "Fourth pass"). 48 MiB keeps two blocks per arena
    (two arenas: limit_malloc_arenas), about 20 MiB more resident than before. False where
    there is no glibc.
    """
    if any(name in os.environ for name in MALLOC_THRESHOLDS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        # Both, in this order: setting either turns the dynamic thresholds off.
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):
        return False


#: Seconds `vahva serve` lets open requests finish when stopped; then it closes them. Waiting
#: pages' event streams last minutes: cut, they reconnect (to another node behind the proxy).
GRACEFUL_SHUTDOWN = 5


def _workers(value: str) -> int:
    count = int(value)
    if count < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return count


def prepare_metrics_dir(data_dir: Path) -> Path:
    """PROMETHEUS_MULTIPROC_DIR for several workers (default ``<data dir>/prometheus``),
    emptied of the previous run's files: /metrics adds up every worker's counts from there."""
    directory = Path(
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(data_dir / "prometheus"))
    )
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        # Only prometheus_client's own files: the directory may be the operator's.
        stale.unlink()
    return directory


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vahva serve", description="Serve vahva over ASGI.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="worker processes (default: `workers` in the configuration file, else 1)",
    )
    args = parser.parse_args(argv)
    if args.workers is not None:
        # Read by the settings of every worker, and by the checks below.
        os.environ["VAHVA_WORKERS"] = str(args.workers)
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    django.setup()
    try:
        # As runserver does: a configuration that cannot work stops the start (several
        # workers without Redis, a typo in [vahva]...); warnings are printed.
        call_command("check")
    except SystemCheckError as exc:
        print(exc, file=sys.stderr)
        return 1
    workers = int(settings.SERVE_WORKERS)
    if workers > 1 and "MALLOC_ARENA_MAX" not in os.environ:
        # Workers are new processes (spawned): they read the cap from their environment.
        os.environ["MALLOC_ARENA_MAX"] = "2"
    if workers > 1 and not any(name in os.environ for name in MALLOC_THRESHOLDS):
        os.environ.update(MALLOC_THRESHOLDS)
    if workers > 1:
        prepare_metrics_dir(Path(settings.DATA_DIR))
    limit_malloc_arenas()
    keep_hash_memory()
    import uvicorn

    from vahva.logs import uvicorn_log_config

    uvicorn.run(
        "vahva.asgi:application",
        host=args.host,
        port=args.port,
        workers=workers,
        lifespan="off",
        log_level="info",
        log_config=uvicorn_log_config(),  # JSON lines, as vahva's own (vahva.logs)
        proxy_headers=False,  # X-Forwarded-For is decided by vahva's trusted-proxy setting
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    return 0


def authenticator(argv: list[str]) -> int:
    """``vahva authenticator``: the app as a client of a (usually remote) server's device API.

    It runs on a person's desktop, where there is no server: no configuration file, no
    secret key, no database. Django is set up with nothing but what the command needs (its
    argument parser and output); the device's key and accounts live in ``--state`` only.
    """
    from django.conf import settings

    if not settings.configured:
        # Never the server's settings: they would ask for the server's secrets (issue #16),
        # and a client has no business reading them.
        settings.configure(USE_I18N=False, USE_TZ=True, INSTALLED_APPS=[])
    import django

    django.setup()
    from vahva.authenticator.management.commands.authenticator import Command

    Command().run_from_argv(["vahva", "authenticator", *argv])
    return 0


_ALIASES = {
    "rotate-keys": "rotate_keys",
    "rotate-signing-key": "rotate_signing_key",
    "validate-client": "validate_client",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["init"]:
        return init(args[1:])
    if args[:1] == ["authenticator"]:
        return authenticator(args[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vahva.settings.main")
    if args[:1] == ["serve"]:
        return serve(args[1:])
    if args:
        args[0] = _ALIASES.get(args[0], args[0])
    from django.core.management import execute_from_command_line

    execute_from_command_line(["vahva", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
