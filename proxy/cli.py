"""The ``intentgate`` command: serve, demo-shop, bench, fit, import, evaluate, lift.

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

from proxy.config import ConfigError, Settings, load_settings

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    from proxy.app import VERSION

    p = _Parser(prog="intentgate", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"intentgate {VERSION}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("serve", help="serve the proxy in front of an upstream")
    s.add_argument("--upstream", help="origin base URL, e.g. http://127.0.0.1:8081")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)
    s.add_argument("--config", help="TOML config file")
    s.add_argument("--expose-headers", action="store_const", const=True, default=None,
                   help="also add X-Intent-* headers to responses")
    s.add_argument("--model", help="model artifact to serve (JSON)")
    s.add_argument("--model-dir", help="directory of model versions")
    s.add_argument("--store", choices=("memory", "redis"))
    s.add_argument("--redis-url")
    s.add_argument("--preset", help="storefront route preset (auto, shopify, magento, ...)")
    s.add_argument("--admin-token")
    s.add_argument("--admin-listen", help='admin surface "host:port" (default 127.0.0.1:9180), '
                   'or "public" for the shoppers\' port')
    s.add_argument("--record-events", action="store_const", const=True, default=None)
    s.add_argument("--record-dir")
    s.add_argument("--data-dir")
    s.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"))
    s.add_argument("--passthrough", action="store_const", const=True, default=None,
                   help=argparse.SUPPRESS)

    d = sub.add_parser("demo-shop", help="serve the bundled demo storefront")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8081)

    b = sub.add_parser("bench", help="benchmark against nginx and a bare passthrough",
                       add_help=False)
    b.add_argument("args", nargs=argparse.REMAINDER)

    for name, helptext in (
        ("fit", "fit a model from event JSONL or access logs"),
        ("import", "convert a real dataset into event JSONL"),
        ("evaluate", "purchase rate by class for a model"),
        ("lodo", "leave-one-dataset-out report over ../shared/data"),
        ("fit-bundled", "rebuild the bundled model from ../shared/data"),
        ("lift", "treatment vs holdout conversion by class (API or recorded events)"),
    ):
        c = sub.add_parser(name, help=helptext, add_help=False)
        c.add_argument("args", nargs=argparse.REMAINDER)
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
    from proxy.admin_listener import serve as serve_listeners
    from proxy.server import ServerLimits, uvicorn_kwargs

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

    from proxy.demo_shop import create_demo_shop

    uvicorn.run(create_demo_shop(), host=args.host, port=args.port, log_level="warning",
                proxy_headers=False)
    return 0


_PASSTHROUGH = ("bench", "fit", "import", "evaluate", "lodo", "fit-bundled", "lift")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Subcommands with their own parsers get their arguments untouched.
    if argv and argv[0] in _PASSTHROUGH:
        if argv[0] == "bench":
            from proxy.bench import main as bench_main

            return bench_main(argv[1:])
        if argv[0] == "lift":
            from proxy.lift_cli import main as lift_main

            return lift_main(argv[1:])
        from proxy import offline

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
        from proxy.bench import main as bench_main

        return bench_main(args.args)
    if args.command in ("fit", "import", "evaluate", "lodo", "fit-bundled"):
        from proxy import offline

        return offline.main(args.command, args.args)
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    raise SystemExit(main())
