"""Issue 7's command line against a real stack: a power user with an API token lists models,
registers a provider, chats, pulls a file from a (local, real) Hub with live progress, stops
watching with Ctrl-C and picks the download up again, and names the file with an alias; errors
are one line with the right exit code, and the token is never printed."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PROVIDER_KEY, cache_gguf, launch

from bodhi_devstack.hub import LocalHub
from bodhi_devstack.stack import Stack
from bodhi_devstack.upstream import Behaviour, LocalUpstream
from bodhi_e2e.client import BodhiClient

MiB = 1024 * 1024
CACHED = ("acme/cached-GGUF", "cached.Q4_0.gguf")
ONE_ERROR_LINE = re.compile(r"bodhi: [^\n]+ \((?P<code>[a-z_]+)\)\n")


def error_code(done: subprocess.CompletedProcess[str]) -> str:
    """The code of the one error line `bodhi` printed (exit code 1)."""
    line = ONE_ERROR_LINE.fullmatch(done.stderr)
    assert line is not None, done.stderr
    assert done.returncode == 1, done
    return line["code"]


class Cli:
    """Runs `bodhi` as a user would, as a subprocess with BODHI_URL/BODHI_TOKEN; every output
    is checked for the secrets it must never print."""

    def __init__(self, url: str, token: str | None, config: Path, secrets: set[str]) -> None:
        self.url, self.token, self.config, self.secrets = url, token, config, secrets

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BODHI_")}
        env |= {"BODHI_URL": self.url, "BODHI_CONFIG": str(self.config), **more}
        if self.token is not None:
            env.setdefault("BODHI_TOKEN", self.token)
        return env

    def __call__(
        self, *args: str, stdin: str = "", script: bool = False, **env: str
    ) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).parent / "bodhi")] if script else [
            sys.executable, "-m", "bodhi_cli",
        ]  # fmt: skip
        done = subprocess.run(
            [*command, *args], env=self.env(**env), input=stdin, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        self.check_secrets(done.stdout + done.stderr)
        return done

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """A running `bodhi` whose output is read as it comes."""
        command = [sys.executable, "-m", "bodhi_cli", *args]
        return subprocess.Popen(
            command, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def check_secrets(self, output: str) -> None:
        leaked = [secret[:12] for secret in self.secrets if secret in output]
        assert leaked == [], f"printed a secret: {leaked}"


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    with LocalHub() as local_hub:
        yield local_hub


@pytest.fixture(scope="module")
def cli_stack(
    pg_server: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory, hub: LocalHub
) -> Iterator[Stack]:
    """A stack of its own (pulls go to the local Hub; nothing here shows in other modules)."""
    data_dir = tmp_path_factory.mktemp("cli")
    with launch(pg_server, redis_server, data_dir, env={"HF_ENDPOINT": hub.url}) as stack:
        cache_gguf(stack, *CACHED)
        yield stack


@pytest.fixture(scope="module")
def owner(cli_stack: Stack) -> Iterator[BodhiClient]:
    client = BodhiClient(cli_stack.gateway_url)
    assert client.setup("Command line journeys").status_code == 200
    client.login_as("admin")
    yield client
    client.close()


@pytest.fixture(scope="module")
def token(owner: BodhiClient) -> str:
    return owner.create_token("scope_token_power_user", "cli e2e")


@pytest.fixture
def bodhi(cli_stack: Stack, token: str, tmp_path: Path) -> Cli:
    return Cli(cli_stack.gateway_url, token, tmp_path / "config.toml", {token, PROVIDER_KEY})


def test_models_lists_cached_files_and_json_is_for_scripts(bodhi: Cli) -> None:
    shown = bodhi("models")
    assert shown.returncode == 0, shown.stderr
    assert f"{CACHED[0]}:Q4_0" in shown.stdout
    assert shown.stdout.startswith("NAME ")  # a table for people...
    listed = json.loads(bodhi("models", "--json").stdout)  # ...JSON for scripts
    assert {(m["alias"], m["source"]) for m in listed["data"]} >= {(f"{CACHED[0]}:Q4_0", "model")}
    assert listed["total"] == len(listed["data"])
    assert json.loads(bodhi("--json", "models").stdout) == listed


def test_api_models_are_created_listed_tested_and_deleted_without_showing_the_key(
    bodhi: Cli, provider: LocalUpstream
) -> None:
    created = bodhi(
        "api-models", "create", "--base-url", provider.url, "--api-key-env", "CLI_KEY",
        "--model", "gpt-e2e", "--model", "embed-e2e", "--prefix", "cli/", "--json",
        CLI_KEY=PROVIDER_KEY,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    model = json.loads(created.stdout)
    assert (model["api_key_masked"], model["prefix"]) == ("sk-...cdef", "cli/")

    table = bodhi("api-models", "list")
    assert model["id"] in table.stdout
    assert "sk-...cdef" in table.stdout
    assert "cli/gpt-e2e" in bodhi("models").stdout
    tested = bodhi("api-models", "test", model["id"], "gpt-e2e", "--prompt", "ping")
    assert (tested.returncode, tested.stdout) == (0, "echo: ping\n")

    assert bodhi("api-models", "delete", model["id"]).returncode == 0
    listed = json.loads(bodhi("api-models", "list", "--json").stdout)
    assert model["id"] not in [m["id"] for m in listed["data"]]
    assert error_code(bodhi("api-models", "delete", model["id"])) == "api_model_not_found"


def delta(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or [{}]
    return str(choices[0].get("delta", {}).get("content") or "")


@pytest.fixture(scope="module")
def chat_model(owner: BodhiClient, provider: LocalUpstream) -> Iterator[str]:
    """The provider registered with prefix "chat/", and a model that streams slowly."""
    body = {"base_url": provider.url, "api_key": PROVIDER_KEY, "prefix": "chat/",
            "models": ["gpt-e2e", "slow-cli"]}  # fmt: skip
    created = owner.http.post("/bodhi/v1/api-models", json=body)
    assert created.status_code == 201, created.text
    provider.behave("slow-cli", Behaviour(chunks=5, chunk_delay=0.3))
    yield "chat/gpt-e2e"
    owner.http.delete(f"/bodhi/v1/api-models/{created.json()['id']}")


def test_chat_prints_the_reply_from_an_argument_or_stdin(bodhi: Cli, chat_model: str) -> None:
    said = bodhi("chat", chat_model, "hello there")
    assert (said.returncode, said.stdout) == (0, "echo: hello there\n"), said.stderr
    piped = bodhi("chat", chat_model, stdin="from a pipe\n")
    assert piped.stdout == "echo: from a pipe\n"
    lines = bodhi("chat", chat_model, "hi", "--json").stdout.splitlines()
    chunks = [json.loads(line) for line in lines]  # one JSON chunk per line
    assert "".join(delta(chunk) for chunk in chunks) == "echo: hi"
    unknown = bodhi("chat", "no-such-model", "hi")
    assert error_code(unknown) == "model_not_found"


def test_chat_streams_tokens_as_they_arrive(bodhi: Cli, chat_model: str) -> None:
    running = bodhi.start("chat", "chat/slow-cli", "one two three four five")
    assert running.stdout is not None
    first = os.read(running.stdout.fileno(), 100)
    first_at = time.monotonic()
    rest = running.stdout.read()
    ended_at = time.monotonic()
    assert running.wait(10) == 0
    assert (first + rest).decode() == "echo: one two three four five\n"
    assert first  # more than one piece...
    assert rest
    assert ended_at - first_at > 0.6  # ...and the first was shown while the others were coming


def progress_lines(stderr: str, filename: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"{filename}: ")]


def test_a_pull_shows_progress_and_completes(bodhi: Cli, hub: LocalHub, owner: BodhiClient) -> None:
    repo, filename = "acme/cli-GGUF", "cli.Q8_0.gguf"
    file = hub.add_gguf(repo, filename, name="cli", pad_to=6 * MiB)
    hub.fault(repo, filename, throttle=2 * MiB)  # ~3 s: several steps of progress to show
    pulled = bodhi("pull", repo, filename)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout == f"pulled {repo}/{filename}\n"
    lines = progress_lines(pulled.stderr, filename)
    assert lines[-1] == f"{filename}: completed 100% 6.0 MiB / 6.0 MiB", pulled.stderr
    percents = [int(line.split()[2].rstrip("%")) for line in lines[:-1]]
    assert len(percents) >= 2, pulled.stderr  # seen in flight
    assert any(0 < percent < 100 for percent in percents), pulled.stderr
    assert percents == sorted(percents)
    files = owner.http.get("/bodhi/v1/modelfiles").json()["data"]
    assert {(f["repo"], f["filename"], f["size"]) for f in files} >= {(repo, filename, file.size)}

    again = bodhi("pull", repo, filename)
    assert error_code(again) == "file_already_exists"
    missing = bodhi("pull", "acme/not-on-the-hub", "x.gguf")  # the Hub says no while pulling
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[-1].endswith("(hub_repo_not_found)"), missing.stderr


def test_ctrl_c_stops_watching_and_pulling_again_follows_the_same_download(
    bodhi: Cli, hub: LocalHub
) -> None:
    repo, filename = "acme/interrupt-GGUF", "interrupt.Q8_0.gguf"
    hub.add_gguf(repo, filename, name="interrupt", pad_to=8 * MiB)
    hub.fault(repo, filename, throttle=1 * MiB)
    watching = bodhi.start("pull", repo, filename)
    assert watching.stderr is not None
    first = watching.stderr.readline().decode()  # the first progress line: it is watching
    assert first.startswith(f"{filename}: pending"), first
    watching.send_signal(signal.SIGINT)
    assert watching.wait(10) == 130
    note = watching.stderr.read().decode()
    bodhi.check_secrets(note)
    download_id = re.search(r"download (\S+) goes on", note)
    assert download_id is not None, note

    hub.fault(repo, filename)  # full speed now
    joined = bodhi("pull", repo, filename, "--json")
    assert joined.returncode == 0, joined.stderr
    final = json.loads(joined.stdout)
    assert (final["id"], final["status"]) == (download_id[1], "completed")
    assert final["downloaded_bytes"] == final["total_bytes"] == 8 * MiB


def test_aliases_are_created_updated_and_deleted(bodhi: Cli, owner: BodhiClient) -> None:
    repo, filename = CACHED
    created = bodhi(
        "alias", "create", "cli:chat", repo, filename, "--param", "temperature=0.2",
        "--param", "stop=</s>", "--context-params=--ctx-size 512",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    shown = owner.http.get("/bodhi/v1/models/cli:chat").json()
    assert shown["request_params"] == {"temperature": 0.2, "stop": ["</s>"]}
    assert shown["context_params"] == ["--ctx-size", "512"]
    twice = bodhi("alias", "create", "cli:chat", repo, filename)
    assert error_code(twice) == "alias_exists"

    updated = bodhi("alias", "update", "cli:chat", repo, filename, "--json")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout).get("request_params", {}) == {}  # omitted: cleared
    assert "cli:chat" in bodhi("models").stdout
    assert bodhi("alias", "delete", "cli:chat").returncode == 0
    assert owner.http.get("/bodhi/v1/models/cli:chat").status_code == 404
    bad = bodhi("alias", "create", "x", repo, filename, "--param", "colour=red")
    assert (bad.returncode, bad.stderr.count("\n")) == (2, 1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_errors_are_one_line_with_the_right_exit_code(
    bodhi: Cli, owner: BodhiClient, tmp_path: Path
) -> None:
    assert error_code(bodhi("models", BODHI_TOKEN="bodhiapp_not-a-real-token")) == "token_invalid"
    reader = Cli(bodhi.url, owner.create_token("scope_token_user"), bodhi.config, bodhi.secrets)
    refused = reader("pull", "acme/cli-GGUF", "x.gguf")
    assert error_code(refused) == "forbidden"

    url = f"http://127.0.0.1:{closed_port()}"
    down = bodhi("models", BODHI_URL=url)
    assert (down.returncode, down.stderr) == (3, f"bodhi: cannot reach the gateway at {url}\n")
    nothing = Cli(bodhi.url, None, tmp_path / "absent.toml", bodhi.secrets)("models")
    assert nothing.returncode == 2
    assert nothing.stderr.startswith("bodhi: no API token")


def test_tokens_commands_say_the_tokens_api_wants_a_browser_session(bodhi: Cli) -> None:
    for args in (["list"], ["create", "--name", "x"], ["delete", "some-id"]):
        said = bodhi("tokens", *args)
        assert (said.returncode, said.stdout) == (2, ""), said
        assert said.stderr.count("\n") == 1
        assert "browser session" in said.stderr
    # ...and that is true: the API refuses the token
    direct = httpx.get(
        f"{bodhi.url}/bodhi/v1/tokens", headers={"Authorization": f"Bearer {bodhi.token}"}
    )
    assert direct.status_code in (401, 403), direct.text


def test_login_saves_the_token_for_later_commands(bodhi: Cli, tmp_path: Path) -> None:
    config = tmp_path / "home" / "bodhi" / "config.toml"
    assert bodhi.token is not None
    logged = Cli("http://not-this-one:1", None, config, bodhi.secrets)(
        "login", "--token", bodhi.token, "--url", bodhi.url, script=True
    )
    assert logged.returncode == 0, logged.stderr
    assert config.stat().st_mode & 0o777 == 0o600
    env = {k: v for k, v in os.environ.items() if not k.startswith("BODHI_")}
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "bodhi"), "models", "--json"],
        env={**env, "BODHI_CONFIG": str(config)}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["total"] >= 1
