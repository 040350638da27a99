#!/usr/bin/env python3
"""Runs moto server, the local AWS emulator, the way fargate-pipes needs it.

One launcher for `scripts/local-aws` and for the test harness, so the settings
below hold everywhere:

* IAM's AWS managed policies are loaded (the task execution role attaches one);
* every extension module in scripts/emulator_ext/ is loaded: `install()` adds
  operations moto lacks, `wrap(app)` puts a middleware in front (a protocol moto
  does not speak);
* with --exit-with-parent the server exits when its stdin closes, so a test
  binary that dies never leaves an emulator behind;
* with --faults the fault injector from tests/faults.py wraps the app.

It prints one line, `ready http://127.0.0.1:PORT`, once it accepts connections.
"""
import argparse
import importlib.util
import os
import pathlib
import sys
import threading

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_module(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--exit-with-parent", action="store_true")
    parser.add_argument("--faults", action="store_true",
                        help="put the fault injector of tests/faults.py in front (plans are POSTed to /_faults/plan)")
    args = parser.parse_args()

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    ext_dir = ROOT / "scripts" / "emulator_ext"
    extensions = [load_module(p) for p in sorted(ext_dir.glob("*.py"))] if ext_dir.is_dir() else []
    for ext in extensions:
        if hasattr(ext, "install"):
            ext.install()

    app = DomainDispatcherApplication(create_backend_app)
    for ext in extensions:
        if hasattr(ext, "wrap"):
            app = ext.wrap(app)
    if args.faults:
        app = load_module(ROOT / "tests" / "faults.py").FaultInjector(app)

    server = make_server(args.host, args.port, app, threaded=True)
    if args.exit_with_parent:
        def watch_stdin() -> None:
            sys.stdin.read()
            os._exit(0)

        threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"ready http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
