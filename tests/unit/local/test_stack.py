"""Start-up refusals and the per-function environment of locally run handlers."""

from __future__ import annotations

import os
import socket
import textwrap

from oculus_local.cli import main
from oculus_local.functions import LocalFunction
from oculus_local.stack import Ports, ports_in_use


def _listening_socket() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_port_in_use_is_named_with_what_wanted_it():
    with _listening_socket() as busy:
        port = busy.getsockname()[1]
        ports = Ports(moto=_free_port(), api=port, inference=_free_port(), web=_free_port(), sagemaker=_free_port())
        problems = ports_in_use("127.0.0.1", ports)
    assert problems == [f"port {port} on 127.0.0.1 (for the HTTP API) is already in use"]


def test_up_refuses_to_start_on_a_busy_port(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OCULUS_LOCAL_STATE_DIR", str(tmp_path))
    with _listening_socket() as busy:
        port = busy.getsockname()[1]
        code = main(["up", "--moto-port", str(port), "--api-port", str(_free_port()),
                     "--inference-port", str(_free_port()), "--web-port", str(_free_port()),
                     "--sagemaker-port", str(_free_port())])
    assert code == 1
    err = capsys.readouterr().err
    assert f"port {port}" in err and "moto" in err
    assert not (tmp_path / "outputs.json").exists()


def test_status_without_a_running_stack_says_how_to_start_one(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OCULUS_LOCAL_STATE_DIR", str(tmp_path))
    assert main(["status"]) == 1
    assert "oculus-local up" in capsys.readouterr().err


def test_a_handler_runs_with_its_own_environment_and_siblings(tmp_path, monkeypatch):
    code = tmp_path / "fn"
    code.mkdir()
    (code / "helper.py").write_text("PREFIX = 'table:'\n")
    (code / "app.py").write_text(textwrap.dedent("""
        import os
        from helper import PREFIX
        LOADED_WITH = os.environ["TABLE_NAME"]

        def lambda_handler(event, context):
            return {"table": PREFIX + os.environ["TABLE_NAME"], "loaded": LOADED_WITH,
                    "function": context.function_name, "remaining": context.get_remaining_time_in_millis()}
    """))
    monkeypatch.setenv("TABLE_NAME", "outside")
    function = LocalFunction("Fn", "stack-Fn", "arn:fn", code, "app.lambda_handler",
                             {"TABLE_NAME": "jobs"}, timeout_s=29, memory_mb=512, events={})
    answer = function.invoke({})
    assert answer["table"] == "table:jobs" and answer["loaded"] == "jobs"
    assert answer["function"] == "stack-Fn"
    assert 0 < answer["remaining"] <= 29_000
    assert os.environ["TABLE_NAME"] == "outside"  # restored for everything else in the process
