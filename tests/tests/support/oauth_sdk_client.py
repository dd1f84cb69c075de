"""A hosted assistant's side of OAuth, played by the official MCP Python
SDK's OAuthClientProvider against the agent's --public-url: discovery,
registration, authorization (approved on this machine with `ctxvault
connector approve`, run from here as the user would), token, tools/list and
search_context, a refresh once the access token expired, then a revoke and
the next call refused. Prints one JSON object.

Usage: oauth_sdk_client.py MCP_URL REDIRECT_URI CTXVAULT_BIN SCOPE [QUERY...]
"""

import json
import os
import re
import subprocess
import sys
import urllib.parse

import anyio
import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

MCP_URL, REDIRECT, CTXVAULT, SCOPE = sys.argv[1:5]
QUERIES = sys.argv[5:]


class Memory:
    """Token storage in memory; counts the tokens it was given."""

    def __init__(self):
        self.tokens = None
        self.client = None
        self.given = []

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens
        self.given.append(tokens)

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info):
        self.client = info


state = {"wait": None, "code": None, "allowed": True, "asked": 0}
seen = []


async def log_response(response):
    seen.append([response.request.method, response.request.url.path, response.status_code])


async def redirect_handler(url: str) -> None:
    state["asked"] += 1
    if not state["allowed"]:
        raise RuntimeError("authorization asked again: the call was refused")
    # One browser for the whole authorization: the wait page answers only
    # the browser (cookie) that asked.
    c = state["browser"] = httpx2.AsyncClient(follow_redirects=False)
    r = await c.get(url)
    assert r.status_code == 303, (r.status_code, r.text)
    wait = urllib.parse.urljoin(url, r.headers["location"])
    page = (await c.get(wait)).text
    m = re.search(r"\b([B-Z]{4}-[B-Z]{4})\b", page)
    assert m, page
    state["wait"], state["code"] = wait, m.group(1)
    # The user approves on their own machine.
    out = subprocess.run(
        [CTXVAULT, "connector", "approve", m.group(1), "--grant", SCOPE,
         "--redact", "phone", "--json"],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    state["client"] = json.loads(out.stdout)["client"]


async def callback_handler() -> AuthorizationCodeResult:
    # Someone else polling the page learns nothing.
    async with httpx2.AsyncClient(follow_redirects=False) as other:
        assert (await other.get(state["wait"])).status_code == 403
    r = await state["browser"].get(state["wait"])
    assert r.status_code == 303, (r.status_code, r.text)
    loc = r.headers["location"]
    assert loc.startswith(REDIRECT), loc
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    return AuthorizationCodeResult(
        code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0]
    )


def texts(result):
    return [c.text for c in result.content if getattr(c, "type", "") == "text"]


async def search(session):
    out = []
    for q in QUERIES:
        r = await session.call_tool("search_context", {"query": q, "limit": 10})
        out.append(texts(r))
    return out


async def main():
    storage = Memory()
    provider = OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=OAuthClientMetadata(client_name="Hosted Assistant", redirect_uris=[REDIRECT]),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    report = {}
    hooks = {"response": [log_response]}
    async with httpx2.AsyncClient(auth=provider, event_hooks=hooks, timeout=httpx2.Timeout(30)) as http:
        async with streamable_http_client(MCP_URL, http_client=http) as (r, w, *_):
            async with ClientSession(r, w) as s:
                await s.initialize()
                report["tools"] = sorted(t.name for t in (await s.list_tools()).tools)
                report["first"] = await search(s)
                # Let the access token expire: the SDK refreshes before the
                # next request (the agent runs with a short test lifetime).
                expires = storage.tokens.expires_in or 1
                await anyio.sleep(expires + 0.6)
                report["second"] = await search(s)
                report["tokens_given"] = len(storage.given)
                report["refresh_tokens"] = [t.refresh_token for t in storage.given]
                report["access_tokens"] = [t.access_token for t in storage.given]
                # The user revokes; the next call is refused (the SDK asks
                # for a new authorization, which nobody gives).
                out = subprocess.run(
                    [CTXVAULT, "connector", "revoke", state["client"]],
                    capture_output=True, text=True,
                )
                assert out.returncode == 0, out.stderr
                state["allowed"] = False
                try:
                    await s.call_tool("search_context", {"query": QUERIES[0]})
                    report["after_revoke"] = "answered"
                except BaseException as e:  # noqa: BLE001 - any refusal counts
                    report["after_revoke"] = "refused: " + type(e).__name__
                report["client"] = state["client"]
                report["asked"] = state["asked"]
                report["seen"] = seen
                print(json.dumps(report), flush=True)
                # The refused session cannot close cleanly; the report is out.
                os._exit(0)


if __name__ == "__main__":
    anyio.run(main)
