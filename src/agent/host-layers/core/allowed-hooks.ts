// The programs a host lets a profile's hooks run, as the site writes them in OUTPOST_HOST_HOOKS or with
// `outpost agent --host-hook`: absolute paths, separated by colons as in PATH. Pure.

import { OutpostError } from '../../../model/errors.ts';

/**
 * Each listed program once; a relative path is refused, since which program it names would depend on
 * the agent's working directory.
 * @example allowedHooks(['/usr/local/sbin/os-upgrade:/opt/k8s/upgrade']) // ['/usr/local/sbin/os-upgrade', '/opt/k8s/upgrade']
 */
export function allowedHooks(lists: readonly string[]): string[] {
  const programs = lists
    .flatMap((l) => l.split(':'))
    .map((p) => p.trim())
    .filter(Boolean);
  const relative = programs.find((p) => !p.startsWith('/'));
  if (relative)
    throw new OutpostError(
      'request_invalid',
      `host hook "${relative}" is not an absolute path (OUTPOST_HOST_HOOKS lists programs such as /usr/local/sbin/os-upgrade)`,
    );
  return [...new Set(programs)];
}
