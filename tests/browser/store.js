// store.js — a real `extrace store` for the tests: free ports, a temp data
// dir, stopped at the end.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

// The store binds port 0 for each listener and logs the port the kernel
// gave it; a port picked free beforehand could be taken in between by a
// client socket of a parallel test (the siege and chaos tests hold
// thousands of ephemeral ports).
const PORT_LINES = {
  http: /query API and UI listening on \S+ \(port (\d+)\)/,
  otlpHttp: /OTLP\/HTTP listening on \S+ \(port (\d+)\)/,
  otlpGrpc: /OTLP\/gRPC listening on \S+ \(port (\d+)\)/,
};

function boundPorts(text) {
  const ports = {};
  for (const [k, re] of Object.entries(PORT_LINES)) {
    const m = re.exec(text);
    if (!m) return null;
    ports[k] = Number(m[1]);
  }
  return ports;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Start the store; resolves to {base, otlp, grpcPort, dir, log, logText(),
// stop()} once /ready answers.
async function startStore(bin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extrace-ui-store-'));
  const log = path.join(dir, 'store.log');
  const out = fs.openSync(log, 'a');
  const args = ['store', '--data-dir', dir, '--http-listen', '127.0.0.1:0',
    '--otlp-http-listen', '127.0.0.1:0', '--otlp-grpc-listen', '127.0.0.1:0'];
  const child = spawn(bin, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, sig) => { exited = sig || code; });
  const store = {
    dir, log,
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
    const ports = store.base ? null : boundPorts(store.logText());
    if (ports) {
      store.base = `http://127.0.0.1:${ports.http}`;
      store.otlp = `http://127.0.0.1:${ports.otlpHttp}`;
      store.grpcPort = ports.otlpGrpc;
    }
    try {
      if (store.base && (await fetch(`${store.base}/ready`)).ok) return store;
    } catch (_) { /* not listening yet */ }
    await sleep(50);
  }
  await store.stop();
  throw new Error(`extrace store did not answer /ready within 10 s:\n${store.logText()}`);
}

module.exports = { startStore, sleep };
