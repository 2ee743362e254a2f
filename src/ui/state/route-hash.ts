/**
 * The page's screens as hash routes (`#/setup`, `#/cache`, `#/features/<runId>`, `#/features/<runId>/<feature>`,
 * `#/explain/<runId>`, `#/results/<runId>`):
 * a static host serves every one of them from the same index.html, a reload keeps the screen, and the
 * query string (`?hub=`, `?model=`) stays as it is. Pure functions, so Node tests can check them.
 */

export type Route =
  | { screen: 'setup' }
  | { screen: 'cache' }
  /** The features table of one cache, or (no runId) the list of caches to pick from. */
  | { screen: 'features'; runId?: string }
  | { screen: 'feature'; runId: string; feature: number }
  /** Explaining the features of one cache, or (no runId) the list of caches to pick from. */
  | { screen: 'explain'; runId?: string }
  /** The scores of one cache's runs (metrics, charts, exports, imports), or (no runId) the list of caches to pick from. */
  | { screen: 'results'; runId?: string };

export type Screen = 'setup' | 'cache' | 'features' | 'explain' | 'results';

export const DEFAULT_ROUTE: Route = { screen: 'setup' };

/** The route a location hash names; anything it does not know is the setup screen. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((part) => part !== '');
  const [screen, runId, feature] = parts.map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  if (screen === 'cache' && parts.length === 1) return { screen: 'cache' };
  if (screen === 'explain') return runId && parts.length === 2 ? { screen: 'explain', runId } : { screen: 'explain' };
  if (screen === 'results') return runId && parts.length === 2 ? { screen: 'results', runId } : { screen: 'results' };
  if (screen === 'features') {
    if (!runId) return { screen: 'features' };
    if (feature === undefined) return { screen: 'features', runId };
    if (/^\d+$/.test(feature) && Number.isSafeInteger(Number(feature)) && parts.length === 3) return { screen: 'feature', runId, feature: Number(feature) };
    return { screen: 'features', runId };
  }
  return DEFAULT_ROUTE;
}

/** The hash of a route, `#/…`: an `<a href>` with it keeps the page's path and query. */
export function formatRoute(route: Route): string {
  switch (route.screen) {
    case 'setup':
    case 'cache':
      return `#/${route.screen}`;
    case 'features':
      return route.runId === undefined ? '#/features' : `#/features/${encodeURIComponent(route.runId)}`;
    case 'feature':
      return `#/features/${encodeURIComponent(route.runId)}/${route.feature}`;
    case 'explain':
    case 'results':
      return route.runId === undefined ? `#/${route.screen}` : `#/${route.screen}/${encodeURIComponent(route.runId)}`;
  }
}

/** The navigation entry a route belongs to (a feature page is under Features). */
export const screenOf = (route: Route): Screen => (route.screen === 'feature' ? 'features' : route.screen);

export const sameRoute = (a: Route, b: Route): boolean => formatRoute(a) === formatRoute(b);
