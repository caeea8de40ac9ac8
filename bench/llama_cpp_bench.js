#!/usr/bin/env node
// llama.cpp's CPU speed on one GGUF file, through node-llama-cpp (its prebuilt binaries pick
// the ggml-cpu kernels for this CPU at run time): the figures r1serve's engine is compared with.
//
//   node bench/llama_cpp_bench.js --model M.gguf [--threads 2] [--runs 3]
//       [--prompt_len 512] [--prompt_ids_file F] [--decode_tokens 64]
//       [--sequences 16] [--sequence_prompt_len 128] [--sequence_tokens 32]
//       [--kv_type f16|f32] [--flash_attention auto|on|off] [--seed 1] [--out FILE]
//       [--peers tests/peers/node_modules]
//
// Prompts: --prompt_ids_file (a JSON array of ids, or {"ids": [...]}) or, by default,
// makePromptIds(prompt_len, seed): ids drawn from [0, 100000) by a xorshift32 generator, ordinary
// vocabulary in both Qwen2 and Llama 3; concurrent sequence j gets makePromptIds(
// sequence_prompt_len, seed + 1 + j). A runner for r1serve can require this file and use the
// same function.
//
// Setup (not timed): llama.cpp CPU backend with exactly --threads threads (for prefill and
// decode), weights mmapped, KV cache f16 and flash attention "auto" by default (llama.cpp's own
// defaults), batch = ubatch = max(512, prompt_len). One warm-up pass (a prefill of the prompt and
// 8 decode steps) pages the weights in before the timed runs.
//
// What is timed, each of --runs times, on a cleared sequence (process.hrtime around awaited
// node-llama-cpp calls, so JS <-> native hops are included: about 0.1 ms per call):
// - prefill: one controlledEvaluate of the prompt_len prompt ids in one batch, asking for the
//   logits of the last position only and sampling its greedy token; tokens/s = prompt_len / time.
// - decode, batch 1: right after that prefill (so attention spans prompt_len..prompt_len +
//   decode_tokens positions), decode_tokens greedy steps, each one controlledEvaluate of the
//   previous token that returns the next; tokens/s = decode_tokens / time of all steps.
// - decode, 16 concurrent sequences: a second context with --sequences sequences; each sequence
//   is prefilled once with its own prompt (not timed), then in each run all run sequence_tokens
//   greedy steps at once, each in its own async loop as above, starting from the prompt (the
//   previous run's tokens are erased from the KV cache); node-llama-cpp gathers the pending
//   steps of all sequences into one llama_decode batch per step. Aggregate tokens/s =
//   sequences * sequence_tokens / time from the first step's start until every sequence has its
//   last token. Reported with it: the number of llama_decode batches (about sequence_tokens
//   when the steps are batched, sequences * sequence_tokens if not) and the share of the time
//   spent inside them.
// Every greedy step includes llama.cpp's sampling over the whole vocabulary (about 2 ms per
// token for a 152k vocabulary here) and node-llama-cpp's dispatch. llama.cpp's threads spin at
// barriers, so 2 threads on 2 cores that other work also uses are slowed down several times:
// run it on an idle machine (the load average at the start is in the output).
// Greedy steps never stop on EOS. Output: one JSON object with, per measure, the median,
// min and max over the runs and every run's value; progress goes to stderr.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const oracle = require('../tests/conformance/llama_cpp_oracle.js');
const {parseArgs} = require('../tests/conformance/make_corpus.js');

const DEFAULT_PEERS = path.resolve(__dirname, '../tests/peers/node_modules');

// `length` ids in [0, 100000), the xorshift32 sequence (13, 17, 5) from `seed` modulo 100000.
function makePromptIds(length, seed) {
  let s = (seed >>> 0) || 1;
  const ids = [];
  for (let i = 0; i < length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    ids.push(s % 100000);
  }
  return ids;
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const round = (x) => Math.round(x * 100) / 100;
  return {median: round(median), min: round(sorted[0]), max: round(sorted[sorted.length - 1]), runs: values.map(round)};
}

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

const GREEDY = {generateNext: {token: true, options: {temperature: 0}}};

// Evaluates `ids` on `sequence` in one call and returns the greedy token after the last one.
async function evaluateAndPick(sequence, ids) {
  const input = ids.map((id, i) => (i === ids.length - 1 ? [id, GREEDY] : id));
  const results = await sequence.controlledEvaluate(input);
  const token = results[ids.length - 1]?.next?.token;
  if (token === null || token === undefined) throw new Error('llama.cpp returned no token');
  return token;
}

async function decodeSteps(sequence, firstToken, steps) {
  let token = firstToken;
  for (let i = 0; i < steps; i++) token = await evaluateAndPick(sequence, [token]);
  return token;
}

const FLASH = {auto: 'auto', on: true, off: false};

// Counts the llama_decode batches a context runs, and the time spent in them, to show that
// concurrent sequences share batches and how much of the time is llama.cpp's own:
// node-llama-cpp's private native context (`_ctx`, read-only methods) is put behind a proxy
// that counts decodeBatch calls and forwards everything else to the real object.
const countDecodes = {n: 0, seconds: 0};
function countDecodesOf(context) {
  const native = context._ctx;
  context._ctx = new Proxy(native, {
    get(target, prop) {
      const value = target[prop];
      if (typeof value !== 'function') return value;
      if (prop === 'decodeBatch') {
        return async (...args) => {
          countDecodes.n++;
          const start = process.hrtime.bigint();
          try {
            return await value.apply(target, args);
          } finally {
            countDecodes.seconds += seconds(start);
          }
        };
      }
      return value.bind(target);
    },
  });
  return context;
}

async function createBenchContext(model, opts, {sequences, contextSize}) {
  return countDecodesOf(await model.createContext({
    contextSize,
    batchSize: Math.max(512, opts.promptIds.length, opts.sequencePromptLen),
    sequences,
    threads: {ideal: opts.threads, min: opts.threads},
    flashAttention: FLASH[opts.flashAttention],
    experimentalKvCacheKeyType: oracle.GGML_TYPE[opts.kvType],
    experimentalKvCacheValueType: oracle.GGML_TYPE[opts.kvType],
    failedCreationRemedy: false,
    ignoreMemorySafetyChecks: true,
  }));
}

async function runBench(opts) {
  const log = [];
  const progress = (m) => process.stderr.write(`llama_cpp_bench: ${m}\n`);
  // llama.cpp's threads spin at barriers: on a machine whose cores are busy with other work the
  // figures collapse (several times slower), so the load is recorded and warned about.
  const loadAverage = os.loadavg()[0];
  if (loadAverage > 0.5) progress(`warning: load average ${loadAverage.toFixed(2)}; other work skews the figures`);
  const nlc = await oracle.importNodeLlamaCpp(opts.peers);
  const llama = await oracle.openLlama(nlc, opts.threads, log);
  const model = await oracle.loadModel(llama, opts.model);

  // Prefill and batch-1 decode.
  let context = await createBenchContext(model, opts, {
    sequences: 1,
    contextSize: opts.promptIds.length + opts.decodeTokens + 16,
  });
  const flashAttention = context.flashAttention;
  const sequence = context.getSequence();
  progress(`warm-up (${opts.promptIds.length}-token prefill, 8 steps)`);
  await decodeSteps(sequence, await evaluateAndPick(sequence, opts.promptIds), 8);
  const prefill = [];
  const decode = [];
  for (let run = 0; run < opts.runs; run++) {
    await sequence.clearHistory();
    let start = process.hrtime.bigint();
    const first = await evaluateAndPick(sequence, opts.promptIds);
    prefill.push(opts.promptIds.length / seconds(start));
    start = process.hrtime.bigint();
    await decodeSteps(sequence, first, opts.decodeTokens);
    decode.push(opts.decodeTokens / seconds(start));
    progress(`run ${run + 1}: prefill ${prefill[run].toFixed(1)} tok/s, decode ${decode[run].toFixed(2)} tok/s`);
  }
  await context.dispose();

  // Concurrent decode.
  context = await createBenchContext(model, opts, {
    sequences: opts.sequences,
    contextSize: opts.sequencePromptLen + opts.sequenceTokens + 16,
  });
  const sequences = [];
  for (let j = 0; j < opts.sequences; j++) sequences.push(context.getSequence());
  const prompts = sequences.map((_, j) => makePromptIds(opts.sequencePromptLen, opts.seed + 1 + j));
  const concurrent = [];
  const batchesPerRun = [];
  const decodeShare = [];
  progress(`prefilling ${opts.sequences} sequences of ${opts.sequencePromptLen} tokens (not timed)`);
  const firsts = await Promise.all(sequences.map((s, j) => evaluateAndPick(s, prompts[j])));
  for (let run = 0; run < opts.runs; run++) {
    if (run > 0) {
      await Promise.all(sequences.map((s) => s.eraseContextTokenRanges([{start: opts.sequencePromptLen, end: s.nextTokenIndex}])));
    }
    const batchesBefore = countDecodes.n;
    const decodeSecondsBefore = countDecodes.seconds;
    const start = process.hrtime.bigint();
    await Promise.all(sequences.map((s, j) => decodeSteps(s, firsts[j], opts.sequenceTokens)));
    const elapsed = seconds(start);
    concurrent.push(opts.sequences * opts.sequenceTokens / elapsed);
    batchesPerRun.push(countDecodes.n - batchesBefore);
    decodeShare.push((countDecodes.seconds - decodeSecondsBefore) / elapsed);
    progress(`run ${run + 1}: ${opts.sequences} sequences ${concurrent[run].toFixed(1)} tok/s aggregate ` +
        `(${batchesPerRun[run]} batches for ${opts.sequenceTokens} steps, ` +
        `${(100 * decodeShare[run]).toFixed(0)}% of the time in llama_decode)`);
  }
  await context.dispose();

  const result = {
    peer: 'node-llama-cpp',
    peer_version: JSON.parse(fs.readFileSync(path.join(opts.peers, 'node-llama-cpp', 'package.json'), 'utf8')).version,
    llama_cpp: llama.llamaCppRelease.release,
    cpu_features: oracle.cpuFeatures(llama),
    model: path.resolve(opts.model),
    model_type: model.typeDescription,
    model_bytes: model.size,
    load_average_at_start: Math.round(loadAverage * 100) / 100,
    cpus: os.cpus().length,
    threads: opts.threads,
    kv_type: opts.kvType,
    flash_attention: flashAttention,
    runs: opts.runs,
    prefill: {prompt_tokens: opts.promptIds.length, tokens_per_s: summary(prefill)},
    decode_batch1: {
      context_start: opts.promptIds.length,
      tokens: opts.decodeTokens,
      tokens_per_s: summary(decode),
    },
    decode_concurrent: {
      sequences: opts.sequences,
      prompt_tokens_each: opts.sequencePromptLen,
      tokens_each: opts.sequenceTokens,
      tokens_per_s: summary(concurrent),
      llama_decode_batches: batchesPerRun,
      llama_decode_time_share: decodeShare.map((x) => Math.round(x * 1000) / 1000),
    },
    llama_cpp_log: log,
  };
  await model.dispose();
  await llama.dispose();
  return result;
}

function optionsFrom(args) {
  if (!args.model) throw new Error('--model FILE.gguf is required');
  const seed = Number(args.seed || 1);
  let promptIds;
  if (args.prompt_ids_file) {
    const json = JSON.parse(fs.readFileSync(args.prompt_ids_file, 'utf8'));
    promptIds = Array.isArray(json) ? json : json.ids;
  } else {
    promptIds = makePromptIds(Number(args.prompt_len || 512), seed);
  }
  const kvType = args.kv_type || 'f16';
  if (!oracle.GGML_TYPE[kvType]) throw new Error(`--kv_type ${kvType}: want f16 or f32`);
  const flashAttention = args.flash_attention || 'auto';
  if (!(flashAttention in FLASH)) throw new Error(`--flash_attention ${flashAttention}: want auto, on or off`);
  return {
    model: args.model,
    threads: Number(args.threads || 2),
    runs: Number(args.runs || 3),
    promptIds,
    decodeTokens: Number(args.decode_tokens || 64),
    sequences: Number(args.sequences || 16),
    sequencePromptLen: Number(args.sequence_prompt_len || 128),
    sequenceTokens: Number(args.sequence_tokens || 32),
    kvType,
    flashAttention,
    seed,
    peers: path.resolve(args.peers || DEFAULT_PEERS),
  };
}

module.exports = {makePromptIds, runBench, optionsFrom};

if (require.main === module) {
  (async () => {
    const args = parseArgs(process.argv.slice(2));
    const result = await runBench(optionsFrom(args));
    const json = JSON.stringify(result, null, 2) + '\n';
    if (args.out) fs.writeFileSync(args.out, json);
    process.stdout.write(json);
  })().catch((e) => {
    console.error(`llama_cpp_bench: ${e.message}`);
    process.exit(1);
  });
}
