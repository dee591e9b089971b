// Peer driver for `cargo xtask bench`: tus-js-client in Node, installed into .tools/bench/ (npm ci).
//
// Usage: node js_driver.mjs ENDPOINT FILE CHUNK
//
// CHUNK is bytes per PATCH, or 0 for one PATCH (chunkSize Infinity). The file is given as an
// fs.ReadStream, which tus-js-client reads by path in slices (its FileSource), so the whole file is
// never held in memory. Prints the upload URL; exits 1 on error. No retries, no URL storage.

import fs from 'node:fs';
import process from 'node:process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tus = require('tus-js-client');

const [endpoint, path, chunkArg] = process.argv.slice(2);
if (!endpoint || !path || chunkArg === undefined) {
  process.stderr.write('usage: node js_driver.mjs ENDPOINT FILE CHUNK\n');
  process.exit(2);
}
const chunk = Number(chunkArg);
const size = fs.statSync(path).size;

const upload = new tus.Upload(fs.createReadStream(path), {
  endpoint,
  uploadSize: size,
  chunkSize: chunk > 0 ? chunk : Infinity,
  retryDelays: null,
  storeFingerprintForResuming: false,
  removeFingerprintOnSuccess: false,
  onError(err) {
    process.stderr.write(`tus-js-client: ${err}\n`);
    process.exit(1);
  },
  onSuccess() {
    process.stdout.write(`${upload.url}\n`);
  },
});
upload.start();
