"""``scripts/oculus-local``: run IRIS Oculus on this machine with no AWS account.

  up (default)              start everything; Ctrl-C / SIGTERM stops it
  add-user EMAIL PASSWORD   add a confirmed user to the running stack's user pool
  status                    show what is running and where

Ports (flag or environment variable): --moto-port/OCULUS_MOTO_PORT (4566),
--api-port/OCULUS_API_PORT (3001), --inference-port/OCULUS_INFERENCE_PORT (8080),
--web-port/OCULUS_WEB_PORT (5173), --sagemaker-port/OCULUS_SAGEMAKER_PORT (4567).
Demo user: OCULUS_DEMO_EMAIL / OCULUS_DEMO_PASSWORD.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from .stack import LocalOculus, Ports, StackConfig, StackError, add_user, state_dir
from .template import TemplateError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3
REPO_ROOT = Path(__file__).resolve().parents[3]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oculus-local", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--repo", type=Path, default=Path(os.environ.get("OCULUS_REPO", REPO_ROOT)), help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")
    up = sub.add_parser("up", help="start the local stack (default)")
    defaults = Ports()
    for name in ("moto", "api", "inference", "web", "sagemaker"):
        up.add_argument(f"--{name}-port", type=int, default=_env_int(f"OCULUS_{name.upper()}_PORT", getattr(defaults, name)))
    up.add_argument("--region", default=os.environ.get("OCULUS_REGION", "us-east-1"))
    up.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                    help="override a template parameter (repeatable)")
    up.add_argument("--no-inference", action="store_true", help="do not start the inference server")
    up.add_argument("-v", "--verbose", action="store_true", help="log every request and resource")
    add = sub.add_parser("add-user", help="add a confirmed user to the running stack")
    add.add_argument("email")
    add.add_argument("password")
    sub.add_parser("status", help="show the running stack's endpoints")
    return parser


def _outputs(repo: Path) -> dict:
    path = state_dir(repo) / "outputs.json"
    if not path.is_file():
        raise StackError(f"no running local stack ({path} is missing): start one with `scripts/oculus-local up`")
    return json.loads(path.read_text())


def cmd_up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not args.verbose:  # the few lines worth seeing without -v
        logging.getLogger("oculus_local.sagemaker").setLevel(logging.INFO)
    parameters = dict(p.split("=", 1) for p in args.parameter)
    config = StackConfig(
        repo_root=args.repo.resolve(),
        ports=Ports(args.moto_port, args.api_port, args.inference_port, args.web_port, args.sagemaker_port),
        region=args.region,
        demo_email=os.environ.get("OCULUS_DEMO_EMAIL", StackConfig.demo_email),
        demo_password=os.environ.get("OCULUS_DEMO_PASSWORD", StackConfig.demo_password),
        parameters=parameters,
        start_inference=not args.no_inference,
    )
    stack = LocalOculus(config)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stack.start()
        print(stack.banner(), flush=True)
        print("READY", flush=True)  # the line tests and scripts wait for
        stop.wait()
        print("stopping ...", flush=True)
        return EXIT_OK
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_add_user(args: argparse.Namespace) -> int:
    import boto3

    outputs = _outputs(args.repo)
    cognito = boto3.client("cognito-idp", region_name=outputs["Region"], endpoint_url=outputs["MotoEndpoint"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    add_user(cognito, outputs["UserPoolId"], args.email, args.password)
    print(f"user {args.email} can sign in at {outputs.get('WebUrl', outputs['ApiUrl'])}")
    return EXIT_OK


def _answers(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback
            return f"up (HTTP {response.status})"
    except urllib.error.HTTPError as exc:
        return f"up (HTTP {exc.code})"
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return f"DOWN ({getattr(exc, 'reason', exc)})"


def cmd_status(args: argparse.Namespace) -> int:
    outputs = _outputs(args.repo)
    checks = {
        "API": outputs["ApiUrl"].rstrip("/") + "/healthz",
        "inference": outputs["InferenceUrl"] + "/ping",
        "web": outputs["WebUrl"] + "/config.json",
        "moto": outputs["MotoEndpoint"] + "/moto-api/",
    }
    all_up = True
    for name, url in checks.items():
        state = _answers(url)
        all_up &= state.startswith("up")
        print(f"{name:<10} {url:<45} {state}")
    return EXIT_OK if all_up else EXIT_NOT_RUNNING


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["up", *(argv or sys.argv[1:])])
    try:
        return {"up": cmd_up, "add-user": cmd_add_user, "status": cmd_status}[args.command](args)
    except (StackError, TemplateError) as exc:
        print(f"oculus-local: {exc}", file=sys.stderr)
        return EXIT_FAILED
