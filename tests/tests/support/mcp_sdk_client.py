"""Drive `ctxvault mcp` with the official MCP Python SDK (PyPI `mcp`), a
client no one in this project wrote. Prints one JSON document with what it
saw; the Rust test checks it.

Usage: mcp_sdk_client.py CTXVAULT_BIN CLIENT_NAME ITEM_ID HIDDEN_ID
(the vault, runtime dir and token come from the environment).
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def text(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def main():
    binary, client, item_id, hidden_id = sys.argv[1:5]
    params = StdioServerParameters(command=binary, args=["mcp", "--client", client], env=dict(os.environ))
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
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
    print(json.dumps(out))


asyncio.run(main())
