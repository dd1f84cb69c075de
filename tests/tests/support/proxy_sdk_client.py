"""Drive the ctxvault provider proxy with the official `openai` and
`anthropic` Python SDKs, as an app would: the proxy's URL as the base URL
and the ctxvault client token as the API key. Prints one JSON object with
what the SDK returned.

Usage: proxy_sdk_client.py openai|anthropic BASE_URL TOKEN QUESTION
"""

import json
import sys


def run_openai(base, token, question):
    import openai

    client = openai.OpenAI(base_url=base + "/v1", api_key=token, max_retries=0)
    plain = client.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": question}],
    )
    raw = client.chat.completions.with_raw_response.create(
        model="test-model",
        messages=[{"role": "user", "content": question}],
    )
    parts = []
    usage = None
    chunks = 0
    with client.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": question}],
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        for chunk in stream:
            chunks += 1
            if chunk.usage is not None:
                usage = chunk.usage.model_dump()
            for c in chunk.choices:
                if c.delta.content:
                    parts.append(c.delta.content)
    models = [m.id for m in client.models.list()]
    resp = client.responses.create(model="test-model", input=question, instructions="Be brief.")
    return {
        "text": plain.choices[0].message.content,
        "usage": plain.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}),
        "context_header": raw.headers.get("x-ctxvault-context"),
        "stream_text": "".join(parts),
        "stream_chunks": chunks,
        "stream_usage": {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")} if usage else None,
        "models": models,
        "responses_text": resp.output_text,
        "responses_usage": resp.usage.total_tokens,
    }


def run_anthropic(base, token, question):
    import anthropic

    client = anthropic.Anthropic(base_url=base, api_key=token, max_retries=0)
    plain = client.messages.create(
        model="test-model",
        max_tokens=64,
        system="Answer briefly.",
        messages=[{"role": "user", "content": question}],
    )
    texts = []
    with client.messages.stream(
        model="test-model",
        max_tokens=64,
        messages=[{"role": "user", "content": question}],
    ) as stream:
        for text in stream.text_stream:
            texts.append(text)
        final = stream.get_final_message()
    return {
        "text": "".join(b.text for b in plain.content if b.type == "text"),
        "usage": {"input_tokens": plain.usage.input_tokens, "output_tokens": plain.usage.output_tokens},
        "stream_text": "".join(b.text for b in final.content if b.type == "text"),
        "stream_deltas": len(texts),
        "stream_usage": {"input_tokens": final.usage.input_tokens, "output_tokens": final.usage.output_tokens},
    }


def main():
    sdk, base, token, question = sys.argv[1:5]
    out = run_openai(base, token, question) if sdk == "openai" else run_anthropic(base, token, question)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
