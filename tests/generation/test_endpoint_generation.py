"""Generation through an OpenAI-compatible endpoint, against a fake server the test runs on 127.0.0.1.

The fake server answers /v1/chat/completions and /v1/completions by echoing the prompt, and can be told
to fail (HTTP 500, garbage, a slow answer) so every error path is exercised over real HTTP.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from generation.engine.base import SamplingParams
from generation.engine.openai_client import (
    EndpointConfig,
    EndpointConnectionError,
    EndpointError,
    EndpointHTTPError,
    EndpointResponseError,
    EndpointTimeoutError,
    OpenAIEndpointGenerator,
)


class FakeServer:
    """Scripted OpenAI-compatible server: `script` is a list of behaviours used in order (the last one
    repeats): "ok", "500", "401", "garbage", "no_choices", ("sleep", seconds), ("text", "...")."""

    def __init__(self) -> None:
        self.script: list = ["ok"]
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                    step = server.script[min(len(server.requests) - 1, len(server.script) - 1)]
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                self.counted = True
                try:
                    time.sleep(server.delay)
                    self._answer(step, body)
                finally:
                    self._done()

            def _done(self) -> None:
                """No longer in flight: called before the reply is sent (the client may send its next request
                the moment it has the reply, before this thread runs again on a loaded machine)."""
                if getattr(self, "counted", False):
                    self.counted = False
                    with server.lock:
                        server.in_flight -= 1

            def _send(self, status: int, payload: bytes, content_type="application/json"):
                self._done()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _answer(self, step, body):
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = "ok"
                if step == "500":
                    return self._send(500, b'{"error": {"message": "CUDA out of memory"}}')
                if step == "401":
                    return self._send(401, b'{"error": {"message": "Invalid API key"}}')
                if step == "garbage":
                    return self._send(200, b"<html>Bad Gateway</html>", "text/html")
                if step == "no_choices":
                    return self._send(200, b'{"object": "error"}')
                prompt = body["messages"][-1]["content"] if "messages" in body else body.get("prompt", "")
                text = step[1] if isinstance(step, tuple) else f"echo: {prompt}"
                finish = "length" if body.get("max_tokens", 99) <= 3 else "stop"
                choice = {"index": 0, "finish_reason": finish}
                if self.path.endswith("/chat/completions"):
                    choice["message"] = {"role": "assistant", "content": text}
                else:
                    choice["text"] = text
                usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
                return self._send(200, json.dumps({"choices": [choice], "usage": usage}).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def make(server: FakeServer, **overrides) -> OpenAIEndpointGenerator:
    config = {"base_url": server.base_url, "model": "qwen-test", "timeout_s": 5.0, "retry_backoff_s": 0.01}
    config.update(overrides)
    return OpenAIEndpointGenerator(EndpointConfig(**config))


def test_chat_requests_carry_the_model_messages_and_sampling_settings(server):
    with make(server, api_key="sk-test") as gen:
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Passage text"}]
        [out] = gen.generate([messages], SamplingParams(max_new_tokens=64, seed=3, stop=("Q4:",)))
    assert out.text == "echo: Passage text"
    assert (out.finish_reason, out.prompt_tokens, out.completion_tokens) == ("stop", 2, 3)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "qwen-test"
    assert request["body"]["messages"] == messages
    assert request["body"]["max_tokens"] == 64
    assert request["body"]["temperature"] == 0.0
    assert request["body"]["seed"] == 3
    assert request["body"]["stop"] == ["Q4:"]
    assert "top_p" not in request["body"] and "repetition_penalty" not in request["body"]


def test_completions_mode_sends_a_prompt_and_no_key_when_none_is_set(server):
    with make(server, mode="completions", base_url=server.base_url.removesuffix("/v1")) as gen:
        [out] = gen.generate(["質問1:"], SamplingParams(temperature=0.7, top_p=0.9, repetition_penalty=1.2))
    assert out.text == "echo: 質問1:"
    request = server.requests[0]
    assert request["path"] == "/v1/completions"
    assert request["auth"] is None
    assert request["body"]["prompt"] == "質問1:"
    assert (request["body"]["top_p"], request["body"]["repetition_penalty"]) == (0.9, 1.2)


def test_requests_run_concurrently_but_never_more_than_the_limit_and_keep_their_order(server):
    server.delay = 0.15
    prompts = [f"p{i}" for i in range(9)]
    progress = []
    with make(server, concurrency=3) as gen:
        outputs = gen.generate(prompts, progress=lambda d, t: progress.append((d, t)))
    assert [o.text for o in outputs] == [f"echo: p{i}" for i in range(9)]
    assert server.peak_in_flight == 3  # three in flight at once (the speed-up is bench/llm_judge.py's to measure)
    assert progress[-1] == (9, 9)


def test_a_5xx_is_retried_and_then_succeeds(server):
    server.script = ["500", "500", "ok"]
    with make(server, max_retries=2) as gen:
        [out] = gen.generate(["x"])
    assert out.text == "echo: x"
    assert len(server.requests) == 3


def test_a_persistent_500_names_the_endpoint_the_status_and_the_attempts(server):
    server.script = ["500"]
    with make(server, max_retries=2) as gen, pytest.raises(EndpointHTTPError) as exc:
        gen.generate(["x"])
    message = str(exc.value)
    assert message.startswith(f"{server.base_url}/chat/completions: HTTP 500")
    assert "CUDA out of memory" in message and "after 3 attempts" in message
    assert exc.value.status == 500
    assert len(server.requests) == 3


def test_an_auth_error_is_not_retried_and_suggests_the_key(server):
    server.script = ["401"]
    with make(server, max_retries=3) as gen, pytest.raises(EndpointHTTPError, match=r"HTTP 401 \(check the API key\)"):
        gen.generate(["x"])
    assert len(server.requests) == 1


def test_garbage_instead_of_json_is_a_response_error(server):
    server.script = ["garbage"]
    with make(server) as gen, pytest.raises(EndpointResponseError) as exc:
        gen.generate(["x"])
    assert "the response is not JSON: <html>Bad Gateway</html>" in str(exc.value)
    assert str(exc.value).startswith(server.base_url)


def test_json_without_choices_is_a_response_error(server):
    server.script = ["no_choices"]
    with make(server) as gen, pytest.raises(EndpointResponseError, match=r"no choices\[0\] message"):
        gen.generate(["x"])


def test_a_slow_endpoint_times_out_with_a_clear_error(server):
    server.script = [("sleep", 2.0)]
    with make(server, timeout_s=0.3, max_retries=1) as gen:
        started = time.monotonic()
        with pytest.raises(EndpointTimeoutError) as exc:
            gen.generate(["x"])
    assert time.monotonic() - started < 1.8
    assert "no answer within 0.3 s (after 2 attempts)" in str(exc.value)


def test_a_closed_port_is_a_connection_error():
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = EndpointConfig(base_url=f"http://127.0.0.1:{port}", model="m", max_retries=0, timeout_s=2)
    with OpenAIEndpointGenerator(config) as gen, pytest.raises(EndpointConnectionError) as exc:
        gen.complete("x")
    assert str(exc.value).startswith(f"http://127.0.0.1:{port}/v1/chat/completions: cannot connect")


def test_one_failing_request_fails_the_batch_with_that_error(server):
    server.script = ["ok", "ok", "garbage"]
    with make(server, concurrency=1) as gen, pytest.raises(EndpointError, match="not JSON"):
        gen.generate(["a", "b", "c", "d"])


def test_stop_strings_are_also_applied_on_our_side_and_length_is_reported(server):
    server.script = [("text", "Q1: a?\nA1: b\nQ4: extra")]
    with make(server) as gen:
        [stopped] = gen.generate(["x"], SamplingParams(stop=("Q4:",)))
        [long] = gen.generate(["x"], SamplingParams(max_new_tokens=3))
    assert stopped.text == "Q1: a?\nA1: b\n"
    assert stopped.finish_reason == "stop"
    assert long.finish_reason == "length"


@pytest.mark.parametrize(
    ("base_url", "mode", "expected"),
    [
        ("http://h:8000", "chat", "http://h:8000/v1/chat/completions"),
        ("http://h:8000/v1/", "completions", "http://h:8000/v1/completions"),
        ("https://api.example.com/v1/chat/completions", "chat", "https://api.example.com/v1/chat/completions"),
    ],
)
def test_the_url_is_built_from_a_base_or_taken_as_given(base_url, mode, expected):
    assert EndpointConfig(base_url=base_url, model="m", mode=mode).url == expected
