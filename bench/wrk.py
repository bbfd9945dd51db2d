"""Reading `wrk --latency` output, for the benchmark drivers' result tables."""
import os
import re
import subprocess


def parse(path):
    """(requests/s, p50 ms, p99 ms, non-2xx responses) of one wrk run saved at `path`."""
    body = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", body).group(1))

    def percentile(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", body)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", body)
    return rps, percentile(50), percentile(99), int(errors.group(1)) if errors else 0


def machine():
    """`<cpu model> (<n> cores)` of this machine, and the seam binary when it is not the
    plain release build (`SEAM_BIN`, as bench/lib.sh reads it)."""
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    binary = os.environ.get("SEAM_BIN")
    return f"{cpu} ({cores} cores)" + (f", seam binary `SEAM_BIN={binary}`" if binary else "")


def parse_h2load(path):
    """(requests/s, mean ms, mean ms, failed requests) of one h2load run saved at `path`
    (h2load reports no percentiles)."""
    body = open(path).read()
    rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", body).group(1))
    m = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", body)
    value, unit = float(m.group(1)), m.group(2)
    mean = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    failed = int(re.search(r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed", body).group(1))
    if failed:
        raise ValueError(f"{path}: {failed} requests failed")
    return rps, mean, mean, failed


def median_run(work, name, rounds):
    """The run of `name` (files `{work}/{name}-{round}.wrk`) with the median req/s."""
    runs = sorted((parse(f"{work}/{name}-{r}.wrk") for r in range(1, rounds + 1)), key=lambda x: x[0])
    return runs[len(runs) // 2]


def comparison(work, rounds, rows, column="route"):
    """The table of `rows` — (name of the runs, label) — each the median of its runs, with its
    ratio to the first row's req/s."""
    runs = [(label, median_run(work, name, rounds)) for name, label in rows]
    base = runs[0][1][0]
    lines = [f"| {column} | req/s | p50 ms | p99 ms | non-2xx | vs {rows[0][0]} |", "|---|---:|---:|---:|---:|---:|"]
    for label, (rps, p50, p99, errors) in runs:
        lines.append(f"| {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / base:.2f}× |")
    return "\n".join(lines)
