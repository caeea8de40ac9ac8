#!/usr/bin/env node
// The expected answers for engine conformance, from llama.cpp itself loading the same GGUF file
// as r1serve: the next-token distribution at the last prompt position and the greedy
// continuation of N tokens.
//
//   node tests/conformance/llama_cpp_oracle.js --model M.gguf --ids 151646,9707,11 \
//       [--steps 32] [--threads 2] [--kv_type f32|f16] [--top_k 20] [--out FILE]
//       [--peer node-llama-cpp|llama.node] [--peers tests/peers/node_modules]
//   --ids_file F (a JSON array of ids, or {"ids": [...]}) instead of --ids;
//   --text "..." instead of ids: tokenized by llama.cpp with special tokens parsed, BOS prepended
//   only with --add_bos true (default false), the resulting ids are in the output.
//
// Peer node-llama-cpp (the default; the exact one). The prompt ids go into a fresh context
// sequence as they are (controlledEvaluate): nothing is added or removed, no BOS, no chat
// template; the script checks that the sequence holds exactly those ids afterwards. Each step
// samples with temperature 0, which is llama.cpp's greedy sampler alone (no penalties, no bias:
// the argmax, the lowest id on an exact tie), and feeds the token back; EOS does not stop it.
// One context, one sequence, context size >= prompt+steps (llama.cpp rounds it up to 256),
// batch = ubatch >= the prompt so that the prompt is one forward pass, flash attention off, KV
// cache f32 unless --kv_type f16, CPU only, weights mmapped read-only.
// node-llama-cpp exposes no raw logits: it returns, for the chosen position, llama.cpp's
// float32 softmax over the whole vocabulary of the raw logits (the greedy sampler leaves them
// untouched). The output therefore holds log-probabilities, logits minus their logsumexp,
// exact to about 1e-7 absolute: compare r1serve's logits the same way
// (logits - logsumexp(logits)), never as raw values. A probability that underflowed float32 (a
// logit more than ~103 below the maximum) is null.
//
// Peer llama.node (@fugood/llama.node: a generic x86-64 build without AVX, slow, correctness
// only). Its completion API takes text, not ids: the script detokenizes the ids and requires
// that llama.node tokenizes the text back to exactly those ids (else it fails, naming the first
// difference; a random model's greedy output is usually not a canonical tokenization, so only
// real prompts go through), drops the leading BOS when the model's add_bos_token makes
// llama.node prepend it, and checks that llama.node evaluated exactly as many prompt tokens.
// Greedy is temperature 0 with top_k 1 (temperature 0 alone still samples in llama.node). It
// gives the top_k probabilities at the last prompt position by token text and the greedy
// tokens as texts; no ids, no full distribution. --out is required (its native code prints to
// stdout).
//
// Output (stdout, or --out FILE), one JSON object:
//   peer, peer_version, llama_cpp (its release), model, prompt_ids, threads, kv_type,
//   flash_attention, and
//   node-llama-cpp: cpu_features (of the ggml-cpu variant picked at run time), architecture,
//     n_vocab, bos, eos, model_adds_bos, context_size, batch_size,
//     last_logprobs  [n_vocab] log-softmax at the last prompt position,
//     underflowed    how many of those are null,
//     greedy_ids     [steps] the greedy continuation,
//     steps          [{token, logprob, top: [[id, logprob] x top_k]}], one per greedy step
//                    (step i is the distribution that token i was chosen from),
//     llama_cpp_log  llama.cpp's warnings and errors (e.g. about the file's metadata);
//   llama.node: last_top_text [[token text, prob] x top_k], greedy_pieces [steps texts],
//     greedy_text.
// Numerics worth knowing when choosing tolerances: for F16/BF16/Q8_0 weight matrices the ggml
// CPU backend rounds each activation row to that type's dot-product type (F16, BF16, Q8_0
// blocks of 32) before the matmul; F32 weights keep F32 activations. With --kv_type f16 the
// cached K/V, and the query multiplied with K, are rounded to F16 too.
//
// Module use: runOracle(optionsFrom({model, ids: '1,2,3', steps: '32'})) returns the object.
'use strict';

const fs = require('fs');
const path = require('path');
const {pathToFileURL} = require('url');
const {parseArgs} = require('./make_corpus.js');

const DEFAULT_PEERS = path.resolve(__dirname, '../peers/node_modules');

function peerVersion(peersDir, name) {
  return JSON.parse(fs.readFileSync(path.join(peersDir, name, 'package.json'), 'utf8')).version;
}

// node-llama-cpp is ESM only: import its entry file by path, so that the peers folder need not
// be on node's resolution path.
async function importNodeLlamaCpp(peersDir) {
  return import(pathToFileURL(path.join(peersDir, 'node-llama-cpp', 'dist', 'index.js')).href);
}

// A Llama instance that can only use the prebuilt CPU binaries shipped in
// @node-llama-cpp/linux-x64: never a GPU, never a download or a source build. llama.cpp's log
// lines at warn level and above are appended to `log`.
async function openLlama(nlc, threads, log) {
  return nlc.getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    usePrebuiltBinaries: true,
    progressLogs: false,
    maxThreads: threads,
    logLevel: nlc.LlamaLogLevel.warn,
    logger: (level, message) => log.push(`${level}: ${message.trim()}`),
  });
}

// The instruction sets of the ggml-cpu variant llama.cpp picked at run time for this CPU (the
// prebuilt package carries one per x86-64 generation), e.g. "AVX2 = 1 | F16C = 1 | FMA = 1".
function cpuFeatures(llama) {
  return llama.systemInfo.replace(/^CPU : /, '').split('|').map((s) => s.trim()).filter((s) => / = 1$/.test(s))
      .map((s) => s.replace(/ = 1$/, '')).join(' ');
}

const GGML_TYPE = {f32: 'F32', f16: 'F16'};

// The model with weights mmapped read-only, on the CPU.
async function loadModel(llama, modelPath) {
  return llama.loadModel({
    modelPath,
    gpuLayers: 0,
    useMmap: true,
    useMlock: false,
    defaultContextFlashAttention: false,
  });
}

// One context: batch = ubatch = batchSize, so that a prompt up to that size is one forward
// pass; `sequences` independent sequences; exactly `threads` threads.
async function createContext(model, {threads, kvType, contextSize, batchSize, sequences = 1}) {
  return model.createContext({
    contextSize,
    batchSize,
    sequences,
    threads: {ideal: threads, min: threads},
    flashAttention: false,
    experimentalKvCacheKeyType: GGML_TYPE[kvType],
    experimentalKvCacheValueType: GGML_TYPE[kvType],
    failedCreationRemedy: false,
    ignoreMemorySafetyChecks: true,
  });
}

// Natural log of each probability, keyed by id; null where float32 underflowed to 0.
function logprobsById(probabilities, nVocab) {
  const out = new Array(nVocab).fill(null);
  for (const [id, p] of probabilities) out[id] = p > 0 ? Math.log(p) : null;
  return out;
}

function topK(logprobs, k) {
  const ids = [];
  for (let i = 0; i < logprobs.length; i++) if (logprobs[i] !== null) ids.push(i);
  ids.sort((a, b) => logprobs[b] - logprobs[a] || a - b);
  return ids.slice(0, k).map((id) => [id, logprobs[id]]);
}

async function runNodeLlamaCpp(opts) {
  const log = [];
  const nlc = await importNodeLlamaCpp(opts.peers);
  const llama = await openLlama(nlc, opts.threads, log);
  const model = await loadModel(llama, opts.model);
  let promptIds = opts.promptIds;
  if (!promptIds) {
    promptIds = model.tokenize(opts.text, true);
    if (opts.addBos) {
      if (model.tokens.bos === null) throw new Error('--add_bos true: the model has no BOS token');
      promptIds = [model.tokens.bos, ...promptIds];
    }
  }
  if (promptIds.length === 0) throw new Error('the prompt is empty');
  const needed = promptIds.length + opts.steps;
  const context = await createContext(model, {
    threads: opts.threads,
    kvType: opts.kvType,
    contextSize: Math.max(256, needed),
    batchSize: Math.max(512, promptIds.length),
  });
  const nVocab = model.fileInsights.vocabularySize ?? model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= nVocab) throw new Error(`prompt id ${id} is outside the vocabulary [0, ${nVocab})`);
  }
  if (promptIds.length + opts.steps > context.contextSize) {
    throw new Error(`prompt (${promptIds.length}) + steps (${opts.steps}) exceeds the context (${context.contextSize})`);
  }

  const sequence = context.getSequence();
  const generateNext = {token: true, probabilities: true, options: {temperature: 0}};
  let input = promptIds.map((id, i) => (i === promptIds.length - 1 ? [id, {generateNext}] : id));
  const steps = [];
  let lastLogprobs = null;
  for (let step = 0; step < opts.steps; step++) {
    const results = await sequence.controlledEvaluate(input);
    const next = results[input.length - 1]?.next;
    if (!next || next.token === null || next.token === undefined) throw new Error(`llama.cpp produced no token at step ${step}`);
    if (step === 0) {
      const held = sequence.contextTokens;
      if (held.length !== promptIds.length || held.some((id, i) => id !== promptIds[i])) {
        throw new Error('the llama.cpp sequence does not hold exactly the prompt ids');
      }
    }
    const logprobs = logprobsById(next.probabilities, nVocab);
    if (step === 0) lastLogprobs = logprobs;
    steps.push({token: next.token, logprob: logprobs[next.token], top: topK(logprobs, opts.topK)});
    input = [[next.token, {generateNext}]];
  }

  const result = {
    peer: 'node-llama-cpp',
    peer_version: peerVersion(opts.peers, 'node-llama-cpp'),
    llama_cpp: llama.llamaCppRelease.release,
    cpu_features: cpuFeatures(llama),
    model: path.resolve(opts.model),
    architecture: model.fileInfo.metadata.general.architecture,
    n_vocab: nVocab,
    bos: model.tokens.bos,
    eos: model.tokens.eos,
    model_adds_bos: model.tokens.shouldPrependBosToken,
    prompt_ids: promptIds,
    threads: context.currentThreads,
    kv_type: opts.kvType,
    flash_attention: context.flashAttention,
    context_size: context.contextSize,
    batch_size: context.batchSize,
    last_logprobs: lastLogprobs,
    underflowed: lastLogprobs.filter((x) => x === null).length,
    greedy_ids: steps.map((s) => s.token),
    steps,
    llama_cpp_log: log,
  };
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  return result;
}

async function runLlamaNode(opts) {
  if (!opts.promptIds) throw new Error('--peer llama.node needs --ids or --ids_file');
  const llamaNode = require(path.join(opts.peers, '@fugood/llama.node'));
  const needed = opts.promptIds.length + opts.steps + 8;
  const load = () => llamaNode.loadModel({
    model: opts.model,
    n_ctx: Math.max(256, needed),
    n_batch: Math.max(512, needed),
    n_ubatch: Math.max(512, needed),
    n_parallel: 1,
    n_threads: opts.threads,
    n_gpu_layers: 0,
    flash_attn_type: 'off',
    cache_type_k: opts.kvType,
    cache_type_v: opts.kvType,
    use_mmap: true,
    ctx_shift: false,
  });
  let ctx = await load();
  // completion() prepends BOS itself when the model asks for it, so the text must then leave
  // out the prompt's own BOS.
  const meta = ctx.getModelInfo().metadata || {};
  const modelAddsBos = String(meta['tokenizer.ggml.add_bos_token']) === 'true';
  const bos = Number(meta['tokenizer.ggml.bos_token_id']);
  let textIds = opts.promptIds;
  if (modelAddsBos) {
    if (textIds[0] !== bos) throw new Error(`llama.node always prepends BOS (${bos}) for this model; the prompt must start with it`);
    textIds = textIds.slice(1);
  }
  const text = await ctx.detokenize(textIds);
  const back = Array.from((await ctx.tokenize(text)).tokens);
  const firstDiff = back.findIndex((id, i) => id !== textIds[i]);
  if (back.length !== textIds.length || firstDiff !== -1) {
    const at = firstDiff === -1 ? Math.min(back.length, textIds.length) : firstDiff;
    throw new Error(`llama.node cannot take these ids as text: its tokenizer gives ${back.length} ids for ` +
        `${textIds.length}, first difference at ${at} (${back[at]} for ${textIds[at]}); only ids that are ` +
        'the canonical tokenization of their text can go through llama.node');
  }
  const common = {prompt: text, ignore_eos: true, top_k: 0, top_p: 1, min_p: 0, penalty_repeat: 1, penalty_last_n: 0};
  // Greedy is top_k 1: llama.node's temperature 0 alone still draws from a seeded distribution
  // (runs with different seeds diverge). With temperature 0 it also reports post-sampling
  // probabilities (1 and 0s), so the distribution comes from a separate one-token completion at
  // temperature 1 with no truncation, whose reported probabilities are the plain softmax of the
  // logits (its sampled token is ignored). Each completion gets a freshly loaded context: one
  // context carries sampler state and reported tokens over from the previous completion, even
  // after clearCache.
  const dist = await ctx.completion({...common, n_predict: 1, temperature: 1, seed: 1, n_probs: opts.topK});
  await ctx.release();
  ctx = await load();
  const greedy = await ctx.completion({...common, n_predict: opts.steps, temperature: 0, top_k: 1, seed: 1, n_probs: 1});
  await ctx.release();
  for (const c of [dist, greedy]) {
    if (c.timings.prompt_n !== opts.promptIds.length) {
      throw new Error(`llama.node evaluated ${c.timings.prompt_n} prompt tokens, not ${opts.promptIds.length}: ` +
          'it added or dropped a token (BOS?)');
    }
  }
  const pieces = (greedy.completion_probabilities || []).map((p) => p.content);
  if (pieces.length !== opts.steps) throw new Error(`llama.node returned ${pieces.length} tokens, not ${opts.steps}`);
  return {
    peer: '@fugood/llama.node',
    peer_version: peerVersion(opts.peers, '@fugood/llama.node'),
    llama_cpp: `b${llamaNode.BuildInfo.number} (${llamaNode.BuildInfo.commit})`,
    model: path.resolve(opts.model),
    prompt_ids: opts.promptIds,
    threads: opts.threads,
    kv_type: opts.kvType,
    flash_attention: false,
    last_top_text: dist.completion_probabilities[0].probs.map((q) => [q.tok_str, q.prob]),
    greedy_pieces: pieces,
    greedy_text: greedy.text,
  };
}

function readIds(args) {
  let ids;
  if (args.ids !== undefined) ids = args.ids.split(',').filter((s) => s.trim() !== '').map(Number);
  else if (args.ids_file !== undefined) {
    const json = JSON.parse(fs.readFileSync(args.ids_file, 'utf8'));
    ids = Array.isArray(json) ? json : json.ids;
  } else return null;
  if (!Array.isArray(ids) || ids.some((x) => !Number.isInteger(x) || x < 0)) throw new Error('prompt ids must be non-negative integers');
  return ids;
}

function optionsFrom(args) {
  if (!args.model) throw new Error('--model FILE.gguf is required');
  const promptIds = readIds(args);
  if (!promptIds && args.text === undefined) throw new Error('give the prompt with --ids, --ids_file or --text');
  if (promptIds && args.text !== undefined) throw new Error('give either ids or --text, not both');
  const kvType = args.kv_type || 'f32';
  if (!GGML_TYPE[kvType]) throw new Error(`--kv_type ${kvType}: want f32 or f16`);
  const peer = args.peer || 'node-llama-cpp';
  if (!['node-llama-cpp', 'llama.node'].includes(peer)) throw new Error(`--peer ${peer}: want node-llama-cpp or llama.node`);
  if (peer === 'llama.node' && !args.out) throw new Error('--peer llama.node needs --out FILE (its native code writes to stdout)');
  const addBos = (args.add_bos || 'false') === 'true';
  return {
    model: args.model,
    promptIds,
    text: args.text,
    addBos,
    steps: Number(args.steps || 32),
    threads: Number(args.threads || 2),
    topK: Number(args.top_k || 20),
    kvType,
    peer,
    peers: path.resolve(args.peers || DEFAULT_PEERS),
  };
}

async function runOracle(opts) {
  return opts.peer === 'llama.node' ? runLlamaNode(opts) : runNodeLlamaCpp(opts);
}

module.exports = {runOracle, optionsFrom, importNodeLlamaCpp, openLlama, cpuFeatures, loadModel, createContext, GGML_TYPE};

if (require.main === module) {
  (async () => {
    const args = parseArgs(process.argv.slice(2));
    const opts = optionsFrom(args);
    const result = await runOracle(opts);
    const json = JSON.stringify(result) + '\n';
    if (args.out) fs.writeFileSync(args.out, json);
    else process.stdout.write(json);
  })().catch((e) => {
    console.error(`llama_cpp_oracle: ${e.message}`);
    process.exit(1);
  });
}
