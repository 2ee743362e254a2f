/**
 * The current screen, read from and written to the location hash (route-hash.ts holds the format).
 * `router.current` is reactive; links are plain `<a href={formatRoute(route)}>`, and code that moves
 * the user calls `navigate`. The browser's back and forward buttons work, since every move is a hash change.
 */
import { formatRoute, parseRoute, type Route } from './route-hash.ts';

export { formatRoute, parseRoute, screenOf, type Route, type Screen } from './route-hash.ts';

/** Where the last screen is remembered, so that a return to the site can offer to continue there. */
const LAST_ROUTE_KEY = 'autointerp.last-route';

export class Router {
  current = $state.raw<Route>(parseRoute(location.hash));
  /** The screen the user was on when the site was last left (read before this visit overwrites it). */
  readonly previous: Route | undefined;

  constructor() {
    const saved = localStorage.getItem(LAST_ROUTE_KEY);
    this.previous = saved ? parseRoute(saved) : undefined;
    this.remember();
    addEventListener('hashchange', () => {
      this.current = parseRoute(location.hash);
      this.remember();
    });
  }

  private remember(): void {
    try {
      localStorage.setItem(LAST_ROUTE_KEY, formatRoute(this.current));
    } catch {
      // Storage refused (private mode, full): nothing to offer next time.
    }
  }

  /** Goes to `route` (a new history entry, or the current one replaced). */
  navigate(route: Route, options: { replace?: boolean } = {}): void {
    const hash = formatRoute(route);
    if (location.hash === hash) return;
    if (options.replace) {
      history.replaceState(history.state, '', hash);
      this.current = parseRoute(hash);
      this.remember();
    } else {
      location.hash = hash; // the hashchange listener updates `current`
    }
  }
}

export const router = new Router();
