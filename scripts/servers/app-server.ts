/**
 * The app as `npm start` serves it: the built site on 127.0.0.1 and, on the next port, the demo LLM (the
 * project's stand-in: deterministic canned answers, no real model), which the Explain screen offers as
 * "Demo LLM of npm start" on a page served from a loopback host. The walkthrough test starts the same.
 */
import { startLlmServer, type LlmServer } from './llm-server.ts';
import { startStaticServer, type StaticServer } from './static-server.ts';

export interface AppServers {
  site: StaticServer;
  /** Absent when it was not asked for or its port was taken (`llmError` says why). */
  llm?: LlmServer;
  llmError?: string;
  close(): Promise<void>;
}

export interface AppServerOptions {
  /** The built site (dist/). */
  root: string;
  /** The site's port; the demo LLM takes the next one. Default: a free pair. */
  port?: number;
  host?: string;
  demoLlm?: boolean;
  /** Per-request delay of the demo LLM (ms), so its progress can be watched. */
  llmLatencyMs?: number;
}

export async function startAppServers(options: AppServerOptions): Promise<AppServers> {
  const host = options.host ?? '127.0.0.1';
  const wanted = options.demoLlm ?? true;
  for (let attempt = 0; ; attempt++) {
    const site = await startStaticServer([{ prefix: '/', root: options.root }], { ...(options.port !== undefined ? { port: options.port } : {}), host });
    if (!wanted) return { site, close: () => site.close() };
    try {
      const llm = await startLlmServer({ port: site.port + 1, host, latencyMs: options.llmLatencyMs ?? 150 });
      return { site, llm, close: async () => void (await Promise.all([site.close(), llm.close()])) };
    } catch (error) {
      // A port chosen by the system may have a taken neighbour: try another pair; a port the user chose stays.
      if (options.port === undefined && attempt < 20) {
        await site.close();
        continue;
      }
      return { site, llmError: (error as Error).message, close: () => site.close() };
    }
  }
}
