// A small history router: paths under /ui/, links that are real links (so they work with the
// keyboard, middle-click and reload), and the current path as a signal.

import { signal } from '@preact/signals';

export const base = '/ui';
export const path = signal(
  location.pathname.startsWith(base) ? location.pathname.slice(base.length) || '/' : '/',
);
export const search = signal(location.search);

export function href(to: string): string {
  return `${base}${to}`;
}

export function navigate(to: string): void {
  history.pushState(null, '', href(to));
  const [p, q] = to.split('?');
  path.value = p || '/';
  search.value = q ? `?${q}` : '';
}

addEventListener('popstate', () => {
  path.value = location.pathname.slice(base.length) || '/';
  search.value = location.search;
});

/** For an <a href>: navigate in place unless the user asked for a new tab. */
export function follow(e: MouseEvent): void {
  const a = e.currentTarget as HTMLAnchorElement;
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href')!.slice(base.length) || '/');
}
