"""Search the vault through the official MCP Python SDK (PyPI `mcp`) with
an elicitation callback that answers the server's questions yes or no.
Prints one JSON document: the questions asked and the search results.

Usage: confirm_sdk_client.py CTXVAULT_BIN CLIENT_NAME yes|no QUERY [URL]
(the vault, runtime dir and token come from the environment). Without URL
it runs `ctxvault mcp` over stdio; with URL it speaks streamable HTTP.
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client


def text(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def drive(read, write, answer, query):
    asked = []

    async def on_elicit(context, params):
        asked.append({"message": params.message, "schema": params.requested_schema})
        if answer == "yes":
            return types.ElicitResult(action="accept", content={"allow": True})
        return types.ElicitResult(action="decline")

    async with ClientSession(read, write, elicitation_callback=on_elicit) as session:
        await session.initialize()
        r = await session.call_tool("search_context", {"query": query})
        return {"asked": asked, "search": json.loads(text(r))}


async def main():
    binary, client, answer, query = sys.argv[1:5]
    if len(sys.argv) > 5:
        headers = {"Authorization": "Bearer " + os.environ["CTXVAULT_TOKEN"]}
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(sys.argv[5], http_client=http) as streams:
                out = await drive(streams[0], streams[1], answer, query)
    else:
        params = StdioServerParameters(
            command=binary, args=["mcp", "--client", client], env=dict(os.environ)
        )
        async with stdio_client(params) as (read, write):
            out = await drive(read, write, answer, query)
    print(json.dumps(out))


asyncio.run(main())
