/**
 * The record settings the screens share, so that the Features table and the Explain form agree on
 * which features would be explained: delphi's min_examples (features with fewer activating windows
 * are not explained). Null while its field is being typed (empty).
 */
import { DEFAULT_RECORD_OPTIONS } from '../../lib/index.ts';

export const recordSettings = $state<{ minExamples: number | null }>({ minExamples: DEFAULT_RECORD_OPTIONS.minExamples });

/** The minimum as a count: a whole number, 0 for an empty or bad field. */
export const minExamplesOf = (value: number | null): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0);
