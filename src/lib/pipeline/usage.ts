/**
 * What a run consumed, counted from what each response said (never estimated where the endpoint
 * reports it), and a budget that stops new calls once reached. The meter wraps a client: every call
 * checks the budget before it starts and adds its usage when it ends, failed calls included (a cut or
 * empty answer is billed too). Calls already under way when the budget is reached finish, so a run
 * can go over by at most what its calls in flight cost.
 */
import { approxTokens, LlmError, type LlmClient, type Pricing, type Usage } from '../clients/index.ts';

export interface UsageTotals {
  /** Calls that ended with usage (answered or failed after an answer). */
  calls: number;
  /** HTTP attempts of those calls. */
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  /** Dollars, summed from the responses that reported a cost. */
  cost: number;
  /** Calls whose responses reported no cost (a plain OpenAI-compatible server). */
  uncostedCalls: number;
  /** Their tokens priced with the model's prices, when those are known; 0 otherwise. */
  estimatedCost: number;
  /**
   * Of the uncosted calls, those whose answers reported usage that cannot be right (see Usage.untrusted):
   * counted with estimated tokens at the model's prices. Absent in totals written before it was counted.
   */
  untrustedCalls?: number;
}

export interface Budget {
  /** Dollars (reported cost plus the estimate for unreported calls). */
  maxCost?: number;
  /** Prompt and completion tokens together. */
  maxTokens?: number;
}

export const spentCost = (totals: UsageTotals): number => totals.cost + totals.estimatedCost;

/**
 * A run's spending in a line, for the screens: tokens, dollars (reported plus estimated), and how many
 * answers reported usage that could not be right (then counted at the model's listed prices).
 */
export function formatUsage(totals: Partial<UsageTotals> | undefined): string {
  if (!totals) return 'nothing spent';
  const tokens = `${((totals.promptTokens ?? 0) + (totals.completionTokens ?? 0)).toLocaleString('en-US')} tokens`;
  const dollars = (totals.cost ?? 0) + (totals.estimatedCost ?? 0);
  // Calls whose answers reported no cost, with no prices to count them at: their cost is unknown, not $0.
  const unpriced = (totals.estimatedCost ?? 0) === 0 ? (totals.uncostedCalls ?? 0) : 0;
  const cost = unpriced === 0 ? `$${dollars.toFixed(4)}` : unpriced === totals.calls ? 'cost unknown (the endpoint reports none and lists no prices)' : `$${dollars.toFixed(4)} and ${unpriced === 1 ? '1 call' : `${unpriced} calls`} of unknown cost`;
  const line = `${tokens} · ${cost}`;
  const untrusted = totals.untrustedCalls ?? 0;
  return untrusted === 0 ? line : `${line} (${untrusted === 1 ? '1 answer' : `${untrusted} answers`} reported usage that cannot be right: counted at the model's listed prices)`;
}

export const ZERO_TOTALS: Readonly<UsageTotals> = Object.freeze({ calls: 0, attempts: 0, promptTokens: 0, completionTokens: 0, cost: 0, uncostedCalls: 0, estimatedCost: 0, untrustedCalls: 0 });

/** The totals one call adds: its cost as reported, or its tokens at `pricing` when it reported none. */
export function callTotals(usage: Usage, attempts: number, pricing?: Pricing): UsageTotals {
  const costed = usage.cost !== undefined;
  return {
    calls: 1,
    attempts,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    cost: usage.cost ?? 0,
    uncostedCalls: costed ? 0 : 1,
    estimatedCost: !costed && pricing ? usage.promptTokens * pricing.prompt + usage.completionTokens * pricing.completion : 0,
    untrustedCalls: !costed && usage.untrusted !== undefined ? 1 : 0,
  };
}

/** Two totals added, key by key. */
export function addTotals(a: UsageTotals, b: UsageTotals): UsageTotals {
  const sum = { ...ZERO_TOTALS };
  for (const key of Object.keys(ZERO_TOTALS) as (keyof UsageTotals)[]) sum[key] = (a[key] ?? 0) + (b[key] ?? 0);
  return sum;
}

export class UsageMeter {
  #totals: UsageTotals = { ...ZERO_TOTALS };

  constructor(
    readonly budget: Budget = {},
    /** Prices of the model, for calls whose responses carry no cost. */
    readonly pricing?: Pricing,
    /** What a run spent before (a resumed run counts on from there, against the same budget). */
    spent?: UsageTotals,
    /** Told every call's usage as it is counted: a journal that a kill cannot lose. */
    readonly onAdd?: (added: UsageTotals) => void,
  ) {
    if (spent) this.#totals = addTotals(ZERO_TOTALS, spent);
  }

  get totals(): UsageTotals {
    return { ...this.#totals };
  }

  /** Adds one call's usage; `onAdd` (given at construction) hears what it added. */
  add(usage: Usage, attempts = 1): void {
    const added = callTotals(usage, attempts, this.pricing);
    this.#totals = addTotals(this.#totals, added);
    this.onAdd?.(added);
  }

  /** Why no new call may start, or undefined while the budget allows. */
  exhausted(): string | undefined {
    const t = this.#totals;
    const { maxCost, maxTokens } = this.budget;
    if (maxCost !== undefined && spentCost(t) >= maxCost) return `The run's budget of $${maxCost} is spent ($${spentCost(t).toFixed(4)} so far).`;
    if (maxTokens !== undefined && t.promptTokens + t.completionTokens >= maxTokens) return `The run's budget of ${maxTokens} tokens is spent (${t.promptTokens + t.completionTokens} so far).`;
    return undefined;
  }
}

/** `client` with every call checked against the meter's budget and counted in it. */
export function meteredClient(client: LlmClient, meter: UsageMeter): LlmClient {
  return {
    baseUrl: client.baseUrl,
    async complete(request, signal) {
      const spent = meter.exhausted();
      if (spent) throw new LlmError('llm/budget', `${spent} Raise the budget to go on.`, { retryable: false });
      try {
        const completion = await client.complete(request, signal);
        meter.add(completion.usage, completion.attempts);
        return completion;
      } catch (error) {
        if (error instanceof LlmError && error.usage) meter.add(error.usage, error.attempts ?? 1);
        throw error;
      }
    },
  };
}

/**
 * `client` refusing, before sending, a prompt that cannot fit the model's listed context length (its
 * tokens estimated at four characters each, plus the answer's maximum): the call fails with
 * `llm/prompt-too-long` (not retried: the same prompt would fail again) and costs nothing.
 */
export function contextLimitedClient(client: LlmClient, contextLength: number, model: string): LlmClient {
  return {
    baseUrl: client.baseUrl,
    async complete(request, signal) {
      const prompt = request.messages.reduce((sum, message) => sum + approxTokens(message.content) + 4, 0);
      const answer = request.maxTokens ?? 0;
      if (prompt + answer > contextLength) {
        throw new LlmError('llm/prompt-too-long', `The prompt has about ${prompt.toLocaleString('en-US')} tokens${answer ? ` (and ${answer.toLocaleString('en-US')} for the answer)` : ''}, more than ${model}'s context of ${contextLength.toLocaleString('en-US')} tokens: not sent.`, { retryable: false });
      }
      return client.complete(request, signal);
    },
  };
}
