"""A small JSON-over-HTTP client for OpenAI-compatible servers (LLM, embeddings, rerank).

One ``httpx.Client`` per backend keeps connections alive between calls. Transient failures
(429, 500, 502, 503, 504, connection errors, timeouts) are retried with exponential backoff, honouring
the server's ``Retry-After``; a stream is retried only until its first event arrives, since what was
already handed on cannot be taken back. Every failure is a ``BackendError`` naming the backend, the URL
and the cause in one line.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from docrag.errors import BackendError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_CAP = 30.0  # seconds: a server asking for longer is waited on no more than this
_EXCERPT_CHARS = 200


class HTTPError(BackendError):
    """A failed request; ``status`` is the HTTP status, or None when no response came (connection, timeout)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class JSONClient:
    """``what`` names the backend in error messages ("LLM server", "reranker", ...)."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0, max_retries: int = 3,
                 backoff: float = 0.5, what: str = "LLM server"):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.what = what
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def get(self, path: str) -> Any:
        return self._request("GET", path, None)

    def post(self, path: str, payload: dict) -> Any:
        """The parsed JSON answer (an object, or a list for servers such as TEI's ``/rerank``)."""
        return self._request("POST", path, payload)

    def stream(self, path: str, payload: dict) -> Iterator[dict]:
        """POST, then yield each Server-Sent Event's ``data:`` JSON object until ``data: [DONE]``."""
        url = self._url(path)
        started = False
        for attempt in itertools.count():
            try:
                with self._client.stream("POST", url, json=payload) as response:
                    if response.is_error:
                        response.read()
                        if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                            self._wait(attempt, response)
                            continue
                        raise self._status_error(url, response, attempt)
                    for event in _sse_data(response.iter_lines()):
                        # A failure after the 200 header comes as an event: {"error": ...} (OpenAI, vLLM),
                        # {"object": "error", "message": ...} (older vLLM).
                        if "error" in event or event.get("object") == "error":
                            raise HTTPError(f"{self.what} at {url}: {_server_message(event)}")
                        started = True
                        yield event
                    return
            except httpx.TransportError as exc:
                if started or attempt >= self.max_retries:
                    raise self._transport_error(url, exc) from exc
                self._wait(attempt, None)
            except json.JSONDecodeError as exc:
                raise HTTPError(f"{self.what} at {url}: invalid JSON in the event stream: {exc}") from None

    def unexpected(self, path: str, problem: str, body: Any) -> BackendError:
        """The error for a well-formed answer that is not what the API promises (e.g. 'no choices')."""
        return BackendError(f"{self.what} at {self._url(path)}: unexpected response ({problem}): "
                            f"{_excerpt(json.dumps(body, ensure_ascii=False))}")

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _request(self, method: str, path: str, payload: dict | None) -> Any:
        url = self._url(path)
        for attempt in itertools.count():
            try:
                response = self._client.request(method, url, json=payload)
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise self._transport_error(url, exc) from exc
                self._wait(attempt, None)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                self._wait(attempt, response)
                continue
            if response.is_error:
                raise self._status_error(url, response, attempt)
            try:
                return response.json()
            except ValueError:
                raise HTTPError(f"{self.what} at {url}: invalid JSON in the response: "
                                f"{_excerpt(response.text)}", response.status_code) from None

    def _wait(self, attempt: int, response: httpx.Response | None) -> None:
        time.sleep(self.retry_delay(attempt, response))

    def retry_delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds before retry ``attempt`` + 1: the server's Retry-After (capped), else exponential backoff."""
        retry_after = _retry_after(response.headers.get("retry-after")) if response is not None else None
        return min(retry_after, RETRY_AFTER_CAP) if retry_after is not None else self.backoff * 2 ** attempt

    def _status_error(self, url: str, response: httpx.Response, attempts: int) -> HTTPError:
        status = response.status_code
        if status in (401, 403):
            cause = f"{status} unauthorized: check the API key (env OPENAI_API_KEY or generate.api_key_env)"
        elif status == 404:
            cause = "404 not found: check the base URL and model name"
        elif status == 429:
            cause = f"429 rate limited (after {attempts} retries)"
        elif status >= 500:
            cause = f"server error {status}"
        else:
            cause = f"HTTP {status}"
        message = _server_message(_json_or_none(response)) or _excerpt(response.text)
        return HTTPError(f"{self.what} at {url}: {cause}" + (f"; server says: {message}" if message else ""), status)

    def _transport_error(self, url: str, exc: httpx.TransportError) -> HTTPError:
        if isinstance(exc, httpx.TimeoutException):
            cause = f"no response within {self.timeout:g}s"
        elif isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower():
            cause = f"connection refused: is the server running at {self.base_url}?"
        else:
            cause = f"connection failed: {str(exc) or type(exc).__name__}"
        return HTTPError(f"{self.what} at {url}: {cause}")


def _sse_data(lines: Iterable[str]) -> Iterator[dict]:
    """The JSON objects of an SSE stream's ``data:`` fields; an event's data lines are joined by newlines
    and the event ends at a blank line. Comments (``:``) and other fields (``event:``, ``id:``) are skipped."""
    data: list[str] = []
    for line in itertools.chain(lines, [""]):  # the blank line closes a last event the server left open
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            text = "\n".join(data)
            data = []
            if text.strip() == "[DONE]":
                return
            yield json.loads(text)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _server_message(body: Any) -> str:
    """The error message in a JSON error body: OpenAI {"error": {"message"}}, vLLM {"message"},
    TEI {"error": "..."} or FastAPI {"detail": ...}; "" when there is none."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    message = error or body.get("message") or body.get("detail")
    return _excerpt(message if isinstance(message, str) else json.dumps(message)) if message else ""


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "…"
