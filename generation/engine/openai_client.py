"""Generation through an OpenAI-compatible HTTP endpoint (vLLM, llama.cpp server, OpenAI itself).

Requests go out concurrently but bounded (a thread pool of `concurrency` workers sharing one httpx
client), so a vLLM server can batch them itself without being flooded. Timeouts, connection failures,
HTTP 429 and 5xx are retried a limited number of times; anything else fails at once. Every failure is an
EndpointError naming the URL and the problem in words, never a bare httpx or JSON traceback.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from generation.engine.base import FinishReason, GenerationOutput, ProgressCallback, SamplingParams, cut_at_stop

Prompt = str | Sequence[Mapping[str, str]]  # a completion prompt, or chat messages


class EndpointError(Exception):
    """A request to the generation endpoint failed; `str(exc)` is meant for the user."""

    def __init__(self, endpoint: str, problem: str, *, status: int | None = None) -> None:
        self.endpoint = endpoint
        self.problem = problem
        self.status = status
        super().__init__(f"{endpoint}: {problem}")


class EndpointTimeoutError(EndpointError):
    pass


class EndpointConnectionError(EndpointError):
    pass


class EndpointHTTPError(EndpointError):
    pass


class EndpointResponseError(EndpointError):
    """The endpoint answered 200 but not with an OpenAI-style JSON body."""


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str  # "http://host:8000", ".../v1" or the full ".../v1/chat/completions" URL
    model: str
    api_key: str | None = None
    mode: Literal["chat", "completions"] = "chat"
    timeout_s: float = 120.0
    max_retries: int = 2
    concurrency: int = 8
    retry_backoff_s: float = 0.5

    @property
    def url(self) -> str:
        base = self.base_url.rstrip("/")
        path = "/chat/completions" if self.mode == "chat" else "/completions"
        if base.endswith(("/chat/completions", "/completions")):
            return base
        return base + path if base.endswith("/v1") else base + "/v1" + path


_RETRY_STATUSES = {429, 500, 502, 503, 504}


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return _excerpt(response.text)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return _excerpt(str(error["message"]))
        if isinstance(error, str):
            return _excerpt(error)
        if body.get("detail"):
            return _excerpt(str(body["detail"]))
    return _excerpt(response.text)


class OpenAIEndpointGenerator:
    """`generate` sends one request per prompt and returns outputs in prompt order."""

    def __init__(self, config: EndpointConfig, *, client: httpx.Client | None = None) -> None:
        if config.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.config = config
        headers = {"Content-Type": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        limits = httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency)
        self.client = client or httpx.Client(headers=headers, timeout=config.timeout_s, limits=limits)
        self._owns_client = client is None

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> OpenAIEndpointGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ payloads

    def _payload(self, prompt: Prompt, params: SamplingParams) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "seed": params.seed,
            "n": 1,
        }
        if not params.greedy:
            payload["top_p"] = params.top_p
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.repetition_penalty != 1.0:
            payload["repetition_penalty"] = params.repetition_penalty  # vLLM / llama.cpp extension
        if self.config.mode == "chat":
            payload["messages"] = (
                [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
            )
        else:
            if not isinstance(prompt, str):
                raise ValueError("a /v1/completions endpoint takes prompt strings, not chat messages")
            payload["prompt"] = prompt
        return payload

    def _parse(self, response: httpx.Response, params: SamplingParams) -> GenerationOutput:
        url = self.config.url
        try:
            body = response.json()
        except ValueError:
            raise EndpointResponseError(
                url, f"the response is not JSON: {_excerpt(response.text) or '(empty body)'}"
            ) from None
        chat = self.config.mode == "chat"
        try:
            choice = body["choices"][0]
            text = (choice["message"].get("content") or "") if chat else choice["text"]
            finish_reason = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise EndpointResponseError(
                url,
                f"the response has no choices[0] {'message' if chat else 'text'}: {_excerpt(response.text)}",
            ) from None
        if not isinstance(text, str):
            raise EndpointResponseError(url, f"the generated text is {type(text).__name__}, not a string")
        text, stopped = cut_at_stop(text, params.stop)
        usage = body.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        finish: FinishReason = "length" if finish_reason == "length" and not stopped else "stop"
        return GenerationOutput(text, finish, usage.get("prompt_tokens"), usage.get("completion_tokens"))

    # ------------------------------------------------------------------------------------ requests

    def complete(self, prompt: Prompt, params: SamplingParams = SamplingParams()) -> GenerationOutput:
        """One request with limited retries on timeouts, connection errors, 429 and 5xx."""
        url = self.config.url
        payload = self._payload(prompt, params)
        attempts = self.config.max_retries + 1
        last: EndpointError | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.config.retry_backoff_s * 2 ** (attempt - 1))
            try:
                response = self.client.post(url, json=payload)
            except httpx.TimeoutException:
                last = EndpointTimeoutError(url, f"no answer within {self.config.timeout_s:g} s")
                continue
            except httpx.TransportError as exc:
                last = EndpointConnectionError(url, f"cannot connect ({type(exc).__name__}: {_excerpt(str(exc))})")
                continue
            if response.status_code in _RETRY_STATUSES:
                last = EndpointHTTPError(
                    url, f"HTTP {response.status_code}: {_server_message(response)}", status=response.status_code
                )
                continue
            if response.status_code >= 400:
                hint = " (check the API key)" if response.status_code in (401, 403) else ""
                raise EndpointHTTPError(
                    url, f"HTTP {response.status_code}{hint}: {_server_message(response)}", status=response.status_code
                )
            return self._parse(response, params)
        assert last is not None
        suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
        raise type(last)(last.endpoint, last.problem + suffix, status=last.status)

    def generate(
        self,
        prompts: Sequence[Prompt],
        params: SamplingParams = SamplingParams(),
        *,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationOutput]:
        """All prompts, at most `concurrency` in flight. The first failure cancels what has not started yet
        and is raised; `progress(done, total)` runs in the calling thread and may raise to cancel."""
        results: list[GenerationOutput | None] = [None] * len(prompts)
        if not prompts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(prompts))) as pool:
            futures: dict[Future[GenerationOutput], int] = {
                pool.submit(self.complete, p, params): i for i, p in enumerate(prompts)
            }
            pending = set(futures)
            done_count = 0
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        results[futures[future]] = future.result()  # re-raises the worker's EndpointError
                        done_count += 1
                    if progress is not None:
                        progress(done_count, len(prompts))
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return [r for r in results if r is not None]
