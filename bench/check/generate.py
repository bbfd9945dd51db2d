#!/usr/bin/env python3
"""Writes a seam document and an equivalent nginx config with N routes into a folder.

Usage: generate.py N OUT_DIR

The seam document: 4 storages, N/10 RespondActions, N routes (static, `:param` and `*`
paths, 2 methods each), grouped 10 per service with a base path. The nginx config: the
same N paths as `location` blocks answering with `return 200`, which `nginx -t` checks.
"""
import os
import sys

n = int(sys.argv[1])
out = sys.argv[2]
os.makedirs(out, exist_ok=True)

lines = [
    "# yaml-language-server: $schema=../../config-schema/seam.schema.json",
    "server:",
    "  address: 127.0.0.1:0",
    "storages:",
]
for s in range(4):
    lines += [f"  Store{s}:", "    use: plugins.memory.storages.MemoryStorage", "    config: { maxEntries: 1000 }"]
lines.append("actions:")
for a in range(max(1, n // 10)):
    lines += [f"  Action{a}:", "    use: plugins.respond.actions.RespondAction",
              f"    config: {{ status: 200, body: \"action {a}\", headers: {{ X-Action: \"{a}\" }} }}"]
lines.append("routes:")
paths = []
for r in range(n):
    shape = r % 3
    path = [f"/r{r}/items", f"/r{r}/items/:id", f"/r{r}/files/*"][shape]
    paths.append(path)
    lines += [f"  Route{r}:", f"    gatewayPath: {path}", "    methods: [GET, POST]",
              f"    action: Action{r // 10}"]
lines.append("services:")
for s in range((n + 9) // 10):
    members = ", ".join(f"Route{r}" for r in range(s * 10, min(n, s * 10 + 10)))
    lines += [f"  Service{s}:", f"    gatewayBasePath: /svc{s}", f"    routes: [{members}]"]
with open(os.path.join(out, f"seam-{n}.yaml"), "w") as f:
    f.write("\n".join(lines) + "\n")

conf = [
    f"pid {out}/nginx.pid;",
    "error_log stderr;",
    "events { worker_connections 1024; }",
    "http {",
    "  access_log off;",
    f"  client_body_temp_path {out}/tmp;",
    "  server {",
    "    listen 127.0.0.1:8099;",
]
for r, path in enumerate(paths):
    service = r // 10
    if path.endswith("/*"):
        loc = f"location /svc{service}{path[:-1]}"
    elif ":id" in path:
        loc = f"location ~ ^/svc{service}{path.replace(':id', '[^/]+')}$"
    else:
        loc = f"location = /svc{service}{path}"
    conf.append(f"    {loc} {{ limit_except GET POST {{ deny all; }} return 200 \"action {r // 10}\"; }}")
conf += ["  }", "}"]
with open(os.path.join(out, f"nginx-{n}.conf"), "w") as f:
    f.write("\n".join(conf) + "\n")
