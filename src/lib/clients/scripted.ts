/**
 * A client that answers from a script instead of an endpoint: for tests, and for running the pipeline
 * in-thread without a network. The script gets each request and its call number and returns the
 * answer's text, a completion, or an error to throw.
 */
import { AppError } from '../errors.ts';
import type { Completion, CompletionRequest, LlmClient, Usage } from './contract.ts';

export type ScriptedAnswer = string | (Partial<Completion> & { text: string }) | Error;
export type Script = (request: CompletionRequest, call: number, signal?: AbortSignal) => ScriptedAnswer | Promise<ScriptedAnswer>;

/** Roughly what a tokenizer counts: a token per four characters (English text). */
export const approxTokens = (text: string): number => Math.ceil(text.length / 4);

export interface ScriptedClient extends LlmClient {
  /** Every request, in the order the calls came. */
  readonly requests: CompletionRequest[];
}

export function scriptedClient(script: Script, baseUrl = 'scripted:'): ScriptedClient {
  const requests: CompletionRequest[] = [];
  return {
    baseUrl,
    requests,
    async complete(request, signal) {
      if (signal?.aborted) throw new AppError('cancelled', 'The LLM call was cancelled.');
      requests.push(request);
      const answer = await script(request, requests.length - 1, signal);
      if (answer instanceof Error) throw answer;
      const completion = typeof answer === 'string' ? { text: answer } : answer;
      const usage: Usage = completion.usage ?? {
        promptTokens: approxTokens(request.messages.map((m) => m.content).join('')),
        completionTokens: approxTokens(completion.text),
      };
      return { finishReason: 'stop', attempts: 1, ...completion, usage };
    },
  };
}
