#!/usr/bin/env node
// The expected answers for tokenizer conformance, from Hugging Face tokenizers itself (the Rust
// crate, 0.22.x, through the napi binding @anush008/tokenizers): for one tokenizer.json it
// encodes every corpus line with add_special_tokens false and true, builds seeded random id
// sequences aimed at decode's corners, and decodes them with skip_special_tokens false and true.
//
//   node tokenizer_oracle.js --tokenizer .../tokenizer.json --corpus corpus.jsonl --out_dir DIR
//       [--peers tests/peers/node_modules] [--seed 7]
//
// DIR receives, one line per case, in r1serve-tokenize's own formats:
//   encode.expected.jsonl          {"ids":[...]} per corpus line, add_special_tokens=false
//   encode_special.expected.jsonl  the same with add_special_tokens=true
//   decode.input.jsonl             {"ids":[...]} decode cases
//   decode.expected.jsonl          JSON string per case, skip_special_tokens=false
//   decode_skip.expected.jsonl     the same with skip_special_tokens=true
// tokenizer_conformance.js uses the functions exported here directly.
'use strict';

const fs = require('fs');
const path = require('path');
const {readCorpus, parseArgs, makeRng} = require('./make_corpus.js');

const DEFAULT_PEERS = path.resolve(__dirname, '../peers/node_modules');

function loadHfTokenizer(peersDir, tokenizerPath) {
  const {Tokenizer} = require(path.join(peersDir, '@anush008/tokenizers'));
  return Tokenizer.fromFile(tokenizerPath);
}

// GPT-2's byte-to-character table that byte-level BPE vocabularies are written in: printable
// Latin-1 bytes stand for themselves, the other 68 bytes for U+0100 onwards, in byte order.
function byteLevelCharToByte() {
  const table = new Map();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table.set(String.fromCodePoint(printable ? b : 256 + extra++), b);
  }
  return table;
}

// What the vocabulary knows about each id: its stored string, the bytes it decodes to, and
// whether it is an added (special or not) token.
function describeVocabulary(tokenizerJson) {
  const charToByte = byteLevelCharToByte();
  const tokens = [];
  for (const [token, id] of Object.entries(tokenizerJson.model.vocab)) tokens[id] = token;
  const added = new Map();
  for (const a of tokenizerJson.added_tokens) {
    tokens[a.id] = a.content;
    added.set(a.id, a.special);
  }
  const bytesOf = (id) => {
    const token = tokens[id];
    if (token === undefined) return Buffer.alloc(0);
    if (added.has(id)) return Buffer.from(token, 'utf8');
    const out = [];
    for (const ch of token) {
      const b = charToByte.get(ch);
      if (b === undefined) return Buffer.from(token, 'utf8');
      out.push(b);
    }
    return Buffer.from(out);
  };
  const idOf = (token) => tokenizerJson.model.vocab[token];
  return {tokens, added, bytesOf, idOf, size: tokens.length};
}

const strictUtf8 = new TextDecoder('utf-8', {fatal: true});
function isValidUtf8(bytes) {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

async function encodeAll(tokenizer, texts, addSpecialTokens) {
  const out = [];
  for (const text of texts) {
    const encoding = await tokenizer.encode(text, null, {addSpecialTokens});
    out.push(encoding.getIds());
  }
  return out;
}

async function decodeAll(tokenizer, cases, skipSpecialTokens) {
  const out = [];
  for (const ids of cases) out.push(await tokenizer.decode(ids, skipSpecialTokens));
  return out;
}

// Id sequences for decode conformance. Decode is where byte-level tokenizers differ in
// practice: tokens that are fragments of a multi-byte character (lossy UTF-8 repair must
// replace exactly the maximal invalid subparts), added tokens that are or are not special, and
// slices of real encodings that cut characters in half, as a streaming detokenizer does.
function makeDecodeCases(vocab, encodings, seed) {
  const rng = makeRng(seed);
  const ids = [...Array(vocab.size).keys()];
  const fragments = ids.filter((id) => !vocab.added.has(id) && !isValidUtf8(vocab.bytesOf(id)));
  const addedIds = [...vocab.added.keys()];
  const specialIds = addedIds.filter((id) => vocab.added.get(id));
  const usable = encodings.filter((e) => e.length >= 2);
  const randomId = () => rng.int(vocab.size);
  const cases = [[], addedIds, specialIds];
  for (const id of addedIds) cases.push([id]);
  // The 256 single-byte tokens in byte order: every lone byte, valid or not.
  const charToByte = byteLevelCharToByte();
  const byteTokens = [];
  for (const [ch, b] of charToByte) {
    const id = vocab.idOf(ch);
    if (id !== undefined) byteTokens[b] = id;
  }
  cases.push(byteTokens.filter((id) => id !== undefined));
  for (let i = 0; i < 300; i++) {
    cases.push(Array.from({length: rng.range(1, 30)}, randomId));
  }
  for (let i = 0; i < 400 && fragments.length > 0; i++) {
    cases.push(Array.from({length: rng.range(1, 20)},
        () => (rng.chance(0.7) ? rng.pick(fragments) : randomId())));
  }
  for (let i = 0; i < 400 && usable.length > 0; i++) {
    const enc = rng.pick(usable);
    const start = rng.int(enc.length);
    cases.push(enc.slice(start, start + rng.range(1, 12)));
  }
  for (let i = 0; i < 200 && usable.length > 0; i++) {
    const enc = rng.pick(usable).slice(0, 60);
    for (let k = rng.range(1, 4); k > 0; k--) {
      enc.splice(rng.int(enc.length + 1), 0, rng.pick(addedIds.length ? addedIds : [randomId()]));
    }
    cases.push(enc);
  }
  for (let i = 0; i < 100 && specialIds.length > 0; i++) {
    cases.push(Array.from({length: rng.range(1, 6)},
        () => (rng.chance(0.7) ? rng.pick(addedIds) : rng.pick(fragments.length ? fragments : [randomId()]))));
  }
  for (let i = 0; i < 200 && usable.length > 0; i++) cases.push(rng.pick(usable));
  return cases;
}

function writeJsonl(file, values) {
  fs.writeFileSync(file, values.map((v) => JSON.stringify(v)).join('\n') + (values.length ? '\n' : ''));
}

// Runs the oracle for one tokenizer and writes the files listed at the top into outDir.
// Returns the cases and answers in memory as well.
async function runOracle({peersDir = DEFAULT_PEERS, tokenizerPath, texts, outDir, seed = 7}) {
  const tokenizerJson = JSON.parse(fs.readFileSync(tokenizerPath, 'utf8'));
  const vocab = describeVocabulary(tokenizerJson);
  const hf = loadHfTokenizer(peersDir, tokenizerPath);
  const encode = await encodeAll(hf, texts, false);
  const encodeSpecial = await encodeAll(hf, texts, true);
  const decodeCases = makeDecodeCases(vocab, encode, seed);
  const decode = await decodeAll(hf, decodeCases, false);
  const decodeSkip = await decodeAll(hf, decodeCases, true);
  fs.mkdirSync(outDir, {recursive: true});
  writeJsonl(path.join(outDir, 'encode.expected.jsonl'), encode.map((ids) => ({ids})));
  writeJsonl(path.join(outDir, 'encode_special.expected.jsonl'), encodeSpecial.map((ids) => ({ids})));
  writeJsonl(path.join(outDir, 'decode.input.jsonl'), decodeCases.map((ids) => ({ids})));
  writeJsonl(path.join(outDir, 'decode.expected.jsonl'), decode);
  writeJsonl(path.join(outDir, 'decode_skip.expected.jsonl'), decodeSkip);
  return {vocab, encode, encodeSpecial, decodeCases, decode, decodeSkip};
}

module.exports = {runOracle, describeVocabulary, loadHfTokenizer, DEFAULT_PEERS};

if (require.main === module) {
  (async () => {
    const args = parseArgs(process.argv.slice(2));
    for (const required of ['tokenizer', 'corpus', 'out_dir']) {
      if (!args[required]) throw new Error(`--${required} is required`);
    }
    const texts = readCorpus(args.corpus);
    const result = await runOracle({peersDir: args.peers || DEFAULT_PEERS, tokenizerPath: args.tokenizer,
      texts, outDir: args.out_dir, seed: Number(args.seed || 7)});
    console.log(`tokenizer_oracle: ${texts.length} encode lines, ${result.decodeCases.length} decode cases -> ${args.out_dir}`);
  })().catch((e) => {
    console.error(`tokenizer_oracle: ${e.message}`);
    process.exit(1);
  });
}
