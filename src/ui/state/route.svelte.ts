/**
 * The current screen, read from and written to the location hash (route-hash.ts holds the format).
 * `router.current` is reactive; links are plain `<a href={formatRoute(route)}>`, and code that moves
 * the user calls `navigate`. The browser's back and forward buttons work, since every move is a hash change.
 */
import { formatRoute, parseRoute, type Route } from './route-hash.ts';

export { formatRoute, parseRoute, screenOf, type Route, type Screen } from './route-hash.ts';

export class Router {
  current = $state.raw<Route>(parseRoute(location.hash));

  constructor() {
    addEventListener('hashchange', () => (this.current = parseRoute(location.hash)));
  }

  /** Goes to `route` (a new history entry, or the current one replaced). */
  navigate(route: Route, options: { replace?: boolean } = {}): void {
    const hash = formatRoute(route);
    if (location.hash === hash) return;
    if (options.replace) {
      history.replaceState(history.state, '', hash);
      this.current = parseRoute(hash);
    } else {
      location.hash = hash; // the hashchange listener updates `current`
    }
  }
}

export const router = new Router();
