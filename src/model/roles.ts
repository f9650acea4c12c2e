// Operator roles, each including the ones below it: a viewer reads, an operator changes the fleet
// (bundles, labels, approvals), an admin manages access (tokens), decommissions and reads the audit log.

export const roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof roles)[number];

export function roleAllows(have: Role, need: Role): boolean {
  return roles.indexOf(have) >= roles.indexOf(need);
}

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (roles as readonly string[]).includes(v);
}
