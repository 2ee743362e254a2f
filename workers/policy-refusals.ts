/**
 * The worker runs under the page's Content-Security-Policy (the page starts it from a blob: module; see
 * src/ui/content-security-policy.ts). A fetch the policy refuses fails with a bare "Failed to fetch", and
 * the violation event naming the refused host arrives just after; so a failed fetch waits briefly for
 * that event and, when it comes, fails with a message that says what happened and what to do.
 */
export function explainPolicyRefusals(): void {
  const refused: string[] = [];
  let notify: (() => void)[] = [];
  self.addEventListener('securitypolicyviolation', (event) => {
    if (event.effectiveDirective !== 'connect-src') return;
    let origin = event.blockedURI;
    try {
      origin = new URL(event.blockedURI).origin;
    } catch {
      // keep what the event says
    }
    refused.push(origin);
    for (const wake of notify) wake();
    notify = [];
  });
  /** The refusal of `url` among those after the first `count`, else any of those (a refused redirect). */
  const refusalSince = async (count: number, url: string): Promise<string | undefined> => {
    if (refused.length === count) await new Promise<void>((wake) => (notify.push(wake), setTimeout(wake, 200)));
    const after = refused.slice(count);
    return after.find((origin) => url.startsWith(`${origin}/`)) ?? after[0];
  };
  const fetch = self.fetch.bind(self);
  self.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const before = refused.length;
    try {
      return await fetch(input, init);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      const origin = await refusalSince(before, input instanceof Request ? input.url : String(input));
      if (!origin) throw error;
      throw new TypeError(
        `this page's Content-Security-Policy does not allow connections to ${origin}; open the page with ?hub=${origin}/ ` +
        `(or save the host with allowConnections, see the README) to allow it`,
      );
    }
  };
}

