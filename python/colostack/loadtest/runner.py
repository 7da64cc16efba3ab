"""The load itself: OpenAI-compatible requests at a fixed rate or a fixed concurrency.

Every loop is bounded by a request count and a deadline, and stops by itself.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2 as httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from colostack.loadtest.mix import Mix, Shape, prompt
from colostack.loadtest.stats import Sample


@dataclass(frozen=True)
class Target:
    base_url: str  # e.g. https://gateway:8443/v1
    model: str
    api_key: str
    ca_file: str | None = None
    timeout_s: float = 60.0


@dataclass(frozen=True)
class Arrival:
    rate: float | None  # requests per second (open loop), or
    concurrency: int | None  # requests in flight (closed loop)
    max_requests: int
    duration_s: float


def client(target: Target) -> openai.AsyncOpenAI:
    verify: bool | str = target.ca_file or True
    return openai.AsyncOpenAI(
        base_url=target.base_url,
        api_key=target.api_key,
        max_retries=0,
        timeout=target.timeout_s,
        http_client=httpx.AsyncClient(verify=verify, limits=httpx.Limits(max_connections=1024)),
    )


async def one(
    api: openai.AsyncOpenAI, target: Target, shape: Shape, text: str, t0: float
) -> Sample:
    start = time.monotonic()
    stamps: list[float] = []
    tokens = 0
    try:
        if shape.kind == "chat":
            messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": text}]
            if shape.stream:
                stream = await api.chat.completions.create(
                    model=target.model, messages=messages, max_tokens=shape.max_tokens, stream=True
                )
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        stamps.append(time.monotonic())
                tokens = len(stamps)
            else:
                reply = await api.chat.completions.create(
                    model=target.model, messages=messages, max_tokens=shape.max_tokens
                )
                tokens = reply.usage.completion_tokens if reply.usage else 0
        elif shape.stream:
            cstream = await api.completions.create(
                model=target.model, prompt=text, max_tokens=shape.max_tokens, stream=True
            )
            async for c in cstream:
                if c.choices and c.choices[0].text:
                    stamps.append(time.monotonic())
            tokens = len(stamps)
        else:
            done = await api.completions.create(
                model=target.model, prompt=text, max_tokens=shape.max_tokens
            )
            tokens = done.usage.completion_tokens if done.usage else 0
    except (openai.APIError, httpx.HTTPError) as exc:
        end = time.monotonic()
        return Sample(start - t0, end - start, end - start, 0, None, error=type(exc).__name__)
    end = time.monotonic()
    first = stamps[0] if stamps else end
    itl = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else None
    return Sample(start - t0, first - start, end - start, tokens, itl)


async def run(
    target: Target,
    mix: Mix,
    arrival: Arrival,
    seed: int = 0,
    on_sample: Callable[[Sample], None] | None = None,
) -> tuple[list[Sample], float]:
    """Send the load; return every sample and the wall time it took."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    api = client(target)
    t0 = time.monotonic()
    deadline = t0 + arrival.duration_s
    sent = 0

    async def send() -> None:
        shape = mix.draw(rng)
        sample = await one(api, target, shape, prompt(shape, rng), t0)
        samples.append(sample)
        if on_sample:
            on_sample(sample)

    def more() -> bool:
        return sent < arrival.max_requests and time.monotonic() < deadline

    try:
        if arrival.rate:
            tasks: set[asyncio.Task[None]] = set()
            while more():
                sent += 1
                task = asyncio.create_task(send())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                await asyncio.sleep(1 / arrival.rate)
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=target.timeout_s + 5)
        else:

            async def worker() -> None:
                nonlocal sent
                while more():
                    sent += 1
                    await send()

            await asyncio.gather(*(worker() for _ in range(arrival.concurrency or 1)))
    finally:
        await api.close()
    return samples, time.monotonic() - t0
