"""The ``intentgate`` command: serve, demo-shop, bench, fit, import, evaluate, fit-bundled, lift,
routes.

Each flag is one settings field (``proxy.config``). A bad flag or value prints one line naming it
and exits with status 2. ``serve`` never imports scikit-learn: the fitting code is imported inside
its own subcommands.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from proxy.commands.parse import EXIT_USAGE, Parser, RawDescriptionFormatter, port_problem
from proxy.config import ConfigError, Settings, load_settings

DESCRIPTION = """\
intentgate: an inline reverse proxy that classifies online shoppers' sessions in real time and
tells the store with X-Intent-* request headers.

Start with: intentgate demo-shop & intentgate serve --upstream http://127.0.0.1:8081
Each command explains its options: intentgate COMMAND --help"""


def _default(name: str) -> str:
    """The settings default of ``name`` for a help text (flags override file and env)."""
    value = Settings.model_fields[name].default
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "on" if value else "off"
    return f" (default: {value})"


def _parser() -> argparse.ArgumentParser:
    from proxy.app import VERSION

    p = Parser(prog="intentgate", description=DESCRIPTION, formatter_class=RawDescriptionFormatter)
    p.add_argument("--version", action="version", version=f"intentgate {VERSION}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND",
                           title="commands")

    s = sub.add_parser("serve", help="serve the proxy in front of an upstream",
                       description="Serve the proxy in front of an upstream. Each flag overrides "
                       "the config file (--config) and INTENTGATE_* environment variables.")
    s.add_argument("--upstream", metavar="URL",
                   help="origin base URL, e.g. http://127.0.0.1:8081 (required)")
    s.add_argument("--host", help="address to listen on" + _default("host"))
    s.add_argument("--port", type=int, help="port to listen on" + _default("port"))
    s.add_argument("--workers", type=int,
                   help="worker processes; use --store redis with more than one"
                   + _default("workers"))
    s.add_argument("--config", metavar="FILE", help="TOML config file (default: none)")
    s.add_argument("--expose-headers", action="store_const", const=True, default=None,
                   help="also add X-Intent-* headers (and X-Intent-Skipped) to responses"
                   + _default("expose_headers"))
    s.add_argument("--model", metavar="FILE",
                   help="model artifact to serve (JSON) (default: the active version in "
                   "--model-dir, else the bundled model)")
    s.add_argument("--model-dir", metavar="DIR",
                   help="directory of model versions (default: DATA_DIR/models)")
    s.add_argument("--store", choices=("memory", "redis"),
                   help="where session and profile state lives" + _default("store"))
    s.add_argument("--redis-url", metavar="URL",
                   help="Redis for --store redis; redis+cluster:// for a Cluster"
                   + _default("redis_url"))
    s.add_argument("--preset", help="storefront route preset: auto, shopify, magento, "
                   "woocommerce, bigcommerce, sfra, generic, demo" + _default("preset"))
    s.add_argument("--admin-token", metavar="TOKEN",
                   help="bearer token of the admin API and merchandiser page (default: none, "
                   "the admin API is off)")
    s.add_argument("--admin-listen", metavar="HOST:PORT",
                   help='where the admin API and merchandiser page listen, or "public" for '
                   "the shoppers' port (default: 127.0.0.1:9180)")
    s.add_argument("--record-events", action="store_const", const=True, default=None,
                   help="record events as JSONL for `intentgate fit`"
                   + _default("record_events"))
    s.add_argument("--record-dir", metavar="DIR",
                   help="where recorded events go (default: DATA_DIR/events)")
    s.add_argument("--data-dir", metavar="DIR",
                   help="secret, models, audit log and events" + _default("data_dir"))
    s.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"),
                   help="log verbosity" + _default("log_level"))
    s.add_argument("--passthrough", action="store_const", const=True, default=None,
                   help=argparse.SUPPRESS)

    d = sub.add_parser("demo-shop", help="serve the bundled demo storefront")
    d.add_argument("--host", default="127.0.0.1", help="address to listen on")
    d.add_argument("--port", type=int, default=8081, help="port to listen on")

    for name, helptext in (
        ("bench", "benchmark against nginx and a bare passthrough"),
        ("fit", "fit a model from event JSONL or access logs"),
        ("import", "convert a real dataset into event JSONL"),
        ("evaluate", "purchase rate by class for a model"),
        ("lodo", "leave-one-dataset-out report over ../shared/data"),
        ("fit-bundled", "rebuild the bundled model from ../shared/data"),
        ("lift", "treatment vs holdout conversion by class (API or recorded events)"),
        ("routes", "suggest route rules from access logs; test a request against the rules"),
    ):
        c = sub.add_parser(name, help=helptext, add_help=False)
        c.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _die(message: str) -> NoReturn:
    print(f"intentgate: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _serve(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {
        k: getattr(args, k)
        for k in ("upstream", "host", "port", "workers", "expose_headers", "model", "model_dir",
                  "store", "redis_url", "preset", "admin_token", "admin_listen", "record_events",
                  "record_dir",
                  "data_dir", "log_level", "passthrough")
    }
    try:
        settings = load_settings(config_file=args.config, overrides=overrides)
    except ConfigError as exc:
        _die(str(exc))
    if settings.upstream is None:
        _die("--upstream is required (or upstream in the config file / INTENTGATE_UPSTREAM)")
    return serve(settings)


def serve(settings: Settings) -> int:
    from proxy.admin.listener import AdminListen, resolve
    from proxy.admin.listener import serve as serve_listeners
    from proxy.server import ServerLimits, uvicorn_kwargs

    # Checked before anything is built or loaded, so a taken port or a bad --model is one
    # line and exit 2 (the listeners are bound for real a moment later).
    listen = AdminListen.parse(resolve(settings).admin_listen)
    for host, port, flag in [(settings.host, settings.port, "--port")] + (
            [(listen.host, listen.port, "--admin-listen")] if listen is not None else []):
        problem = port_problem(host, port, flag)
        if problem is not None:
            _die(problem)
    if settings.model is not None:
        from classifiers.errors import ArtifactError
        from proxy.models import read_model_file

        try:
            read_model_file(settings.model)
        except ArtifactError as exc:
            _die(str(exc))
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    kwargs = uvicorn_kwargs(ServerLimits.from_settings(settings))
    kwargs.update(host=settings.host, port=settings.port, log_level=settings.log_level,
                  access_log=False)
    if settings.workers > 1 and settings.store == "memory":
        logging.getLogger("intentgate").warning(
            "%d workers with the memory store: each worker sees only the requests it "
            "serves, so a shopper's history is split between them; use --store redis",
            settings.workers)
    # Both listeners (shoppers', admin) are bound here and served by every worker.
    return serve_listeners(settings, kwargs)


def _demo_shop(args: argparse.Namespace) -> int:
    import uvicorn

    try:
        from proxy.demo_shop import create_demo_shop
    except ImportError as exc:  # starlette is the `demo` extra: the serving path does not need it
        _die(f"the demo storefront needs {exc.name or 'starlette'}: "
             "pip install 'intentgate[demo]' (or pip install starlette)")
    problem = port_problem(args.host, args.port)
    if problem is not None:
        _die(problem)
    uvicorn.run(create_demo_shop(), host=args.host, port=args.port, log_level="warning",
                proxy_headers=False)
    return 0


_PASSTHROUGH = ("bench", "fit", "import", "evaluate", "lodo", "fit-bundled", "lift", "routes")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Subcommands with their own parsers get their arguments untouched.
    if argv and argv[0] in _PASSTHROUGH:
        if argv[0] == "bench":
            from proxy.bench.run import main as bench_main

            return bench_main(argv[1:])
        if argv[0] == "lift":
            from proxy.commands.lift import main as lift_main

            return lift_main(argv[1:])
        if argv[0] == "routes":
            from proxy.commands.routes import main as routes_main

            return routes_main(argv[1:])
        from proxy.commands import offline

        return offline.main(argv[0], argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo-shop":
        return _demo_shop(args)
    if args.command == "bench":
        from proxy.bench.run import main as bench_main

        return bench_main(args.args)
    if args.command in ("fit", "import", "evaluate", "lodo", "fit-bundled"):
        from proxy.commands import offline

        return offline.main(args.command, args.args)
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    raise SystemExit(main())
