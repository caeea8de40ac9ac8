// Starts an r1serve service binary as a child process on loopback (ports picked by the server),
// waits for its "listening" line and for health SERVING, and stops it with SIGTERM.
//
//   const svc = await startService('r1serve-tokenizer', ['--tokenizer=...']);
//   ... svc.grpcAddress, svc.metricsPort ...
//   const exit = await svc.stop();  // {code, signal}
'use strict';

const {spawn} = require('node:child_process');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const SOURCE_DIR = process.env.R1SERVE_SOURCE_DIR || path.resolve(__dirname, '../..');
const BUILD_DIR = process.env.R1SERVE_BUILD_DIR || path.join(SOURCE_DIR, 'build');
const GRPC_PROTO_DIR = '/usr/share/grpc-proto';  // Debian package grpc-proto

function loadProtos(files) {
  const definition = protoLoader.loadSync(files, {
    includeDirs: [path.join(SOURCE_DIR, 'proto'), GRPC_PROTO_DIR],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}

function binary(name) {
  return path.join(BUILD_DIR, 'bin', name);
}

// Runs a binary to completion: {code, signal, stdout, stderr}.
function runToExit(name, args, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary(name), args, {stdio: ['ignore', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({code, signal, stdout, stderr});
    });
  });
}

async function startService(name, args, {timeoutMs = 30000} = {}) {
  const child = spawn(binary(name), ['--host=127.0.0.1', '--port=0', '--metrics_port=0', ...args],
                      {stdio: ['ignore', 'pipe', 'pipe']});
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({code, signal})));
  const listening = new Promise((resolve, reject) => {
    const onData = (d) => {
      output += d;
      const m = /r1serve \S+ listening grpc=([^\s]+) metrics=(\d+|off)/.exec(output);
      if (m) resolve({grpcAddress: m[1], metricsPort: m[2] === 'off' ? -1 : Number(m[2])});
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(({code, signal}) =>
      reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${output}`)));
    // unref: a pending timer must not keep the test process alive after the service started.
    setTimeout(() => reject(new Error(`${name} not listening after ${timeoutMs} ms:\n${output}`)),
               timeoutMs).unref();
  });
  const {grpcAddress, metricsPort} = await listening;
  const svc = {
    child,
    grpcAddress,
    metricsPort,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
  await waitServing(grpcAddress, timeoutMs);
  return svc;
}

const healthPackage = loadProtos(['grpc/health/v1/health.proto']);

function healthClient(address) {
  return new healthPackage.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

function unary(client, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

async function waitServing(address, timeoutMs) {
  const client = healthClient(address);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        const r = await unary(client, 'Check', {service: ''});
        if (r.status === 'SERVING') return;
      } catch (e) {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`${address} never became SERVING`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client.close();
  }
}

async function fetchMetrics(port) {
  // fetch keeps connections alive and may reuse one the exposer has just closed ("fetch
  // failed"): a network error gets one more try on a fresh connection.
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
      return await response.text();
    } catch (e) {
      if (attempt >= 1 || !(e instanceof TypeError)) throw e;
    }
  }
}

// The value of one Prometheus sample whose name and labels all match, or undefined.
function metricValue(text, name, labels = {}) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

module.exports = {
  SOURCE_DIR, BUILD_DIR, loadProtos, startService, runToExit, healthClient, unary, fetchMetrics,
  metricValue, grpc,
};
