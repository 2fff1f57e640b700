// store.js — a real `extrace store` for the tests: free ports, a temp data
// dir, stopped at the end.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

// A TCP port on 127.0.0.1 that was free a moment ago.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Start the store; resolves to {base, otlp, dir, log, logText(), stop()} once /ready answers.
async function startStore(bin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extrace-ui-store-'));
  const [http, otlpHttp, otlpGrpc] = [await freePort(), await freePort(), await freePort()];
  const log = path.join(dir, 'store.log');
  const out = fs.openSync(log, 'a');
  const args = ['store', '--data-dir', dir, '--http-listen', `127.0.0.1:${http}`,
    '--otlp-http-listen', `127.0.0.1:${otlpHttp}`, '--otlp-grpc-listen', `127.0.0.1:${otlpGrpc}`];
  const child = spawn(bin, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, sig) => { exited = sig || code; });
  const base = `http://127.0.0.1:${http}`;
  const store = {
    base, otlp: `http://127.0.0.1:${otlpHttp}`, dir, log,
    logText: () => fs.readFileSync(log, 'utf8'),
    // Stop (SIGTERM, SIGKILL after 5 s), keep the log at logCopy if
    // given, remove the data dir. Resolves to the exit code or signal.
    async stop(logCopy) {
      if (exited === null) {
        child.kill('SIGTERM');
        for (let i = 0; i < 100 && exited === null; i++) await sleep(50);
        if (exited === null) child.kill('SIGKILL');
        for (let i = 0; i < 100 && exited === null; i++) await sleep(50);
      }
      if (logCopy) fs.copyFileSync(log, logCopy);
      fs.rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
  for (let i = 0; i < 200; i++) {
    if (exited !== null) throw new Error(`extrace ${args.join(' ')} exited (${exited}):\n${store.logText()}`);
    try {
      if ((await fetch(`${base}/ready`)).ok) return store;
    } catch (_) { /* not listening yet */ }
    await sleep(50);
  }
  await store.stop();
  throw new Error(`extrace store did not answer ${base}/ready within 10 s`);
}

module.exports = { startStore, freePort, sleep };
