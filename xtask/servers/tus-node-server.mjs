// Starts @tus/server with a FileStore for tus-rs's integration tests.
//
// Installed into `.tools/node/` (next to its node_modules) by `cargo xtask servers install`;
// started by `tests/support/real.rs` and by `cargo xtask servers run node`.
//
// Usage: node tus-node-server.mjs --dir <data dir> [--port <n>] [--host <addr>] [--path </files>]
//            [--relative-location] [--expiration-ms <n>] [--max-size <n>]
//            [--disable-termination-for-finished-uploads] [--ignore-stdin]
//
// Prints exactly one line `LISTENING <port>` on stdout once it accepts connections (`--port 0`, the
// default, picks a free port). Exits on SIGTERM/SIGINT and, unless `--ignore-stdin`, when its
// stdin reaches EOF, so a harness that keeps stdin piped never leaves it behind.
//
// Storage (@tus/file-store 2.x with its default FileConfigstore): upload bytes in `<dir>/<id>`,
// the upload's JSON record (size, metadata, creation_date) in `<dir>/<id>.json`.

import process from 'node:process';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

function usage(message) {
  process.stderr.write(`tus-node-server: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1',
    port: 0,
    path: '/files',
    dir: undefined,
    relativeLocation: false,
    expirationMs: undefined,
    maxSize: undefined,
    disableTerminationForFinishedUploads: false,
    ignoreStdin: false,
  };
  const value = (i, flag) => {
    if (i >= argv.length) usage(`${flag} needs a value`);
    return argv[i];
  };
  const integer = (text, flag) => {
    if (!/^\d+$/.test(text)) usage(`${flag} needs a non-negative integer, got ${JSON.stringify(text)}`);
    return Number(text);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--host':
        opts.host = value(++i, flag);
        break;
      case '--port':
        opts.port = integer(value(++i, flag), flag);
        break;
      case '--path':
        opts.path = value(++i, flag);
        break;
      case '--dir':
        opts.dir = value(++i, flag);
        break;
      case '--relative-location':
        opts.relativeLocation = true;
        break;
      case '--expiration-ms':
        opts.expirationMs = integer(value(++i, flag), flag);
        break;
      case '--max-size':
        opts.maxSize = integer(value(++i, flag), flag);
        break;
      case '--disable-termination-for-finished-uploads':
        opts.disableTerminationForFinishedUploads = true;
        break;
      case '--ignore-stdin':
        opts.ignoreStdin = true;
        break;
      default:
        usage(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  if (!opts.dir) usage('--dir <data dir> is required');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// FileStore's default configstore (FileConfigstore = FileKvStore over the same directory) keeps
// `<id>.json` next to the data and implements `list()`, which `cleanUpExpiredUploads()` needs.
// Expiration itself needs nothing else: with a period > 0 the server sends `Upload-Expires` on
// POST/PATCH of unfinished uploads and answers HEAD/PATCH of expired ones with 410.
const datastore = new FileStore({
  directory: opts.dir,
  ...(opts.expirationMs !== undefined ? { expirationPeriodInMilliseconds: opts.expirationMs } : {}),
});

const server = new Server({
  path: opts.path,
  datastore,
  relativeLocation: opts.relativeLocation,
  ...(opts.maxSize !== undefined ? { maxSize: opts.maxSize } : {}),
  ...(opts.disableTerminationForFinishedUploads ? { disableTerminationForFinishedUploads: true } : {}),
});

// `Server#listen` is `http.createServer(server.handle.bind(server)).listen(...)`.
const httpServer = server.listen(opts.port, opts.host, () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
httpServer.on('error', (err) => {
  process.stderr.write(`tus-node-server: ${err.stack ?? err}\n`);
  process.exit(1);
});

function shutdown(reason) {
  process.stderr.write(`tus-node-server: exiting (${reason})\n`);
  // Don't wait for keep-alive connections or in-flight uploads: the harness is done with us.
  process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (!opts.ignoreStdin) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.on('data', () => {});
  process.stdin.resume();
}
