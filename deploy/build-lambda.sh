#!/usr/bin/env bash
# npm run build:lambda: bundles the Parameter Store Change Lambda (lambdas/parameterStoreChange.ts,
# exporting `handler`) into dist/lambda/index.js and zips it to dist/lambda/parameter-store-change.zip,
# the S3 object deploy/template.yaml's ParameterStoreChangeFunction runs as `index.handler`.
#
# - @aws-sdk/* stays out: the Lambda Node.js runtime provides AWS SDK v3, and leaving it out keeps the
#   zip small and cold starts short. Everything else is bundled, @temporalio/client included (plain
#   JavaScript over @grpc/grpc-js; no native code).
# - No minifying, and a source map (the function runs with --enable-source-maps), so stack traces in
#   the logs name the TypeScript files and lines.
# - The value-schema threads' script (activities/storage/schemaPool.ts) is bundled beside index.js as
#   schemaWorker.js, where the pool looks for it: schemas are evaluated off the event loop here too.
#   tsx stays out: the pool loads it only to run that script from TypeScript source, never in the bundle.
# - The zip is reproducible (fixed timestamps and order), so its hash changes only when the code does:
#   upload it under a key with the hash and CloudFormation updates the function exactly then.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENTRY="$REPO_ROOT/lambdas/parameterStoreChange.ts"
SCHEMA_WORKER="$REPO_ROOT/activities/storage/schemaWorker.ts"
OUT_DIR="$REPO_ROOT/dist/lambda"
ZIP="$OUT_DIR/parameter-store-change.zip"

[[ -f "$ENTRY" ]] || {
  echo "build:lambda: $ENTRY does not exist" >&2
  exit 1
}
rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"

"$REPO_ROOT/node_modules/.bin/esbuild" "index=$ENTRY" "schemaWorker=$SCHEMA_WORKER" \
  --bundle --platform=node --target=node24 --format=cjs \
  --external:'@aws-sdk/*' --external:tsx \
  --sourcemap --sources-content=false \
  --outdir="$OUT_DIR" --log-level=warning

python3 - "$OUT_DIR" "$ZIP" <<'PY'
import os
import sys
import zipfile

out_dir, zip_path = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
    for name in ("index.js", "index.js.map", "schemaWorker.js", "schemaWorker.js.map"):
        entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        entry.external_attr = 0o644 << 16  # readable by the runtime's user
        entry.compress_type = zipfile.ZIP_DEFLATED
        with open(os.path.join(out_dir, name), "rb") as source:
            archive.writestr(entry, source.read())
PY

echo "build:lambda: $(realpath --relative-to="$REPO_ROOT" "$ZIP") ($(du -k "$ZIP" | cut -f1) KB)"
