/**
 * `npm run fixtures`: regenerates the committed test fixtures under test/fixtures/.
 * Each generator lives in scripts/fixtures/ and is deterministic (same bytes on every run).
 * To add one, import it and call it below.
 */
import { makeCorpusFixtures } from './fixtures/corpus.ts';
import { makeSaeFixtures } from './fixtures/saes.ts';
import { makeTinyGpt2 } from './fixtures/tiny-gpt2.ts';

makeTinyGpt2();
await makeSaeFixtures();
makeCorpusFixtures();
