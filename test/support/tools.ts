/**
 * Outside programs some tests run (python3, unzip): such a test is marked skipped where the program is
 * missing, so that a machine without it reports the gap instead of a pass, e.g.
 * `test.skipIf(!hasTool('python3'))(...)`.
 */
import { spawnSync } from 'node:child_process';

const found = new Map<string, boolean>();

/** Whether the program starts on this machine (whatever `--version` exits with: Info-ZIP's unzip exits 10); asked once per name. */
export function hasTool(name: string): boolean {
  let has = found.get(name);
  if (has === undefined) {
    has = spawnSync(name, ['--version'], { stdio: 'ignore' }).error === undefined;
    found.set(name, has);
  }
  return has;
}
