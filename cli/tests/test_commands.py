"""The pure parts of the commands, and the exit codes of runs that need no gateway."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import httpx
import pytest

from bodhi_cli.commands.chat import delta_text
from bodhi_cli.commands.models import alias_path, request_params
from bodhi_cli.errors import ApiError, CliError
from bodhi_cli.gateway import api_error
from bodhi_cli.main import parser, run


def run_cli(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, env, out, err)
    return code, out.getvalue(), err.getvalue()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_params_are_typed_and_stop_collects() -> None:
    assert request_params(["temperature=0.5", "max_tokens=64", "stop=</s>", "stop=x=y"]) == {
        "temperature": 0.5, "max_tokens": 64, "stop": ["</s>", "x=y"],
    }  # fmt: skip
    for bad in ("temperature", "colour=red", "seed=1.5"):
        with pytest.raises(CliError) as raised:
            request_params([bad])
        assert raised.value.exit_code == 2


def test_alias_paths_keep_the_colon_and_escape_the_rest() -> None:
    assert alias_path("llama3:instruct") == "/bodhi/v1/models/llama3:instruct"
    assert alias_path("a/b c") == "/bodhi/v1/models/a%2Fb%20c"


def test_chunks_give_their_text_and_an_error_chunk_raises() -> None:
    assert delta_text({"choices": [{"delta": {"content": "hi"}}]}) == "hi"
    assert delta_text({"choices": [{"delta": {"role": "assistant"}}]}) == ""
    assert delta_text({"choices": []}) == ""
    with pytest.raises(ApiError, match=r"^gone \(upstream_unreachable\)$"):
        delta_text({"error": {"message": "gone", "code": "upstream_unreachable"}})


def test_the_error_envelope_becomes_message_and_code() -> None:
    body = {"error": {"message": "no such model", "type": "x", "code": "model_not_found"}}
    assert api_error(httpx.Response(404, json=body)).message == "no such model (model_not_found)"
    assert api_error(httpx.Response(502, text="<html>")).message == "HTTP 502 Bad Gateway"


def test_json_is_accepted_before_and_after_the_command() -> None:
    assert parser().parse_args(["--json", "models"]).json is True
    assert parser().parse_args(["models", "--json"]).json is True
    assert parser().parse_args(["models"]).json is False


def test_a_gateway_that_is_not_there_exits_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    env = {"BODHI_URL": url, "BODHI_TOKEN": "bodhiapp_x", "BODHI_CONFIG": str(tmp_path / "c")}
    code, out, err = run_cli("models", env=env)
    assert (code, out, err) == (3, "", f"bodhi: cannot reach the gateway at {url}\n")


def test_without_a_token_or_with_usage_errors_exits_2(tmp_path: Path) -> None:
    env = {"BODHI_CONFIG": str(tmp_path / "c")}
    code, _, err = run_cli("models", env=env)
    assert (code, err.startswith("bodhi: no API token")) == (2, True)
    code, _, err = run_cli("alias", "create", "a", "r/x", "f", "--param", "nope=1", env=env)
    assert code == 2
    with pytest.raises(SystemExit) as raised:  # argparse's own usage errors
        parser().parse_args(["pull"])
    assert raised.value.code == 2


def test_tokens_commands_explain_they_need_a_browser_session(tmp_path: Path) -> None:
    env = {"BODHI_CONFIG": str(tmp_path / "c"), "BODHI_TOKEN": "bodhiapp_x"}
    for action in ("list", "create", "delete"):
        code, out, err = run_cli("tokens", action, env=env)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert "browser session" in err
        assert "bodhiapp_x" not in err


def test_login_writes_an_owner_only_file_and_prints_no_token(tmp_path: Path) -> None:
    path = tmp_path / "bodhi" / "config.toml"
    env = {"BODHI_CONFIG": str(path)}
    code, out, err = run_cli("login", "--token", "bodhiapp_t", "--url", "http://h:9/", env=env)
    assert (code, err) == (0, "")
    assert "bodhiapp_t" not in out
    assert path.stat().st_mode & 0o777 == 0o600
    assert 'url = "http://h:9"' in path.read_text()
