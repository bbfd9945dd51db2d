#!/usr/bin/env python3
"""Mixed traffic through one seam for DURATION seconds: proxy, sessions, limiter and cache
routes, with a 5 % share of slow clients (headers sent a byte at a time) and aborted ones
(connection closed mid-request). Every minute it records seam's RSS, open file
descriptors, the error counts and the p99 latency; it restarts Valkey once, at the middle.

usage: soak.py GATEWAY_PORT SEAM_PID DURATION_SECS RESTART_CMD OUT_JSON
"""
import asyncio, json, os, random, sys, time

port, pid, duration, restart_cmd, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
PATHS = ["/plain/hello", "/session/hello", "/limited/hello", "/cached/10k.txt"]
minute = {"latencies": [], "status": {}, "errors": 0}
rows = []
outage = {"start": None, "end": None}
cookie = None


def record(status, took):
    minute["latencies"].append(took)
    minute["status"][status] = minute["status"].get(status, 0) + 1


async def request(path, slow=False, abort=False):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    head = f"GET {path} HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n"
    if cookie:
        head += f"cookie: {cookie}\r\n"
    head += "\r\n"
    try:
        if abort:
            writer.write(head[: len(head) // 2].encode())
            await writer.drain()
            return
        if slow:
            for ch in head.encode():
                writer.write(bytes([ch]))
                await writer.drain()
                await asyncio.sleep(0.01)
        else:
            writer.write(head.encode())
            await writer.drain()
        started = time.monotonic()
        data = await asyncio.wait_for(reader.read(), 15)
        took = time.monotonic() - started
        line = data.split(b"\r\n", 1)[0].split(b" ")
        record(int(line[1]) if len(line) > 1 and line[1].isdigit() else 0, took)
    finally:
        writer.close()


async def worker(stop):
    while time.monotonic() < stop:
        roll = random.random()
        try:
            await request(random.choice(PATHS), slow=roll < 0.025, abort=0.025 <= roll < 0.05)
        except Exception:
            minute["errors"] += 1
            await asyncio.sleep(0.05)


def sample():
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) // 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    lat = sorted(minute["latencies"])
    p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else 0
    five = sum(n for s, n in minute["status"].items() if s >= 500)
    rows.append({"minute": len(rows) + 1, "requests": len(lat), "rss_mib": rss, "fds": fds, "p99_ms": round(p99, 1),
                 "5xx": five, "errors": minute["errors"], "status": dict(sorted(minute["status"].items()))})
    print(rows[-1], flush=True)
    minute["latencies"], minute["status"], minute["errors"] = [], {}, 0


async def main():
    global cookie
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /session/login HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
    data = (await reader.read()).decode("latin1")
    writer.close()
    cookie = next(l.split(":", 1)[1].strip().split(";")[0] for l in data.split("\r\n") if l.lower().startswith("set-cookie:"))
    start = time.monotonic()
    stop = start + duration
    tasks = [asyncio.create_task(worker(stop)) for _ in range(16)]
    next_sample = start + 60
    restarted = False
    while time.monotonic() < stop:
        await asyncio.sleep(1)
        now = time.monotonic()
        if not restarted and now - start >= duration / 2:
            outage["start"] = round(now - start)
            proc = await asyncio.create_subprocess_shell(restart_cmd)
            await proc.wait()
            outage["end"] = round(time.monotonic() - start)
            restarted = True
        if now >= next_sample:
            sample()
            next_sample += 60
    await asyncio.gather(*tasks, return_exceptions=True)
    json.dump({"rows": rows, "outage": outage}, open(out, "w"))


asyncio.run(main())
