#!/bin/sh
# Peer driver for `cargo xtask bench`: curl, one streamed PATCH (`-T`), as a shell user would.
#
# Usage: curl_upload.sh ENDPOINT FILE [extra curl args, e.g. --cacert PEM]
#
# Creates the upload with a POST, then sends the whole file in one PATCH. `Expect:` is emptied so
# curl does not wait for `100 Continue`. Prints the upload URL.
set -eu
endpoint=$1
file=$2
shift 2
size=$(wc -c <"$file" | tr -d ' ')
location=$(curl -sS -f "$@" -X POST -o /dev/null -D - \
  -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $size" "$endpoint" |
  tr -d '\r' | sed -n 's/^[Ll]ocation: *//p')
[ -n "$location" ] || { echo "curl_upload: no Location" >&2; exit 1; }
curl -sS -f "$@" -X PATCH -T "$file" -o /dev/null \
  -H 'Tus-Resumable: 1.0.0' -H 'Upload-Offset: 0' -H 'Expect:' \
  -H 'Content-Type: application/offset+octet-stream' "$location"
echo "$location"
