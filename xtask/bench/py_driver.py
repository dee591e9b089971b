"""Peer drivers for `cargo xtask bench`: aiotus and tuspy, run from the bench venv (.tools/bench/venv).

Usage:
  py_driver.py aiotus ENDPOINT FILE CHUNK [--cacert PEM]
  py_driver.py aiotus-many ENDPOINT LIST CONCURRENCY [--cacert PEM]
  py_driver.py tuspy ENDPOINT FILE CHUNK

Prints the upload URL of each finished upload on stdout, one per line (aiotus-many: in the order of
LIST, a file with one path per line). Exits 1 if any upload failed: aiotus returns None then.

The many-files case is what an aiotus user writes: one aiohttp ClientSession, `asyncio.gather` over
all files, an `asyncio.Semaphore` for the concurrency.
"""

import asyncio
import ssl
import sys


def ssl_arg(cacert):
    if cacert is None:
        return True
    return ssl.create_default_context(cafile=cacert)


async def aiotus_single(endpoint, path, chunk, cacert):
    import aiotus

    config = aiotus.RetryConfiguration(ssl=ssl_arg(cacert), retry_attempts=1)
    with open(path, "rb") as f:
        url = await aiotus.upload(endpoint, f, config=config, chunksize=chunk)
    if url is None:
        sys.exit("aiotus: upload failed")
    print(url)


async def aiotus_many(endpoint, list_path, concurrency, cacert):
    import aiohttp
    import aiotus

    with open(list_path) as f:
        paths = [line.strip() for line in f if line.strip()]
    config = aiotus.RetryConfiguration(ssl=ssl_arg(cacert), retry_attempts=1)
    limit = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(path):
            async with limit:
                with open(path, "rb") as f:
                    return await aiotus.upload(endpoint, f, client_session=session, config=config)

        urls = await asyncio.gather(*(one(p) for p in paths))
    failed = sum(1 for u in urls if u is None)
    print("\n".join(str(u) for u in urls))
    if failed:
        sys.exit(f"aiotus: {failed} of {len(urls)} uploads failed")


def tuspy_single(endpoint, path, chunk):
    import os

    from tusclient import client

    # tuspy sends an empty `Upload-Metadata` header without metadata, which @tus/server refuses (400).
    metadata = {"filename": os.path.basename(path)}
    uploader = client.TusClient(endpoint).uploader(path, chunk_size=chunk, metadata=metadata)
    uploader.upload()
    print(uploader.url)


def main(argv):
    cacert = None
    if "--cacert" in argv:
        i = argv.index("--cacert")
        cacert = argv[i + 1]
        del argv[i : i + 2]
    match argv:
        case ["aiotus", endpoint, path, chunk]:
            asyncio.run(aiotus_single(endpoint, path, int(chunk), cacert))
        case ["aiotus-many", endpoint, list_path, concurrency]:
            asyncio.run(aiotus_many(endpoint, list_path, int(concurrency), cacert))
        case ["tuspy", endpoint, path, chunk]:
            tuspy_single(endpoint, path, int(chunk))
        case _:
            sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
