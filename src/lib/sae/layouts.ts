/**
 * SAE weight layouts, told apart from tensor names and shapes in the safetensors header alone.
 * One row per layout: its tensors with symbolic shapes (`d` = d_in, `n` = width), which canonical weight
 * each becomes and how. Adding a layout is adding a row.
 */
import { AppError } from '../errors.ts';
import { FLOAT_DTYPES, type Dtype, type SafetensorsHeader, type TensorEntry } from '../formats/index.ts';
import type { CanonicalTensor, SaeArchitecture, SaeFormat } from './types.ts';

/** How a file tensor becomes its canonical form. */
export type TensorTransform = 'none' | 'transpose' | 'exp';

type Dim = 'd' | 'n';

export interface LayoutTensor {
  key: string;
  shape: readonly Dim[];
  /** Canonical weights this tensor provides (gated's `b_gate` is both `bEnc` and `bGate`). */
  as?: readonly CanonicalTensor[];
  transform?: TensorTransform;
  /** Present in some files only; read if there. */
  optional?: boolean;
  /** Any dtype (e.g. OpenAI's int64 `stats_last_nonzero`); such a tensor is never read as weights. */
  anyDtype?: boolean;
}

export interface SaeLayout {
  id: string;
  /** The format this layout usually comes from; config files can refine it (SAELens keys in a Gemma Scope folder). */
  format: SaeFormat;
  description: string;
  tensors: readonly LayoutTensor[];
  /** Set when the weights alone fix the architecture. */
  architecture?: SaeArchitecture;
  /** Recognized but not supported: the message says what to do. */
  unsupported?: string;
}

const t = (key: string, shape: readonly Dim[], as?: CanonicalTensor | readonly CanonicalTensor[], transform?: TensorTransform): LayoutTensor => ({
  key,
  shape,
  ...(as ? { as: typeof as === 'string' ? [as] : as } : {}),
  ...(transform ? { transform } : {}),
});

const SAELENS_CORE = [t('W_enc', ['d', 'n'], 'wEnc'), t('b_enc', ['n'], 'bEnc'), t('W_dec', ['n', 'd'], 'wDec'), t('b_dec', ['d'], 'bDec')];

export const SAE_LAYOUTS: readonly SaeLayout[] = [
  {
    id: 'saelens-standard',
    format: 'saelens',
    description: 'SAELens standard or topk: W_enc [d_in, d_sae], b_enc, W_dec [d_sae, d_in], b_dec',
    tensors: SAELENS_CORE,
  },
  {
    id: 'saelens-jumprelu',
    format: 'saelens',
    description: 'SAELens jumprelu (also Gemma Scope converted): the standard tensors plus threshold [d_sae]',
    tensors: [...SAELENS_CORE, t('threshold', ['n'], 'threshold')],
    architecture: 'jumprelu',
  },
  {
    id: 'saelens-jumprelu-log',
    format: 'saelens',
    description: 'SAELens jumprelu training checkpoint: the standard tensors plus log_threshold [d_sae]',
    tensors: [...SAELENS_CORE, t('log_threshold', ['n'], 'threshold', 'exp')],
    architecture: 'jumprelu',
  },
  {
    id: 'saelens-gated',
    format: 'saelens',
    description: 'SAELens gated: W_enc, W_dec, b_dec, b_gate, b_mag, r_mag (no b_enc)',
    tensors: [
      t('W_enc', ['d', 'n'], 'wEnc'),
      t('W_dec', ['n', 'd'], 'wDec'),
      t('b_dec', ['d'], 'bDec'),
      t('b_gate', ['n'], ['bEnc', 'bGate']),
      t('b_mag', ['n'], 'bMag'),
      t('r_mag', ['n'], 'rMag'),
    ],
    architecture: 'gated',
  },
  {
    id: 'gemmascope',
    format: 'gemmascope',
    description: 'Gemma Scope 2 params.safetensors: w_enc [d_in, width], w_dec, b_enc, b_dec, threshold',
    tensors: [
      t('w_enc', ['d', 'n'], 'wEnc'),
      t('w_dec', ['n', 'd'], 'wDec'),
      t('b_enc', ['n'], 'bEnc'),
      t('b_dec', ['d'], 'bDec'),
      t('threshold', ['n'], 'threshold'),
    ],
    architecture: 'jumprelu',
  },
  {
    id: 'sparsify',
    format: 'sparsify',
    description: 'EleutherAI sparsify sae.safetensors: encoder.weight [n, d_in], encoder.bias, W_dec [n, d_in], b_dec',
    tensors: [
      t('encoder.weight', ['n', 'd'], 'wEnc', 'transpose'),
      t('encoder.bias', ['n'], 'bEnc'),
      t('W_dec', ['n', 'd'], 'wDec'),
      t('b_dec', ['d'], 'bDec'),
    ],
    architecture: 'topk',
  },
  {
    id: 'openai',
    format: 'openai',
    description: 'OpenAI GPT-2 SAE converted to safetensors: pre_bias [d], encoder.weight [n, d], latent_bias [n], decoder.weight [d, n]',
    tensors: [
      t('pre_bias', ['d'], 'bDec'),
      t('encoder.weight', ['n', 'd'], 'wEnc', 'transpose'),
      t('latent_bias', ['n'], 'bEnc'),
      t('decoder.weight', ['d', 'n'], 'wDec', 'transpose'),
      { key: 'stats_last_nonzero', shape: ['n'], optional: true, anyDtype: true },
    ],
  },
  {
    id: 'dictionary-learning',
    format: 'saelens',
    description: 'dictionary_learning / Llama Scope: encoder.weight, encoder.bias, decoder.weight [d, n], decoder.bias',
    tensors: [t('encoder.weight', ['n', 'd']), t('encoder.bias', ['n']), t('decoder.weight', ['d', 'n']), t('decoder.bias', ['d'])],
    unsupported:
      'This looks like a dictionary_learning / Llama Scope SAE, which is not supported yet. Convert it to SAELens names ' +
      '(W_enc = encoder.weight transposed, b_enc = encoder.bias, W_dec = decoder.weight transposed, b_dec = decoder.bias) and add a SAELens cfg.json.',
  },
];

/** The layout a header matched, with the sizes it implies. */
export interface DetectedLayout {
  layout: SaeLayout;
  dIn: number;
  width: number;
  /** dtype of the first canonical tensor (the encoder weights). */
  dtype: Dtype;
  /** Tensors in the file that the layout does not use. */
  extraKeys: string[];
  warnings: string[];
}

const shapeText = (shape: readonly (number | string)[]) => `[${shape.join(', ')}]`;
const symbolText = (shape: readonly Dim[]) => `[${shape.map((s) => (s === 'd' ? 'd_in' : 'width')).join(', ')}]`;

function matchesKeys(layout: SaeLayout, keys: ReadonlySet<string>): boolean {
  return layout.tensors.every((tensor) => tensor.optional || keys.has(tensor.key));
}

const requiredCount = (layout: SaeLayout) => layout.tensors.filter((tensor) => !tensor.optional).length;

/** Binds `d` and `n` from the tensors in order, throwing `sae/bad-shape` at the first disagreement. */
function bindDims(layout: SaeLayout, tensors: ReadonlyMap<string, TensorEntry>): { d: number; n: number } {
  const bound: Partial<Record<Dim, { value: number; from: string }>> = {};
  for (const spec of layout.tensors) {
    const entry = tensors.get(spec.key);
    if (!entry) continue;
    if (entry.shape.length !== spec.shape.length) {
      throw new AppError(
        'sae/bad-shape',
        `Tensor ${spec.key} has shape ${shapeText(entry.shape)}, but a ${layout.id} SAE has ${symbolText(spec.shape)} there (${spec.shape.length} dimension${spec.shape.length > 1 ? 's' : ''}). The file is damaged or was written by a tool that changed the layout.`,
      );
    }
    spec.shape.forEach((dim, axis) => {
      const size = entry.shape[axis]!;
      const previous = bound[dim];
      if (!previous) {
        bound[dim] = { value: size, from: `${spec.key} ${shapeText(entry.shape)}` };
      } else if (previous.value !== size) {
        const name = dim === 'd' ? 'd_in' : 'width (number of features)';
        throw new AppError(
          'sae/bad-shape',
          `The tensors disagree about the SAE's ${name}: ${previous.from} says ${previous.value}, but ${spec.key} has shape ${shapeText(entry.shape)} (expected ${symbolText(spec.shape)} = ${shapeText(spec.shape.map((s) => bound[s]?.value ?? '?'))}). The file is damaged or its tensors come from different SAEs.`,
        );
      }
    });
  }
  const d = bound.d?.value ?? 0;
  const n = bound.n?.value ?? 0;
  if (d === 0 || n === 0) {
    throw new AppError('sae/bad-shape', `The SAE has d_in ${d} and width ${n}; both must be at least 1. The file is damaged.`);
  }
  return { d, n };
}

function unknownLayoutError(keys: readonly string[]): AppError {
  const known = SAE_LAYOUTS.map((l) => `${l.id} (${l.tensors.filter((x) => !x.optional).map((x) => x.key).join(', ')})`).join('; ');
  const keySet = new Set(keys);
  const closest = [...SAE_LAYOUTS]
    .map((layout) => ({ layout, missing: layout.tensors.filter((x) => !x.optional && !keySet.has(x.key)).map((x) => x.key) }))
    .filter((c) => c.missing.length < requiredCount(c.layout))
    .sort((a, b) => a.missing.length - b.missing.length)[0];
  const hint = closest ? ` It is closest to ${closest.layout.id}, which also needs ${closest.missing.join(', ')}.` : '';
  return new AppError(
    'sae/unknown-layout',
    `The tensors in this file (${keys.length > 0 ? keys.join(', ') : 'none'}) do not match any SAE layout we know: ${known}.${hint} ` +
      'If it is an SAE, rename its tensors to one of these layouts (SAELens names are the easiest) and add a cfg.json.',
  );
}

/** Finds the layout of a header (the most specific one whose tensors are all present) and checks shapes and dtypes. */
export function detectLayout(header: SafetensorsHeader): DetectedLayout {
  const keys = [...header.tensors.keys()];
  const keySet = new Set(keys);
  const layout = SAE_LAYOUTS.filter((l) => matchesKeys(l, keySet)).sort((a, b) => requiredCount(b) - requiredCount(a))[0];
  if (!layout) throw unknownLayoutError(keys);
  if (layout.unsupported) throw new AppError('sae/unknown-layout', layout.unsupported);
  const { d, n } = bindDims(layout, header.tensors);
  for (const spec of layout.tensors) {
    const entry = header.tensors.get(spec.key);
    if (!entry || spec.anyDtype) continue;
    if (!FLOAT_DTYPES.includes(entry.dtype)) {
      throw new AppError(
        'safetensors/unsupported-dtype',
        `Tensor ${spec.key} is ${entry.dtype}; SAE weights must be float (${FLOAT_DTYPES.join(', ')}). Quantized SAEs are not supported: save the weights as float32, float16 or bfloat16.`,
      );
    }
  }
  const used = new Set(layout.tensors.map((x) => x.key));
  const extraKeys = keys.filter((k) => !used.has(k));
  const dtypes = new Set(layout.tensors.filter((x) => x.as && header.tensors.has(x.key)).map((x) => header.tensors.get(x.key)!.dtype));
  const first = layout.tensors.find((x) => x.as)!;
  const warnings: string[] = [];
  if (extraKeys.length > 0) warnings.push(`Ignored tensors not used by a ${layout.id} SAE: ${extraKeys.join(', ')}.`);
  if (dtypes.size > 1) warnings.push(`The tensors have mixed dtypes (${[...dtypes].join(', ')}); all are converted to float32.`);
  return { layout, dIn: d, width: n, dtype: header.tensors.get(first.key)!.dtype, extraKeys, warnings };
}

export function layoutById(id: string): SaeLayout {
  const layout = SAE_LAYOUTS.find((l) => l.id === id);
  if (!layout) throw new Error(`No SAE layout "${id}"`);
  return layout;
}
