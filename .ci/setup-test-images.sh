#!/usr/bin/env bash
# Builds the Python test image once per machine: a Debian minbase root with python3 (mmdebstrap,
# ~50 s, ~200 MB), as an OCI image layout with one gzip layer. It is kept under
# /var/cache/trainyard-test-images/<first 16 hex of this script's sha256>/python, so a changed script
# builds a new one and reruns on the same machine reuse it. Tests and benchmarks push it with skopeo.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
key="$(sha256sum "$here/setup-test-images.sh" | cut -c1-16)"
cache="${TRAINYARD_TEST_IMAGES:-/var/cache/trainyard-test-images}"
out="$cache/$key/python"
if [ -f "$out/index.json" ]; then
  exit 0
fi
mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "Building the Python test image (mmdebstrap, once per machine) into $out…"
mmdebstrap --quiet --variant=minbase --include=python3 --format=tar bookworm "$work/rootfs.tar"
python3 - "$work" <<'PY'
import gzip, hashlib, json, os, shutil, sys
work = sys.argv[1]
layout = os.path.join(work, "python")
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)
raw = hashlib.sha256()
compressed_path = os.path.join(work, "layer.tar.gz")
with open(os.path.join(work, "rootfs.tar"), "rb") as src, open(compressed_path, "wb") as dst:
    with gzip.GzipFile(fileobj=dst, mode="wb", compresslevel=6, mtime=0) as z:
        while chunk := src.read(1 << 20):
            raw.update(chunk)
            z.write(chunk)
layer = hashlib.sha256()
with open(compressed_path, "rb") as f:
    while chunk := f.read(1 << 20):
        layer.update(chunk)
layer_digest = "sha256:" + layer.hexdigest()
shutil.move(compressed_path, os.path.join(blobs, layer.hexdigest()))
config = {
    "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine),
    "os": "linux",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"], "Cmd": ["python3"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + raw.hexdigest()]},
}
config_digest, config_size = put(json.dumps(config).encode())
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": os.path.getsize(os.path.join(blobs, layer.hexdigest()))}],
}
manifest_digest, manifest_size = put(json.dumps(manifest).encode())
with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
               "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "3"}}]}, f)
PY
mkdir -p "$cache/$key"
mv "$work/python" "$out"
echo "Python test image: $out ($(du -sh "$out" | cut -f1))"
