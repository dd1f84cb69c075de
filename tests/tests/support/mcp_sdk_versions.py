"""Negotiate a protocol version with ctxvault using the official MCP Python
SDK, then report what the client saw of tool titles, annotations, output
schemas and structured results. Prints one JSON document.

Usage: mcp_sdk_versions.py CTXVAULT_BIN CLIENT_NAME ITEM_ID VERSION [URL]
VERSION is `newest` (the SDK's own negotiation, `mcp.Client(mode="auto")`,
which picks the newest version both sides speak) or a handshake-era version
such as 2025-03-26, sent in `initialize`. Without URL it runs `ctxvault mcp`
over stdio; with URL it speaks streamable HTTP, the token as a bearer.
"""
import asyncio
import json
import os
import sys

import mcp.types as types
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client


def tool_facts(tools):
    out = {}
    for t in tools:
        a = t.annotations
        out[t.name] = {
            "title": t.title,
            "read_only": a.read_only_hint if a else None,
            "destructive": a.destructive_hint if a else None,
            "idempotent": a.idempotent_hint if a else None,
            "output_schema": t.output_schema is not None,
        }
    return out


async def exercise(c, item_id):
    out = {"tools": tool_facts((await c.list_tools()).tools)}
    r = await c.call_tool("search_context", {"query": "launch"})
    out["search"] = r.structured_content
    out["search_text"] = "".join(x.text for x in r.content if x.type == "text")
    r = await c.call_tool("get_context", {"id": item_id})
    out["get"] = r.structured_content
    return out


async def pinned(session, version, item_id):
    result = await session.send_request(
        types.InitializeRequest(
            params=types.InitializeRequestParams(
                protocol_version=version,
                capabilities=types.ClientCapabilities(),
                client_info=types.Implementation(name="ctxvault-tests", version="0"),
            )
        ),
        types.InitializeResult,
    )
    session.adopt(result)
    await session.send_notification(types.InitializedNotification())
    out = await exercise(session, item_id)
    out["negotiated"] = result.protocol_version
    return out


async def main():
    binary, client, item_id, version = sys.argv[1:5]
    url = sys.argv[5] if len(sys.argv) > 5 else None
    headers = {"Authorization": "Bearer " + os.environ["CTXVAULT_TOKEN"]}
    params = StdioServerParameters(
        command=binary, args=["mcp", "--client", client], env=dict(os.environ)
    )
    if version == "newest":
        if url:
            async with create_mcp_http_client(headers=headers) as http:
                async with Client(streamable_http_client(url, http_client=http), mode="auto") as c:
                    out = await exercise(c, item_id)
                    out["negotiated"] = c.protocol_version
        else:
            async with Client(params, mode="auto") as c:
                out = await exercise(c, item_id)
                out["negotiated"] = c.protocol_version
    elif url:
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(url, http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    out = await pinned(session, version, item_id)
    else:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await pinned(session, version, item_id)
    print(json.dumps(out))


asyncio.run(main())
