"""Drive `ctxvault mcp` with the official MCP Python SDK (PyPI `mcp`), a
client no one in this project wrote. Prints one JSON document with what it
saw; the Rust test checks it.

Usage: mcp_sdk_client.py CTXVAULT_BIN CLIENT_NAME ITEM_ID HIDDEN_ID [URL]
(the vault, runtime dir and token come from the environment). Without URL
it runs `ctxvault mcp` over stdio; with URL it speaks streamable HTTP to the
agent, the token as a bearer.
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client


def text(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def drive(session, item_id, hidden_id):
    out = {}
    init = await session.initialize()
    out["server"] = init.server_info.name
    out["instructions"] = init.instructions or ""
    tools = await session.list_tools()
    out["tools"] = sorted(t.name for t in tools.tools)
    out["schemas"] = {t.name: t.input_schema for t in tools.tools}
    r = await session.call_tool("search_context", {"query": "launch"})
    out["search"] = json.loads(text(r))
    r = await session.call_tool("get_context", {"id": item_id})
    out["get"] = json.loads(text(r))
    r = await session.call_tool("get_context", {"id": hidden_id})
    out["hidden"] = {"is_error": r.is_error, "text": text(r)}
    r = await session.call_tool("list_namespaces", {})
    out["namespaces"] = json.loads(text(r))
    r = await session.call_tool("describe_access", {})
    out["access"] = json.loads(text(r))
    res = await session.list_resources()
    out["resources"] = sorted(str(x.uri) for x in res.resources)
    item = await session.read_resource("ctxvault://item/" + item_id)
    out["resource_text"] = "".join(c.text for c in item.contents)
    prompt = await session.get_prompt("personal-context", {"topic": "launch"})
    out["prompt"] = "".join(m.content.text for m in prompt.messages)
    return out


async def main():
    binary, client, item_id, hidden_id = sys.argv[1:5]
    if len(sys.argv) > 5:
        headers = {"Authorization": "Bearer " + os.environ["CTXVAULT_TOKEN"]}
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(sys.argv[5], http_client=http) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write) as session:
                    out = await drive(session, item_id, hidden_id)
    else:
        params = StdioServerParameters(
            command=binary, args=["mcp", "--client", client], env=dict(os.environ)
        )
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await drive(session, item_id, hidden_id)
    print(json.dumps(out))


asyncio.run(main())
