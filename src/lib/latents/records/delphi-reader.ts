/**
 * A delphi cache (readDelphiFolder's files: Blobs, so the same code reads files from disk in Node and
 * a dropped folder in the browser) read for records: one split decoded at a time and regrouped by
 * feature (a counting sort), and kept while its features are read, so each split is decoded once.
 */
import { AppError } from '../../errors.ts';
import { decodeDelphiSplit, type DelphiHookCache, type DelphiSplitFile } from '../delphi/index.ts';
import { throwIfAborted } from '../../util/index.ts';
import { featureOf, groupByFeature, type CacheReader, type FeatureBlock } from './reader.ts';

export interface DelphiReaderOptions {
  /** delphi's config does not say whether rows start with BOS; default false, as an import assumes. */
  prependBos?: boolean;
}

export function delphiCacheReader(hook: DelphiHookCache, options: DelphiReaderOptions = {}): CacheReader {
  // Two slots: the block a pass is on, and the last one a single feature was read from (a neighbour,
  // a page), so that reading neighbours during a pass does not evict the pass's block. A pass alone
  // holds one split's non-zeros at a time.
  let passing: { split: DelphiSplitFile; block: FeatureBlock } | undefined;
  let looked: { split: DelphiSplitFile; block: FeatureBlock } | undefined;
  return {
    hook: hook.hook,
    nRows: hook.nRows,
    ctx: hook.ctx,
    width: hook.width,
    prependBos: options.prependBos ?? false,
    nonZeros: hook.nonZeros,
    tokens: async () => hook.tokens,
    async feature(feature) {
      const split = hook.splits.find((s) => feature >= s.start && feature <= s.end);
      if (!split) throw new AppError('cache/bad-input', `Feature ${feature} is outside this cache's ${hook.width} features.`);
      if (passing?.split === split) return featureOf(passing.block, feature);
      if (looked?.split !== split) {
        looked = undefined; // let the previous split go before decoding the next
        looked = { split, block: await decodeBlock(hook, split) };
      }
      return featureOf(looked.block, feature);
    },
    async *blocks(signal) {
      for (const split of hook.splits) {
        throwIfAborted(signal, 'Reading the delphi cache');
        const reuse = looked?.split === split ? looked : undefined;
        passing = looked = undefined; // one split in memory while a pass decodes the next
        passing = reuse ?? { split, block: await decodeBlock(hook, split) };
        yield passing.block;
      }
      passing = undefined;
    },
  };
}

async function decodeBlock(hook: DelphiHookCache, split: DelphiSplitFile): Promise<FeatureBlock> {
  const data = await decodeDelphiSplit(split.blob, split.path, { tokens: false, nRows: hook.nRows, ctx: hook.ctx });
  // Sorted by (row, position, feature), so each feature's tokens come out increasing.
  const tokens = new Uint32Array(data.rows.length);
  for (let i = 0; i < tokens.length; i++) tokens[i] = data.rows[i]! * hook.ctx + data.positions[i]!;
  return groupByFeature(split.start, split.end + 1, data.features, tokens, data.values);
}
