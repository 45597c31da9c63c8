"""`python -m digits` / `digits-devserver`: start the server."""
import argparse
import os
import sys


def parse_args(argv=None):
    from digits import __version__
    parser = argparse.ArgumentParser(prog="digits-devserver", description="Run the DIGITS training server.",
                                     epilog="`digits-devserver users --help`: accounts for DIGITS_AUTH=password.")
    parser.add_argument("-p", "--port", type=int, default=None,
                        help="port to listen on (default $DIGITS_PORT or 5000)")
    parser.add_argument("--host", default=os.environ.get("DIGITS_HOST", "0.0.0.0"),
                        help="address to listen on (default 0.0.0.0; use 127.0.0.1 for this machine only)")
    parser.add_argument("--jobs-dir", default=None, help="where jobs live (default $DIGITS_JOBS_DIR or ~/.digits/jobs)")
    parser.add_argument("-d", "--debug", action="store_true", help="debug logging and tracebacks")
    parser.add_argument("--version", action="version", version=f"DIGITS {__version__}")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["users"]:
        from digits.users_cli import main as users_main
        return users_main(argv[1:])
    args = parse_args(argv)
    # gevent must patch the standard library before anything opens sockets or threads.
    from gevent import monkey
    monkey.patch_all()
    import logging
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from digits import assets
    from digits.config import ConfigError
    from digits.webapp import create_app
    overrides = {"async_mode": "gevent"}
    if args.jobs_dir:
        overrides["jobs_dir"] = args.jobs_dir
    try:
        app = create_app(overrides)
    except ConfigError as exc:
        print(f"digits-devserver: {exc}", file=sys.stderr)
        return 2
    if args.port is None:
        args.port = app.extensions["digits"]["config"]["port"]
    if assets.missing():
        logging.warning("front-end assets missing (%s): run `npm ci` in the source tree", ", ".join(assets.missing()))
    from gevent import pywsgi
    server = pywsgi.WSGIServer(_listener(args.host, args.port), app, log="default" if args.debug else None)
    print(f"DIGITS serving on http://{args.host}:{args.port}/ (jobs in {app.extensions['digits']['config']['jobs_dir']})",
          flush=True)
    try:
        server.serve_forever()
    finally:
        app.extensions["digits"]["scheduler"].stop()
    return 0


def _listener(host, port):
    """The listening socket, with TCP_NODELAY (inherited by accepted connections on Linux): without it
    Nagle's algorithm and delayed ACKs add ~40 ms to every request on a kept-alive connection."""
    import socket
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


if __name__ == "__main__":
    sys.exit(main())
