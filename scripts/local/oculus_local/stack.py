"""Bring the whole product up on 127.0.0.1 and take it down again.

Order matters only where one part needs another's address: moto first (everything talks to
it), the resources from the template, the inference server next (it imports the heavy engine
while the rest starts; it needs the data bucket's name), then the handlers, the API, the
SageMaker stand-in, the SQS poller and the web app. ``stop`` undoes it in reverse and ends
the one child process by its PID.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from .api import LocalApiGateway, discover_routes, read_api_settings
from .auth import JwksCache
from .event_sources import SqsPoller, discover_sqs_mappings
from .functions import LocalFunction, discover_functions
from .resources import LocalStack, ResourceBuilder
from .sagemaker_async import SageMakerAsyncStandIn, read_async_endpoints
from .supervisor import Supervisor
from .template import Resolver, load_template
from .web import WebApp

log = logging.getLogger("oculus_local")
MOTO_ACCOUNT_ID = "123456789012"  # moto's default account: ARNs it issues carry it
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class StackError(Exception):
    """The local stack cannot start; the message says why and what to do."""


@dataclass
class Ports:
    moto: int = 4566
    api: int = 3001
    inference: int = 8080
    web: int = 5173
    sagemaker: int = 4567

    def purposes(self) -> dict[str, int]:
        return {
            "moto (S3, DynamoDB, SNS, SQS, Cognito)": self.moto,
            "the HTTP API": self.api,
            "the inference server (oculus serve)": self.inference,
            "the web app": self.web,
            "the SageMaker async stand-in": self.sagemaker,
        }


@dataclass
class StackConfig:
    repo_root: Path
    ports: Ports = field(default_factory=Ports)
    host: str = "127.0.0.1"
    region: str = "us-east-1"
    stack_name: str = "oculus-local"
    demo_email: str = "demo@oculus.local"
    demo_password: str = "Oculus-demo-2024!"
    parameters: dict[str, str] = field(default_factory=dict)
    start_inference: bool = True
    inference_command: list[str] | None = None  # default: .venv/bin/oculus serve ...
    totalseg_home: Path | None = None

    @property
    def template_path(self) -> Path:
        return self.repo_root / "template.yaml"

    @property
    def state_dir(self) -> Path:
        return state_dir(self.repo_root)

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"


def state_dir(repo_root: Path) -> Path:
    """outputs.json, state.json and the inference log (OCULUS_LOCAL_STATE_DIR moves them)."""
    return Path(os.environ.get("OCULUS_LOCAL_STATE_DIR") or repo_root / ".oculus" / "local")


def ports_in_use(host: str, ports: Ports) -> list[str]:
    """A line per port another process already holds."""
    busy = []
    for purpose, port in ports.purposes().items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the servers do: a port left in TIME_WAIT by a previous run is free (on Linux
            # SO_REUSEADDR still refuses a port someone listens on).
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                busy.append(f"port {port} on {host} (for {purpose}) is already in use")
    return busy


def _serve_wsgi(app: Any, host: str, port: int, name: str) -> tuple[Any, threading.Thread]:
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return server, thread


class LocalOculus:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.moto: Any = None
        self.inference: subprocess.Popen | None = None
        self.supervisor: Supervisor | None = None
        self.servers: list[tuple[str, Any, threading.Thread]] = []
        self.poller: SqsPoller | None = None
        self.standin: SageMakerAsyncStandIn | None = None
        self.stack: LocalStack | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.outputs: dict[str, Any] = {}
        self.engine: dict[str, Any] = {}
        self.started_at = 0.0
        self._api_settings: Any = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.started_at = time.monotonic()
        cfg = self.config
        busy = ports_in_use(cfg.host, cfg.ports)
        if busy:
            raise StackError("cannot start: " + "; ".join(busy)
                             + ". Stop what uses it (another `oculus-local up`?) or choose other ports (see --help).")
        if not cfg.template_path.is_file():
            raise StackError(f"{cfg.template_path} does not exist: the local stack is built from it")
        self._start_moto()
        self._set_process_environment()
        self._create_resources()  # first: the engine publishes its capabilities to the bucket
        if cfg.start_inference:
            self._start_inference_server()
        self._create_demo_user()
        self._load_functions()
        self._start_api()
        self._start_sagemaker_standin()
        self._start_event_sources()
        self._write_outputs()
        self._publish_model_cards()
        self._start_web()
        if cfg.start_inference:
            self._wait_for_inference()
            self._supervise_inference()

    def stop(self) -> None:
        if self.supervisor:
            self.supervisor.stop()
        if self.poller:
            self.poller.stop()
        if self.standin:
            self.standin.stop()
        for _name, server, thread in reversed(self.servers):
            server.shutdown()
            thread.join(timeout=5)
        self.servers.clear()
        self._stop_inference_server()
        if self.moto:
            self.moto.stop()
            self.moto = None
        state = self.config.state_dir / "state.json"
        if state.is_file() and json.loads(state.read_text()).get("pid") == os.getpid():
            state.unlink()

    # --- parts ----------------------------------------------------------------------------------
    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        self.moto = ThreadedMotoServer(ip_address=self.config.host, port=self.config.ports.moto, verbose=False)
        self.moto.start()
        log.info("moto on %s", self.config.url(self.config.ports.moto))

    def _set_process_environment(self) -> None:
        """What every handler's boto3 sees: moto for AWS, the stand-in for SageMaker."""
        cfg = self.config
        os.environ.update(LOCAL_CREDENTIALS)
        os.environ.update({
            "AWS_DEFAULT_REGION": cfg.region,
            "AWS_REGION": cfg.region,
            "AWS_ENDPOINT_URL": cfg.url(cfg.ports.moto),
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": cfg.url(cfg.ports.sagemaker),
            "AWS_ENDPOINT_URL_SAGEMAKER": cfg.url(cfg.ports.sagemaker),
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
        })
        os.environ.pop("AWS_PROFILE", None)  # a developer's real profile must never be used

    def client(self, service: str) -> Any:
        cfg = self.config
        return boto3.client(
            service, region_name=cfg.region, endpoint_url=cfg.url(cfg.ports.moto),
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=BotoConfig(retries={"max_attempts": 2}),
        )

    def totalseg_home(self) -> Path:
        return self.config.totalseg_home or Path(
            os.environ.get("TOTALSEG_HOME_DIR") or self.config.repo_root / ".oculus" / "totalseg")

    def weights_dir(self) -> Path:
        return Path(os.environ.get("TOTALSEG_WEIGHTS_PATH") or self.totalseg_home() / "nnunet" / "results")

    def _start_inference_server(self) -> None:
        self.inference = self._spawn_inference()

    def _spawn_inference(self) -> subprocess.Popen:
        cfg = self.config
        command = cfg.inference_command or [
            str(Path(sys.executable).parent / "oculus"), "serve",
            "--host", cfg.host, "--port", str(cfg.ports.inference),
        ]
        env = {
            **os.environ,
            "TOTALSEG_HOME_DIR": str(self.totalseg_home()),
            "OCULUS_PORT": str(cfg.ports.inference),
            # as template.yaml's InferenceModel: the data bucket (capabilities go there)
            **({"OCULUS_BUCKET": self.stack.resolver.ref("DataBucket")} if self.stack else {}),
        }
        self.totalseg_home().mkdir(parents=True, exist_ok=True)
        log_path = cfg.state_dir / "inference.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log_file:
            # Its own session, so a Ctrl-C in this terminal reaches it only through us.
            process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                       cwd=cfg.repo_root, start_new_session=True)
        log.info("inference server pid %d (log: %s)", process.pid, log_path)
        return process

    def _supervise_inference(self) -> None:
        """Health-check the server and restart it when it dies, as SageMaker does its container."""
        assert self.inference
        self.supervisor = Supervisor(self._spawn_inference, self.config.url(self.config.ports.inference) + "/ping",
                                     on_restart=self._inference_restarted)
        self.supervisor.start(self.inference)

    def _inference_restarted(self, process: subprocess.Popen) -> None:
        self.inference = process
        self._write_state()

    def _stop_inference_server(self) -> None:
        if self.inference is None or self.inference.poll() is not None:
            return
        self.inference.terminate()
        try:
            self.inference.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.inference.kill()
            self.inference.wait(timeout=5)
        self.inference = None

    def _wait_for_inference(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        url = self.config.url(self.config.ports.inference) + "/ping"
        last = "no answer"
        while time.monotonic() < deadline:
            if self.inference is not None and self.inference.poll() is not None:
                raise StackError(f"the inference server exited with code {self.inference.returncode}; "
                                 f"see {self.config.state_dir / 'inference.log'}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                    self.engine = json.load(response)
                    return
            except urllib.error.HTTPError as exc:  # up, but says it cannot serve (yet)
                last = f"HTTP {exc.code}: {exc.read()[:300].decode('utf-8', 'replace')}"
                time.sleep(0.5)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise StackError(f"the inference server did not become ready at {url} within {timeout_s:.0f} s "
                         f"(last answer: {last}); see {self.config.state_dir / 'inference.log'}")

    def _create_resources(self) -> None:
        cfg = self.config
        template = load_template(cfg.template_path)
        resolver = Resolver(template, cfg.region, MOTO_ACCOUNT_ID, cfg.stack_name, self._parameters(template))
        self.stack = ResourceBuilder(resolver, self.client).build_all()
        log.info("created from template.yaml: %d resources (%d not needed locally)",
                 len(self.stack.created), len(self.stack.skipped))

    def _parameters(self, template: dict) -> dict[str, str]:
        """Explicit overrides; the web origin locally (CORS); stand-ins for deploy-only values."""
        params = dict(self.config.parameters)
        declared = template.get("Parameters") or {}
        if "AllowedOrigin" in declared:
            params.setdefault("AllowedOrigin", self.config.url(self.config.ports.web))
        for name, spec in declared.items():
            if "Default" not in spec and name not in params:
                params[name] = f"local-{name.lower()}"
                log.info("parameter %s has no default; locally it is %r (only AWS resources use it)", name, params[name])
        return params

    def _publish_model_cards(self) -> None:
        """The shipped classifiers' version indexes and cards, where MODEL_INDEX_URI points on AWS
        (deploy puts them there)."""
        bucket = self.outputs.get("DataBucketName")
        models = self.config.repo_root / "sagemaker" / "oculus" / "models"
        if not bucket or not models.is_dir():
            return
        s3 = self.client("s3")
        for doc in sorted([*models.glob("*/versions.json"), *models.glob("*/*/card.json")]):
            key = f"models/{doc.relative_to(models).as_posix()}"
            s3.put_object(Bucket=bucket, Key=key, Body=doc.read_bytes(), ContentType="application/json")
            log.info("model document published to s3://%s/%s", bucket, key)

    def _user_pool_id(self) -> str:
        assert self.stack
        pools = self.stack.of_type("AWS::Cognito::UserPool")
        if len(pools) != 1:
            raise StackError(f"template.yaml must define exactly one Cognito user pool, found {len(pools)}")
        return self.stack.resolver.refs[pools[0]]

    def _create_demo_user(self) -> None:
        add_user(self.client("cognito-idp"), self._user_pool_id(), self.config.demo_email, self.config.demo_password)

    def _load_functions(self) -> None:
        assert self.stack
        self.functions = discover_functions(self.stack.resolver.template, self.stack.resolver, self.config.repo_root)
        for function in self.functions.values():
            function.load()  # cold starts now, so a broken handler stops the start-up loudly
        log.info("handlers loaded: %s", ", ".join(sorted(self.functions)))

    def _start_api(self) -> None:
        assert self.stack
        cfg = self.config
        apis = read_api_settings(self.stack.resolver.template, self.stack.resolver)
        routes = discover_routes(self.functions, apis)
        if not routes:
            raise StackError("template.yaml defines no Api events: nothing to serve")
        used = {id(r.function) for r in routes}
        api_ids = [k for k in apis if k is not None]
        settings = apis[api_ids[0]] if len(api_ids) == 1 else apis[None]
        self._api_settings = settings
        if settings.cors_preflight_needs_auth:
            log.warning("the API's default authorizer also guards CORS preflight (AddDefaultAuthorizerToCorsPreflight "
                        "is not false): browsers will get 401 on OPTIONS, here as on AWS")
        gateway = LocalApiGateway(routes, settings, JwksCache(cfg.url(cfg.ports.moto)), cfg.region,
                                  MOTO_ACCOUNT_ID, f"{cfg.host}:{cfg.ports.api}")
        self._serve("api", gateway, cfg.ports.api)
        log.info("API on %s: %d routes over %d functions", cfg.url(cfg.ports.api), len(routes), len(used))

    def _start_sagemaker_standin(self) -> None:
        assert self.stack
        cfg = self.config
        endpoints = read_async_endpoints(self.stack.resolver.template, self.stack.properties, self.stack.resolver.refs)
        if not endpoints:
            raise StackError("template.yaml defines no SageMaker endpoint with an AsyncInferenceConfig")
        self.standin = SageMakerAsyncStandIn(endpoints, cfg.url(cfg.ports.inference), self.client("s3"),
                                             self.client("sns"), cfg.region, MOTO_ACCOUNT_ID)
        self.standin.start()
        self._serve("sagemaker", self.standin, cfg.ports.sagemaker)

    def _start_event_sources(self) -> None:
        assert self.stack
        r = self.stack.resolver
        queue_urls = {r.attrs[(lid, "Arn")]: r.refs[lid] for lid in self.stack.of_type("AWS::SQS::Queue")}
        mappings = discover_sqs_mappings(self.functions, r, queue_urls)
        self.poller = SqsPoller(mappings, self.client("sqs"), self.config.region)
        self.poller.start()

    def _stage(self) -> str:
        return self._api_settings.stage if self._api_settings else "prod"

    def _start_web(self) -> None:
        cfg = self.config
        self._serve("web", WebApp(cfg.repo_root / "frontend" / "dist", self.outputs), cfg.ports.web)

    def _serve(self, name: str, app: Any, port: int) -> None:
        server, thread = _serve_wsgi(app, self.config.host, port, name)
        self.servers.append((name, server, thread))

    # --- outputs ------------------------------------------------------------------------------
    def _write_outputs(self) -> None:
        assert self.stack
        cfg = self.config
        r = self.stack.resolver
        outputs: dict[str, Any] = {}
        for key, spec in (r.template.get("Outputs") or {}).items():
            if spec.get("Condition") and not r.condition(spec["Condition"]):
                continue
            outputs[key] = r.resolve(spec["Value"])
        outputs.update({
            # API Gateway's stage URL on AWS; this server, with the same stage path, here.
            "ApiUrl": f"{cfg.url(cfg.ports.api)}/{self._stage()}/",
            "Region": cfg.region,
            "CognitoEndpoint": cfg.url(cfg.ports.moto),
            # moto answers SRP without checking the proof (any password would sign in), so the
            # web app signs in with USER_PASSWORD_AUTH here; on AWS it uses SRP (the default).
            "AuthFlow": "USER_PASSWORD_AUTH",
            "MotoEndpoint": cfg.url(cfg.ports.moto),
            "WebUrl": cfg.url(cfg.ports.web),
            "InferenceUrl": cfg.url(cfg.ports.inference),
            "SageMakerRuntimeEndpoint": cfg.url(cfg.ports.sagemaker),
        })
        self.outputs.update(outputs)
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        (cfg.state_dir / "outputs.json").write_text(json.dumps(outputs, indent=2) + "\n")
        self._write_state()

    def _write_state(self) -> None:
        cfg = self.config
        (cfg.state_dir / "state.json").write_text(json.dumps({
            "pid": os.getpid(), "inferencePid": self.inference.pid if self.inference else None,
            "inferenceRestarts": self.supervisor.restarts if self.supervisor else 0,
            "ports": vars(cfg.ports), "host": cfg.host,
        }, indent=2) + "\n")

    # --- the banner ---------------------------------------------------------------------------
    def engine_line(self) -> str:
        segmentation = self.engine.get("segmentation") or {}
        if not self.engine:
            return "engine: inference server not started"
        if segmentation.get("default") == "totalsegmentator":
            return f"engine: TotalSegmentator weights found in {self.weights_dir()}: totalseg jobs run TotalSegmentator on the CPU"
        return (f"engine: TotalSegmentator weights not found in {self.weights_dir()}: totalseg jobs run the "
                "threshold engine (copy the weights there and restart to use TotalSegmentator)")

    def banner(self) -> str:
        cfg = self.config
        o = self.outputs
        lines = [
            "IRIS Oculus is running locally (no AWS account involved)",
            f"  web app     {o['WebUrl']}" + ("" if (cfg.repo_root / "frontend/dist/index.html").is_file()
                                               else "  (not built: only /config.json is served)"),
            f"  API         {o['ApiUrl']}",
            f"  inference   {o['InferenceUrl']}",
            f"  AWS (moto)  {o['MotoEndpoint']}   region {cfg.region}",
            f"  outputs     {cfg.state_dir / 'outputs.json'}",
            f"  demo user   {cfg.demo_email} / {cfg.demo_password}",
            "  more users  scripts/oculus-local add-user EMAIL PASSWORD",
            f"  {self.engine_line()}",
            f"  started in {time.monotonic() - self.started_at:.1f} s; Ctrl-C stops everything",
        ]
        return "\n".join(lines)


def add_user(cognito: Any, pool_id: str, email: str, password: str) -> None:
    """A confirmed user with a permanent password (no first-login challenge)."""
    try:
        cognito.admin_create_user(
            UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        )
    except cognito.exceptions.UsernameExistsException:
        pass
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
