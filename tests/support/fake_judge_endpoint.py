"""A fake OpenAI-compatible judge on 127.0.0.1 (real HTTP) that answers judging prompts with scripted verdicts.

The verdict depends on the prompt, not on the request order, so concurrent requests get the right answer:
``ScriptedJudge`` reads the two answers shown ("Answer 1: ..." / "回答1: ...") and labels each from a
table ``truth`` (answer text -> label key), prefers the better label, and writes the verdict in a chosen
style. ``position_biased`` makes it prefer whatever is shown first; answers it does not know get an
unparseable reply. Used by the engine tests and by ``bench/llm_judge.py`` (with a latency per request).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ANSWER_RE = re.compile(r"^(?:Answer|回答)\s*([12])\s*[:：]\s*(.*)$", re.MULTILINE)


@dataclass
class ScriptedJudge:
    truth: Mapping[str, str]  # answer text -> label key
    ranking: Sequence[str] = ("correct", "partial", "incorrect")  # best first
    style: str = "json"  # "json", "fenced", "text_en", "text_ja"
    position_biased: bool = False

    def __call__(self, body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"] if "messages" in body else body.get("prompt", "")
        shown = dict(_ANSWER_RE.findall(prompt))
        first, second = self.truth.get(shown.get("1", "")), self.truth.get(shown.get("2", ""))
        if first is None or second is None:
            return "I cannot judge these answers."
        if self.position_biased:
            preference = "1"
        elif first == second:
            preference = "tie"
        else:
            preference = "1" if self.ranking.index(first) < self.ranking.index(second) else "2"
        if self.style == "text_en":
            return f"Answer 1: {first}\nAnswer 2: {second}\nPreference: {preference}"
        if self.style == "text_ja":
            pref = {"1": "回答１", "2": "回答２", "tie": "引き分け"}[preference]
            return f"回答１の評価：{first}\n回答２の評価：{second}\nより良い回答：{pref}"
        verdict = json.dumps({"answer_1": first, "answer_2": second, "preference": preference})
        return f"Here is my verdict:\n```json\n{verdict}\n```" if self.style == "fenced" else verdict


class FakeJudgeServer:
    """Answers /v1/chat/completions and /v1/completions with ``respond(body)``, after ``delay`` seconds."""

    def __init__(self, respond: Callable[[dict[str, Any]], str], delay: float = 0.0) -> None:
        self.respond = respond
        self.delay = delay
        self.lock = threading.Lock()
        self.n_requests = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.bodies: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: one connection per client worker
            disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would hold the body ~40 ms

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server.lock:
                    server.n_requests += 1
                    server.bodies.append(body)
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    if server.delay:
                        time.sleep(server.delay)
                    text = server.respond(body)
                finally:
                    with server.lock:
                        server.in_flight -= 1
                choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
                if self.path.endswith("/chat/completions"):
                    choice["message"] = {"role": "assistant", "content": text}
                else:
                    choice["text"] = text
                payload = json.dumps({"choices": [choice], "usage": {"completion_tokens": len(text.split())}})
                data = payload.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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

    def __enter__(self) -> FakeJudgeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    """Serve a ScriptedJudge in its own process (the bench's endpoint, so client and server do not share
    one interpreter lock): ``python -m tests.support.fake_judge_endpoint TRUTH.json DELAY`` prints the base
    URL on the first line of stdout and serves until stdin is closed."""
    import sys

    with open(sys.argv[1], encoding="utf-8") as f:
        truth = json.load(f)
    with FakeJudgeServer(ScriptedJudge(truth), delay=float(sys.argv[2])) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()
        print(f"requests={server.n_requests} peak_in_flight={server.peak_in_flight}", flush=True)


if __name__ == "__main__":
    main()
