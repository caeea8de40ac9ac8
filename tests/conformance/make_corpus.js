#!/usr/bin/env node
// Writes the tokenizer corpus shared by the conformance tests and bench/tokenizer_bench.js:
// one JSON string per line. It holds every text field of the math sets in ../shared/data/math
// (what the suite tokenizes in production) plus synthetic strings aimed at the places where
// byte-level BPE tokenizers disagree: pre-tokenizer regex corners (whitespace kinds, digit runs,
// contractions, letters vs marks), NFC normalization, added/special tokens inside text, and
// unusual code points. Deterministic: a seeded PRNG and no network, so a mismatch found once
// is found again on every machine.
//
//   node make_corpus.js --math_dir ../shared/data/math --out corpus.jsonl
//       [--only all|math|synthetic] [--seed 20250101]
//
// Strings are always well-formed Unicode (no lone surrogates), so every line has an exact
// UTF-8 form for both tokenizers to read.
'use strict';

const fs = require('fs');
const path = require('path');

const MATH_FIELDS = ['problem', 'question', 'solution', 'answer'];

// Every text field of every record, files and records in a fixed order, exact duplicates (AIME
// and AMC repeat `problem` as `question`) kept once.
function mathTexts(mathDir) {
  if (!fs.existsSync(mathDir)) {
    throw new Error(`math data folder ${mathDir} not found (expected ../shared/data/math)`);
  }
  const files = fs.readdirSync(mathDir).filter((f) => f.endsWith('.jsonl')).sort();
  if (files.length === 0) throw new Error(`no .jsonl files in ${mathDir}`);
  const seen = new Set();
  const texts = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(mathDir, file), 'utf8').split('\n');
    for (const line of lines) {
      if (line.trim() === '') continue;
      const record = JSON.parse(line);
      for (const field of MATH_FIELDS) {
        const value = record[field];
        if (value === undefined || value === null) continue;
        const text = String(value);
        if (seen.has(text)) continue;
        seen.add(text);
        texts.push(text);
      }
    }
  }
  return texts;
}

// sfc32: small, fast, and identical on every platform (Math.random is neither seedable nor
// stable across engines).
function makeRng(seed) {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  const rng = {
    next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
    // Small counts usually, long runs sometimes: where tokenizers' edge cases live.
    length: (typical, rare) => (next() < 0.85 ? 1 + Math.floor(next() * typical) : 1 + Math.floor(next() * rare)),
  };
  return rng;
}

const cp = (code) => String.fromCodePoint(code);

// A random code point in [lo, hi], skipping the surrogate block.
function codeIn(rng, lo, hi) {
  let code;
  do {
    code = rng.range(lo, hi);
  } while (code >= 0xd800 && code <= 0xdfff);
  return cp(code);
}

const LANGUAGE_SAMPLES = {
  zh: ['我们明天早上八点在图书馆见面。', '这道题的答案是四十二。', '请逐步推理，并把最终答案写在方框里。',
    '数学是一门优美的学科', '他问：“你吃饭了吗？”', '三角形的内角和是一百八十度', '鳕鱼和鲭鱼都是海鱼'],
  ja: ['今日はとても暑いですね。', 'ひらがなとカタカナを混ぜて書きます', '東京駅で新幹線に乗りました。',
    'ラーメンが食べたい！', 'ｶﾀｶﾅの半角も使います', 'ヴァイオリンとゔ', '〜ですよね？'],
  ko: ['안녕하세요, 만나서 반갑습니다.', '오늘 날씨가 정말 좋네요', '수학 문제를 함께 풀어 봅시다.',
    '한국어 문장입니다', '값은 3입니다'],
  ar: ['مرحبا بكم في الدرس الأول', 'الرياضيات لغة العلوم.', 'كم عدد الطلاب في الفصل؟',
    '٣ + ٤ = ٧', 'العَرَبِيَّة مع التشكيل'],
  he: ['שלום עולם', 'בְּרֵאשִׁית בָּרָא', 'התשובה היא 42.'],
  hi: ['नमस्ते, आप कैसे हैं?', 'यह गणित का एक प्रश्न है।', 'मुझे हिंदी पढ़ना अच्छा लगता है',
    'क्षत्रिय और ज्ञान', 'क़लम'],
  bn: ['আমি বাংলায় লিখি', 'উত্তর হল ৪২'],
  ta: ['வணக்கம் உலகம்', 'கணிதம் அழகானது'],
  th: ['สวัสดีครับ ยินดีที่ได้รู้จัก', 'วันนี้อากาศดีมาก', 'ภาษาไทยไม่เว้นวรรคระหว่างคำ', 'คำตอบคือ ๔๒'],
  ru: ['Привет, как у тебя дела?', 'Съешь же ещё этих мягких французских булок.', 'Ответ: сорок два.',
    'ЁЛКА и ёлка', 'Щука, объём, подъезд'],
  uk: ['Ґанок і їжак', 'Добрий день!'],
  el: ['Καλημέρα σε όλους!', 'Η απάντηση είναι π ≈ 3,14159.', 'ΑΒΓΔ αβγδ ςσ', 'Ἀρχιμήδης ᾧ ῥ'],
  latin: ['Crème brûlée à la façade naïve', 'São Paulo, Ångström, Dvořák, Łódź, Øresund',
    'Ærøskøbing, señor pingüino', 'Straße, Größe, Fuß', 'İstanbul ıi ĞŞ', 'Tiếng Việt có dấu',
    'Ḿåçŕõñ ǅemal ǈubljana'],
  other: ['გამარჯობა', 'Բարև ձեզ', 'ሰላም ለዓለም', 'ᠮᠣᠩᠭᠣᠯ\u180eᠠ', 'ᏣᎳᎩ', 'ꦗꦮ', '𐌰𐌱𐌲 Gothic',
    'ᚠᚢᚦᚨᚱᚲ'],
};

// Inputs whose NFC form differs from themselves: Qwen normalizes to NFC first, so these test
// that a tokenizer composes, reorders and maps singletons exactly as Unicode says.
const NFC_CASES = [
  'e\u0301', 'A\u030a', 'n\u0303o', 'u\u0308ber', 'a\u0323\u0302', 'a\u0302\u0323', 'o\u031b\u0301',
  '\u1100\u1161\u11a8', '\u1112\u1161\u11ab\u1100\u1173\u11af', '\u212b', '\u2126', '\u212a',
  '\uf900\uf901', '\u0344', '\u0958', '\u1e9b\u0323', 'q\u0307\u0323', '\u00c5\u0301',
  '\u0041\u030a\u0301', 'ﬁ ligature stays', '\u2460 circled stays', '\u0915\u093c', '\u05e9\u05c1\u05bc',
  '\u0f73', '\u1026\u102e', '\u3099\u304b', '\u304b\u3099', '\u30cf\u309a', '\u{1d15e}', '\u{2f800}',
];

const SPECIAL_TOKENS = {
  deepseek_v3: ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜User｜>', '<｜Assistant｜>',
    '<｜fim▁hole｜>', '<｜fim▁begin｜>', '<｜fim▁end｜>', '<|EOT|>', '<｜tool▁calls▁begin｜>',
    '<｜tool▁calls▁end｜>', '<｜tool▁call▁begin｜>', '<｜tool▁call▁end｜>', '<｜tool▁outputs▁begin｜>',
    '<｜tool▁output▁begin｜>', '<｜tool▁output▁end｜>', '<｜tool▁sep｜>', '<｜▁pad▁｜>', '<think>', '</think>'],
  qwen3: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|box_end|>',
    '<|quad_start|>', '<|vision_start|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>',
    '<tool_call>', '</tool_call>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>',
    '<|repo_name|>', '<|file_sep|>', '<tool_response>', '</tool_response>', '<think>', '</think>'],
  llama3_1: ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>',
    '<|eot_id|>', '<|eom_id|>', '<|python_tag|>', '<|finetune_right_pad_id|>', '<|step_id|>'],
};

const NEAR_MISSES = ['<|im_start', 'im_start|>', '<｜User|>', '<|User｜>', '<<|im_end|>>', '<think >',
  '<THINK>', '< think>', '<\\think>', '</think', '<｜begin of sentence｜>', '<|begin_of_text|',
  '<|reserved_special_token_|>', '<|start_header_id|><|start_header_id|', '｜', '▁', '<｜', '｜>', '<|', '|>'];

const WORDS = ['the', 'answer', 'is', 'we', 'have', 'so', 'Therefore', 'let', 'x', 'equation',
  'triangle', 'probability', 'integer', 'solve', 'Hello', 'world', 'token', 'model', 'server',
  'reasoning', 'Step', 'final', 'value', 'function', 'return', 'HTTP', 'JSON', 'iPhone', 'GPT',
  'naïve', 'café', 'Zürich', 'über', 'DeepSeek', 'Qwen', 'Llama'];

// Every whitespace-like code point a pre-tokenizer might classify differently: \s in the regex
// (Unicode White_Space), line breaks, and look-alikes that are not White_Space (U+180E, U+200B,
// U+FEFF, U+00AD).
const WHITESPACE = [' ', ' ', ' ', '\t', '\n', '\r\n', '\r', '\v', '\f', '\u00a0', '\u1680',
  '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009',
  '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\u180e', '\u0085', '\u200b', '\ufeff',
  '\u00ad', '\u001c', '\u001f'];

const UNICODE_DIGITS = [
  [0x30, 0x39], [0x660, 0x669], [0x6f0, 0x6f9], [0x966, 0x96f], [0x9e6, 0x9ef], [0xe50, 0xe59],
  [0xff10, 0xff19], [0x1d7ce, 0x1d7ff], [0x2070, 0x2079], [0x2080, 0x2089], [0xbc, 0xbe],
  [0x2150, 0x215f], [0x2160, 0x217f], [0x2460, 0x2473], [0x3007, 0x3007], [0x4e00, 0x4e00],
  [0x10107, 0x10133],
];

function lettersFrom(rng, lo, hi, n) {
  let s = '';
  for (let i = 0; i < n; i++) s += codeIn(rng, lo, hi);
  return s;
}

function multilingual(rng) {
  const langs = Object.keys(LANGUAGE_SAMPLES);
  const parts = [];
  const count = rng.range(1, 4);
  for (let i = 0; i < count; i++) {
    if (rng.chance(0.25)) {
      // Random letters of one script, so the vocabulary's rarer merges get exercised too.
      const script = rng.pick([
        [0x4e00, 0x9fff], [0x3400, 0x4dbf], [0x20000, 0x2a6df], [0x3041, 0x3096], [0x30a1, 0x30fa],
        [0xac00, 0xd7a3], [0x1100, 0x1112], [0x0621, 0x064a], [0x0905, 0x0939], [0x093e, 0x094d],
        [0x0e01, 0x0e3a], [0x0410, 0x044f], [0x0391, 0x03c9], [0x00c0, 0x017f], [0x1e00, 0x1eff],
        [0x0300, 0x036f], [0x05d0, 0x05ea], [0xff21, 0xff5a], [0x9fa0, 0x9fb0]]);
      parts.push(lettersFrom(rng, script[0], script[1], rng.length(12, 80)));
    } else {
      parts.push(rng.pick(LANGUAGE_SAMPLES[rng.pick(langs)]));
    }
  }
  let text = parts.join(rng.pick([' ', '', '\n', ', ', '　', ' - ']));
  if (rng.chance(0.2)) text = text.normalize('NFD');
  if (rng.chance(0.15)) text = `${rng.pick(WORDS)} ${text} ${rng.range(0, 99999)}`;
  return text;
}

function nfcCase(rng) {
  const parts = [];
  const count = rng.range(1, 5);
  for (let i = 0; i < count; i++) {
    const base = rng.chance(0.6) ? rng.pick(NFC_CASES) : rng.pick(LANGUAGE_SAMPLES.latin).normalize('NFD');
    parts.push(rng.chance(0.3) ? base.toUpperCase() : base);
  }
  return parts.join(rng.pick(['', ' ', '\n']));
}

function randomIdentifier(rng) {
  const name = rng.pick(['count', 'total', 'tokenIds', 'kv_cache', 'Request', 'max_len', 'i', 'ptr',
    'userName', 'HTTPServer', 'x0', '_private', 'résumé', '变量']);
  return rng.chance(0.3) ? `${name}${rng.range(0, 99)}` : name;
}

const CODE_TEMPLATES = [
  (r, id, ind) => `#include <vector>\n\nint Sum(const std::vector<int>& ${id}) {\n${ind}int total = 0;\n${ind}for (int v : ${id}) total += v;  // O(n)\n${ind}return total;\n}\n`,
  (r, id, ind) => `def ${id}(xs: list[int]) -> int:\n${ind}"""Return the sum of squares."""\n${ind}return sum(x ** 2 for x in xs if x % ${r.range(2, 9)} != 0)\n`,
  (r, id, ind) => `const ${id} = async (url) => {\n${ind}const res = await fetch(url, { method: 'POST' });\n${ind}if (!res.ok) throw new Error(\`HTTP \${res.status}\`);\n${ind}return res.json();\n};\n`,
  (r, id, ind) => `fn ${id}(v: &[u32]) -> Option<u32> {\n${ind}v.iter().copied().filter(|&x| x > ${r.range(0, 1000)}).max()\n}\n`,
  (r, id, ind) => `func ${id}(ctx context.Context) error {\n${ind}select {\n${ind}case <-ctx.Done():\n${ind}${ind}return ctx.Err()\n${ind}}\n}\n`,
  (r, id, ind) => `SELECT u.id, COUNT(*) AS n\nFROM users u JOIN orders o ON o.user_id = u.id\nWHERE o.total > ${r.range(1, 500)}.00\nGROUP BY u.id HAVING n >= 2;\n`,
  (r, id, ind) => `#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.jsonl; do\n${ind}wc -l "$f" | awk '{print $1}' >> ${id}.txt\ndone\n`,
  (r, id, ind) => `<div class="${id}">\n${ind}<p>5 &lt; 7 &amp;&amp; 7 &gt; 5</p>\n${ind}<a href="https://example.com/?q=a+b&x=1">link</a>\n</div>\n`,
  (r, id, ind) => `{\n${ind}"${id}": [1, 2.5, -3e-7, true, null],\n${ind}"nested": {"k": "v\\n\\t\\u00e9"}\n}\n`,
  (r, id, ind) => `public class ${id.replace(/[^A-Za-z]/g, '') || 'Main'} {\n${ind}public static void main(String[] args) {\n${ind}${ind}System.out.println("sum=" + (${r.range(1, 99)} + ${r.range(1, 99)}));\n${ind}}\n}\n`,
  (r, id, ind) => `template <typename T>\nconstexpr T ${id}(T a, T b) noexcept { return a < b ? b : a; }\nstatic_assert(${id}(3, 4) == 4);\n`,
  (r, id, ind) => `    mov rax, ${r.range(0, 255)}\n    xor rbx, rbx\n.loop:\n    dec rax\n    jnz .loop\n`,
  (r, id, ind) => `# ${id}\n\n- [x] item one\n- [ ] item **two** with \`code\`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n`,
  (r, id, ind) => `if (${id} != nullptr && ${id}->size() >= 0x${r.range(0, 65535).toString(16)}ULL) {\n${ind}${id}->clear();\n} else if (!${id}) { return -1; }\n`,
];

function code(rng) {
  const indent = rng.pick(['  ', '    ', '\t', '        ', ' \t']);
  let text = rng.pick(CODE_TEMPLATES)(rng, randomIdentifier(rng), indent);
  if (rng.chance(0.2)) text = text.replace(/\n/g, '\r\n');
  if (rng.chance(0.2)) text = text.trimEnd();
  return text;
}

function latex(rng) {
  const atoms = ['x', 'y', 'n', 'k', '\\alpha', '\\beta', '\\theta', '\\pi', '2', '10', 'e', 'i',
    '\\infty', 'a_1', 'b^{2}', '\\mathbb{R}', '\\mathcal{O}(n \\log n)'];
  const expr = (depth) => {
    const a = rng.pick(atoms);
    if (depth <= 0) return a;
    const b = expr(depth - 1);
    return rng.pick([
      `\\frac{${a}}{${b}}`, `\\sqrt{${b}}`, `\\sqrt[3]{${a}+${b}}`, `${a}^{${b}}`, `${a}_{${b}}`,
      `\\left(${a} + ${b}\\right)`, `\\sum_{i=1}^{${a}} ${b}`, `\\int_0^{${a}} ${b}\\,dx`,
      `\\lim_{${a} \\to \\infty} ${b}`, `\\binom{${a}}{${b}}`, `\\boxed{${b}}`, `${a} \\cdot ${b}`,
      `${a} \\le ${b}`, `\\begin{pmatrix} ${a} & ${b} \\\\ ${b} & ${a} \\end{pmatrix}`,
      `\\text{if } ${a} \\neq ${b}`, `|${a}|`, `\\lfloor ${b} \\rfloor`, `${a}\\%`]);
  };
  const body = expr(rng.range(1, 4));
  return rng.pick([`$${body}$`, `$$${body}$$`, `\\[ ${body} \\]`, `\\(${body}\\)`,
    `So we get $${body}$, and the answer is $\\boxed{${rng.range(0, 999)}}$.`,
    `\\begin{align*}\n${body} &= ${expr(1)} \\\\\n&= ${expr(0)}\n\\end{align*}`, body]);
}

const EMOJI = ['😀', '🙂', '😂', '🤔', '🚀', '❤️', '👍', '🎉', '🔥', '✅', '⭐', '☕', '🐍', '🦀', '∑', '☺︎', '☺️',
  '👨‍👩‍👧‍👦', '👩‍💻', '🏳️‍🌈', '🏴‍☠️', '👁️‍🗨️', '🧑🏾‍🚀', '❤️‍🔥', '🧔🏻‍♂️', '👩🏿‍🦰', '🤝🏼',
  '🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}', '1\ufe0f\u20e3', '#️⃣', '*⃣', '©️', '™'];

function emoji(rng) {
  let text = '';
  const count = rng.length(6, 40);
  for (let i = 0; i < count; i++) {
    const kind = rng.int(4);
    if (kind === 0) {
      // Any two regional indicators: real flags and pairs that are no country.
      text += cp(0x1f1e6 + rng.int(26)) + cp(0x1f1e6 + rng.int(26));
    } else if (kind === 1) {
      text += rng.pick(['👋', '👍', '🙏', '💪', '🧑', '👶']) + cp(0x1f3fb + rng.int(5));
    } else {
      text += rng.pick(EMOJI);
    }
    if (rng.chance(0.3)) text += rng.pick([' ', '', 'ok', '\n', '!', ' and ', '中']);
  }
  return text;
}

function whitespace(rng) {
  let text = '';
  const pieces = rng.range(1, 8);
  for (let i = 0; i < pieces; i++) {
    if (rng.chance(0.7)) {
      const kinds = rng.chance(0.5) ? [rng.pick(WHITESPACE)] : [rng.pick(WHITESPACE), rng.pick(WHITESPACE), ' '];
      const run = rng.length(8, 300);
      for (let k = 0; k < run; k++) text += rng.pick(kinds);
    }
    if (rng.chance(0.8)) text += rng.pick([rng.pick(WORDS), '.', '!', '1', '中文', '😀', 'x\u0301', '#']);
  }
  return text;
}

function digits(rng) {
  const form = rng.int(6);
  if (form === 0) {
    let s = '';
    const n = rng.length(20, 400);
    for (let i = 0; i < n; i++) s += String(rng.int(10));
    return s;
  }
  if (form === 1) {
    const [lo, hi] = rng.pick(UNICODE_DIGITS);
    return `${rng.pick(WORDS)} ${lettersFrom(rng, lo, hi, rng.length(10, 60))}`;
  }
  if (form === 2) {
    return rng.pick([
      `${rng.range(0, 9999)},${rng.range(100, 999)},${rng.range(100, 999)}.${rng.range(0, 99)}`,
      `-${rng.range(0, 99)}.${rng.range(0, 999999)}e-${rng.range(1, 30)}`,
      `+1 (${rng.range(200, 999)}) ${rng.range(100, 999)}-${rng.range(1000, 9999)}`,
      `${rng.range(1900, 2099)}-${rng.range(1, 12)}-${rng.range(1, 28)}T${rng.range(0, 23)}:${rng.range(10, 59)}:00Z`,
      `v${rng.range(0, 9)}.${rng.range(0, 99)}.${rng.range(0, 999)}-rc${rng.range(1, 9)}`,
      `0x${rng.range(0, 0x7fffffff).toString(16).toUpperCase()}`, `${rng.range(1, 9)}${'0'.repeat(rng.range(5, 40))}`,
      `abc${rng.range(0, 99999)}def${rng.range(0, 999)}`, `x²+y²=z² and a₁+a₂=${rng.range(0, 99)}`,
      `${rng.range(1, 9)}½ cups, ${rng.range(1, 9)}¾ miles, Ⅻ o'clock, ① ② ③`]);
  }
  let s = '';
  const n = rng.length(10, 60);
  for (let i = 0; i < n; i++) {
    s += String(rng.int(1000));
    if (rng.chance(0.5)) s += rng.pick([' ', ',', '.', '', '/', ':', '-', ' + ']);
  }
  return s;
}

function contractions(rng) {
  const suffixes = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL",
    "'lL", "'D", "’s", "’ll", "'ſ", "'x", "''s", "'", "'ſt"];
  const subjects = ['it', 'IT', 'he', 'She', 'we', 'THEY', 'you', 'I', 'John', '90', 'rock', 'y', 'o',
    'don', 'Naïve', 'Ω', '中', ''];
  let text = '';
  const count = rng.range(1, 8);
  for (let i = 0; i < count; i++) {
    text += rng.pick(subjects) + rng.pick(suffixes);
    if (rng.chance(0.3)) text += rng.pick(['a', 'x', '1', 'é', 'ß', 'abc']);
    text += rng.pick([' ', ' ', '', '\n', '  ', ', ']);
  }
  return rng.chance(0.2) ? text.toUpperCase() : text;
}

function placeholder(rng) {
  return rng.chance(0.5) ? `<｜place▁holder▁no▁${rng.range(0, 820)}｜>` : `<|reserved_special_token_${rng.range(0, 260)}|>`;
}

function specialTokens(rng) {
  const family = rng.pick(Object.keys(SPECIAL_TOKENS));
  const token = () => {
    const roll = rng.next();
    if (roll < 0.65) return rng.pick(SPECIAL_TOKENS[family]);
    if (roll < 0.8) return placeholder(rng);
    if (roll < 0.9) return rng.pick(NEAR_MISSES);
    return rng.pick(SPECIAL_TOKENS[rng.pick(Object.keys(SPECIAL_TOKENS))]);
  };
  const form = rng.int(4);
  if (form === 0) {
    // A chat transcript in the family's own format.
    const q = rng.pick(WORDS) + ' ' + rng.pick(LANGUAGE_SAMPLES.latin);
    if (family === 'deepseek_v3') {
      return `<｜begin▁of▁sentence｜><｜User｜>${q}<｜Assistant｜><think>\nLet me think.\n</think>\n\nThe answer is ${rng.range(0, 99)}.<｜end▁of▁sentence｜>`;
    }
    if (family === 'qwen3') {
      return `<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n${rng.range(0, 99)}<|im_end|>`;
    }
    return `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${q}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n${rng.range(0, 99)}<|eot_id|>`;
  }
  let text = '';
  const count = rng.range(1, 6);
  for (let i = 0; i < count; i++) {
    text += rng.pick(['', ' ', '  ', '\n', 'abc', ' word ', '中文', '😀', '\t', '.']);
    text += token();
    if (form === 1) text += token();  // adjacent tokens
  }
  return text + rng.pick(['', ' ', '\n', 'tail', ' 42']);
}

const ODD_RANGES = [
  [0x0300, 0x036f], [0x1ab0, 0x1aff], [0x20d0, 0x20ff], [0xfe20, 0xfe2f], [0xe000, 0xf8ff],
  [0xf0000, 0xffffd], [0x100000, 0x10fffd], [0xfdd0, 0xfdef], [0xfff9, 0xfffd], [0x202a, 0x202e],
  [0x2066, 0x2069], [0xe0001, 0xe007f], [0xfe00, 0xfe0f], [0xe0100, 0xe01ef], [0x1d400, 0x1d7ff],
  [0x12000, 0x1236e], [0x10000, 0x1007f], [0x0000, 0x001f], [0x007f, 0x009f], [0x0378, 0x037f],
  [0x2fffe, 0x2ffff], [0x1f000, 0x1faff], [0x2e80, 0x2fdf], [0x1b000, 0x1b16f], [0xa490, 0xa4cf],
];
const ODD_SINGLES = ['\ufffd', '\ufffe', '\uffff', '\u{1fffe}', '\u{10ffff}', '\ufeff', '\u200d', '\u200c',
  '\u200e', '\u200f', '\u034f', '\u3164', '\ufffc', '\u061c', '\u2061', '\u0000', '\u00ad', '\u2800'];

function oddUnicode(rng) {
  const form = rng.int(3);
  if (form === 0) {
    // "Zalgo": a base letter under a long stack of combining marks.
    let s = '';
    const bases = rng.range(1, 6);
    for (let b = 0; b < bases; b++) {
      s += rng.pick(['a', 'Z', 'é', 'ж', '字', ' ', '1']) + lettersFrom(rng, 0x0300, 0x036f, rng.length(8, 40));
    }
    return s;
  }
  let s = '';
  const n = rng.length(12, 80);
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.35)) {
      s += rng.pick(ODD_SINGLES);
    } else if (rng.chance(0.2)) {
      s += rng.pick(['a', ' ', 'b', '.', '中', '1']);
    } else {
      const [lo, hi] = rng.pick(ODD_RANGES);
      s += codeIn(rng, lo, hi);
    }
  }
  return s;
}

// Random code points weighted toward the ranges tokenizers care about; "byte-ish" noise made of
// valid scalar values only.
function garbage(rng) {
  let s = '';
  const n = rng.length(40, 300);
  for (let i = 0; i < n; i++) {
    const roll = rng.next();
    if (roll < 0.4) s += codeIn(rng, 0x20, 0x7e);
    else if (roll < 0.48) s += codeIn(rng, 0x00, 0x1f);
    else if (roll < 0.58) s += codeIn(rng, 0x80, 0x24f);
    else if (roll < 0.7) s += codeIn(rng, 0x250, 0xffff);
    else if (roll < 0.8) s += codeIn(rng, 0x10000, 0x10ffff);
    else if (roll < 0.9) s += rng.pick(WHITESPACE);
    else s += rng.pick(ODD_SINGLES.concat(EMOJI, NFC_CASES));
  }
  return s;
}

// Hand-picked edge strings, plus a few long ones: a BPE that is quadratic in word length or
// a regex that backtracks shows up here as a timeout rather than passing quietly.
function fixedCases() {
  const cases = ['', ' ', '  ', '\n', '\n\n', '\r\n', '\t', 'a', "'", "'s", "'S", '<', '<|', '<think>',
    '</think>', '<think></think>', '\u0000', '\ufffd', '0', '00000', '1234567', 'Hello world',
    ' Hello', 'Hello ', 'a  b', 'a \n b', '   a', 'a\u00a0\u00a0b', '\u3000\u3000', '中', 'ｔｏｋｅｎ',
    '\u{10ffff}', 'e\u0301', '\u212b', "I'M HERE", "you'LL see", 'x\u180ey', '\u0085\u0085'];
  for (const family of Object.keys(SPECIAL_TOKENS)) {
    cases.push(SPECIAL_TOKENS[family].join(''), SPECIAL_TOKENS[family].join(' '));
  }
  cases.push('a'.repeat(5000), 'ab'.repeat(2000), ' '.repeat(20000), '\n'.repeat(3000),
    '9'.repeat(3000), '😀'.repeat(1000), '中'.repeat(3000), 'é'.normalize('NFD').repeat(2000),
    '.'.repeat(4000), 'abcdefghij'.repeat(800), '\u0301'.repeat(2000), '<think>'.repeat(500));
  return cases;
}

const GENERATORS = [
  [multilingual, 600], [nfcCase, 250], [code, 400], [latex, 300], [emoji, 300], [whitespace, 400],
  [digits, 300], [contractions, 300], [specialTokens, 500], [oddUnicode, 300], [garbage, 400],
];

function syntheticTexts(seed) {
  const rng = makeRng(seed);
  const texts = fixedCases();
  for (const [generate, count] of GENERATORS) {
    for (let i = 0; i < count; i++) texts.push(generate(rng));
  }
  return texts;
}

function isWellFormed(text) {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?:[^\ud800-\udbff]|^)[\udc00-\udfff]/.test(text);
}

// The corpus as an array of strings; `only` is 'all', 'math' or 'synthetic'.
function makeCorpus({mathDir, only = 'all', seed = 20250101}) {
  const texts = [];
  if (only === 'all' || only === 'math') texts.push(...mathTexts(mathDir));
  if (only === 'all' || only === 'synthetic') texts.push(...syntheticTexts(seed));
  for (const text of texts) {
    if (!isWellFormed(text)) throw new Error(`generated a string with a lone surrogate: ${JSON.stringify(text)}`);
  }
  return texts;
}

// JSON.stringify escapes '\n' and '\r', so each string stays on one line (U+2028/U+2029 are
// written raw, which JSON allows; readers must split on '\n' only).
function writeCorpus(file, texts) {
  fs.mkdirSync(path.dirname(path.resolve(file)), {recursive: true});
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, texts.map((t) => JSON.stringify(t)).join('\n') + '\n');
  fs.renameSync(tmp, file);  // readers never see a half-written corpus
}

function readCorpus(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => JSON.parse(line));
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z_]+)(?:=(.*))?$/.exec(argv[i]);
    if (!match) throw new Error(`unexpected argument ${argv[i]}`);
    args[match[1]] = match[2] !== undefined ? match[2] : argv[++i];
  }
  return args;
}

module.exports = {makeCorpus, writeCorpus, readCorpus, parseArgs, makeRng};

if (require.main === module) {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (!args.out) throw new Error('--out FILE is required');
    const only = args.only || 'all';
    if (!['all', 'math', 'synthetic'].includes(only)) throw new Error(`--only ${only}: want all, math or synthetic`);
    if (only !== 'synthetic' && !args.math_dir) throw new Error('--math_dir DIR is required');
    const texts = makeCorpus({mathDir: args.math_dir, only, seed: Number(args.seed || 20250101)});
    writeCorpus(args.out, texts);
    const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);
    console.log(`make_corpus: ${texts.length} strings, ${(bytes / 1e6).toFixed(2)} MB -> ${args.out}`);
  } catch (e) {
    console.error(`make_corpus: ${e.message}`);
    process.exit(1);
  }
}
