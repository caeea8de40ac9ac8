// The synthetic models against llama.cpp (npm @fugood/llama.node): for each variant,
// r1serve-make-model writes the same F32 weights as an HF folder and a GGUF file; a plain
// reference forward pass over the HF folder (canonical layout: HF rows, rotate_half / NEOX rope,
// llama3 frequency scaling, q/k/v biases, GQA) must pick the same greedy tokens as llama.cpp
// running the GGUF file. This checks what the loader's layout contract promises: llama.cpp's
// interleaved q/k rows (Llama) and rope_freqs tensor mean exactly the canonical computation.
//
//   node llama_cpp_parity_test.mjs <r1serve-make-model> <tokenizer folder> <npm peers folder>
// Exit 77 (skipped) when the peers lack @fugood/llama.node or the tokenizer.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const [tool, tokenizerDir, peersDir] = process.argv.slice(2);
let loadModel;
try {
  ({ loadModel } = createRequire(path.join(peersDir, 'package.json'))('@fugood/llama.node'));
} catch (e) {
  console.log(`skipped: @fugood/llama.node is not installed in ${peersDir}`);
  process.exit(77);
}
if (!fs.existsSync(path.join(tokenizerDir, 'tokenizer.json'))) {
  console.log(`skipped: no tokenizer at ${tokenizerDir}`);
  process.exit(77);
}

function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString());
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${name}: the reference reads F32 only`);
    const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    tensors[name] = { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
  }
  return tensors;
}

// A transformer step by the book (llama2.c-style), in double precision.
function referenceModel(folder) {
  const cfg = JSON.parse(fs.readFileSync(path.join(folder, 'config.json')));
  const T = readSafetensors(path.join(folder, 'model.safetensors'));
  const H = cfg.hidden_size, NH = cfg.num_attention_heads, NKV = cfg.num_key_value_heads;
  const HD = cfg.head_dim ?? H / NH, eps = cfg.rms_norm_eps;
  const inv = [];
  for (let i = 0; i < HD / 2; i++) inv.push(Math.pow(cfg.rope_theta, -2 * i / HD));
  const s = cfg.rope_scaling;
  if (s && s.rope_type === 'llama3') {
    const low = s.original_max_position_embeddings / s.low_freq_factor;
    const high = s.original_max_position_embeddings / s.high_freq_factor;
    for (let i = 0; i < inv.length; i++) {
      const wavelen = 2 * Math.PI / inv[i];
      if (wavelen > low) inv[i] /= s.factor;
      else if (wavelen >= high) {
        const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        inv[i] = (1 - smooth) * inv[i] / s.factor + smooth * inv[i];
      }
    }
  }
  const matvec = (W, x, b) => {
    const [rows, cols] = W.shape;
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let acc = b ? b.data[r] : 0;
      for (let c = 0; c < cols; c++) acc += W.data[r * cols + c] * x[c];
      y[r] = acc;
    }
    return y;
  };
  const rmsnorm = (x, w) => {
    let ss = 0;
    for (const v of x) ss += v * v;
    const scale = 1 / Math.sqrt(ss / x.length + eps);
    return x.map((v, i) => v * scale * w.data[i]);
  };
  const rope = (v, pos) => {  // rotate_half: dimension i pairs with i + HD/2
    for (let h = 0; h < v.length / HD; h++) {
      for (let i = 0; i < HD / 2; i++) {
        const a = h * HD + i, b = a + HD / 2, c = Math.cos(pos * inv[i]), sn = Math.sin(pos * inv[i]);
        const x = v[a], y = v[b];
        v[a] = x * c - y * sn;
        v[b] = y * c + x * sn;
      }
    }
  };
  const W = (l, name) => T[`model.layers.${l}.${name}`];
  const keys = [], values = [];
  for (let l = 0; l < cfg.num_hidden_layers; l++) { keys.push([]); values.push([]); }
  return (token, pos) => {
    let x = Float64Array.from(T['model.embed_tokens.weight'].data.subarray(token * H, (token + 1) * H));
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const h = rmsnorm(x, W(l, 'input_layernorm.weight'));
      const q = matvec(W(l, 'self_attn.q_proj.weight'), h, W(l, 'self_attn.q_proj.bias'));
      const k = matvec(W(l, 'self_attn.k_proj.weight'), h, W(l, 'self_attn.k_proj.bias'));
      const v = matvec(W(l, 'self_attn.v_proj.weight'), h, W(l, 'self_attn.v_proj.bias'));
      rope(q, pos);
      rope(k, pos);
      keys[l].push(k);
      values[l].push(v);
      const out = new Float64Array(NH * HD);
      for (let head = 0; head < NH; head++) {
        const kv = Math.floor(head / (NH / NKV));
        const scores = keys[l].map((kk) => {
          let dot = 0;
          for (let i = 0; i < HD; i++) dot += q[head * HD + i] * kk[kv * HD + i];
          return dot / Math.sqrt(HD);
        });
        const max = Math.max(...scores);
        const e = scores.map((sc) => Math.exp(sc - max));
        const z = e.reduce((a, b) => a + b);
        for (let t = 0; t < e.length; t++) {
          for (let i = 0; i < HD; i++) out[head * HD + i] += (e[t] / z) * values[l][t][kv * HD + i];
        }
      }
      const o = matvec(W(l, 'self_attn.o_proj.weight'), out);
      x = x.map((val, i) => val + o[i]);
      const h2 = rmsnorm(x, W(l, 'post_attention_layernorm.weight'));
      const gate = matvec(W(l, 'mlp.gate_proj.weight'), h2), up = matvec(W(l, 'mlp.up_proj.weight'), h2);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matvec(W(l, 'mlp.down_proj.weight'), act);
      x = x.map((val, i) => val + down[i]);
    }
    const final = rmsnorm(x, T['model.norm.weight']);
    return matvec(T['lm_head.weight'] ?? T['model.embed_tokens.weight'], final);
  };
}

const argmax = (v) => { let best = 0; for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i; return best; };

const variants = [
  ['qwen2', ['--arch', 'qwen2', '--kv_heads', '2']],
  ['qwen2-tied', ['--arch', 'qwen2', '--kv_heads', '1', '--tie_embeddings']],
  ['llama3', ['--arch', 'llama3', '--kv_heads', '2', '--rope_original_max_pos', '64']],
  ['llama3-bias-theta1e4', ['--arch', 'llama3', '--kv_heads', '4', '--attention_bias', '--rope_scaling', 'none', '--rope_theta', '10000']],
];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-cpp-parity-'));
const prompt = '<｜User｜>What is 2+2?<｜Assistant｜><think>\n';
let passed = 0, failed = 0;
for (const [name, flags] of variants) {
  const out = path.join(work, name);
  execFileSync(tool, ['--hidden', '64', '--layers', '2', '--heads', '4', '--intermediate', '128', '--dtype', 'f32',
    '--format', 'both', '--output_scale', '8', '--tokenizer', tokenizerDir, '--out', out, ...flags]);
  const ctx = await loadModel({ model: `${out}.gguf`, n_ctx: 256, n_threads: 2 });
  const step = referenceModel(out);
  const ids = [0, ...(await ctx.tokenize(prompt)).tokens];  // BOS, as llama.cpp adds it
  let logits;
  ids.forEach((token, pos) => { logits = step(token, pos); });
  const ours = [];
  for (let i = 0; i < 8; i++) {
    ours.push(argmax(logits));
    logits = step(ours[i], ids.length + i);
  }
  // top_k 1: llama.node's temperature 0 alone still samples.
  const result = await ctx.completion({ prompt, n_predict: 8, temperature: 0, top_k: 1, seed: 1 });
  const expected = await ctx.detokenize(ours);
  await ctx.release();
  if (expected === result.text) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL ${name}: reference ${JSON.stringify(expected)} (ids ${ours}), llama.cpp ${JSON.stringify(result.text)}`);
  }
}
fs.rmSync(work, { recursive: true, force: true });
console.log(`llama_cpp_parity_test: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
