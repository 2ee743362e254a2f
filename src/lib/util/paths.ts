/** Paths of dropped files and zip entries: `/`-separated, whatever the browser or archive wrote. */

/** `a\b/./c//d` -> `a/b/c/d`, no leading slash. */
export function normalizePath(path: string): string {
  return path
    .replace(/\\/g, '/')
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

/** The folder part of a normalized path ('' at the top). */
export const dirname = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');

/** The file name of a normalized path. */
export const basename = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** macOS metadata: `__MACOSX/...` in zips, `._name` next to files copied to FAT or network drives. */
export function isSystemFile(path: string): boolean {
  const normalized = normalizePath(path);
  return normalized.startsWith('__MACOSX/') || normalized.includes('/__MACOSX/') || basename(normalized).startsWith('._');
}
