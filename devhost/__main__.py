"""`python -m devhost [--app-dir DIR] [--settings FILE] [--port 7071] [--host 127.0.0.1] [--module function_app]`

Loads `local.settings.json` into the environment (variables already set win), imports the
app, and serves it until Ctrl+C or SIGTERM, then stops cleanly: no new work, running
invocations get a few seconds, clients are closed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from devhost.catalog import load_function_app
from devhost.host import Host
from devhost.host_config import HostConfig
from devhost.settings import load_local_settings

log = logging.getLogger("devhost")

DEFAULT_PORT = 7071


def main(argv: list[str] | None = None) -> int:
    options = _arguments().parse_args(argv)
    app_dir = Path(options.app_dir).resolve()
    try:
        config = HostConfig.read(app_dir)
    except ValueError as error:
        logging.basicConfig()
        log.error("%s", error)
        return 2
    _configure_logging(config.log_level)
    local = load_local_settings(app_dir, path=Path(options.settings).resolve() if options.settings else None)
    if local.overridden:
        log.info("Environment overrides local.settings.json for: %s", ", ".join(local.overridden))
    port = options.port if options.port is not None else (local.http_port or DEFAULT_PORT)
    try:
        app = load_function_app(app_dir, options.module)
    except Exception:
        log.exception("Could not load the app from %s (module %r)", app_dir, options.module)
        return 1
    try:
        asyncio.run(_serve(Host(app, app_dir, host=options.host, port=port)))
    except Exception as error:
        log.error("The host stopped: %s", error, exc_info=not isinstance(error, ValueError))
        return 1
    return 0


async def _serve(host: Host) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    await host.start()
    log.info("Host listening on %s (Ctrl+C to stop)", host.base_url)
    try:
        await stop.wait()
        log.info("Stopping: finishing running invocations")
    finally:
        await host.stop()


def _configure_logging(level: int) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("azure").setLevel(max(level, logging.WARNING))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devhost", description="Run the Functions app locally, as Azure would."
    )
    parser.add_argument("--app-dir", default=".", help="folder with function_app.py, host.json")
    parser.add_argument("--module", default="function_app", help="module that defines `app`")
    parser.add_argument("--settings", default=None, help="settings file (default: APP_DIR/local.settings.json)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port to listen on (default: local.settings.json Host.LocalHttpPort, else {DEFAULT_PORT})",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
