// The dashboard shell: sign-in, the navigation, the live-update indicator and the page for the path.

import { useEffect, useRef, useState } from 'preact/hooks';
import { me, signIn, signOut, storedToken } from './api.ts';
import { liveState, startLive } from './live.ts';
import { BundlePage, BundlesPage } from './pages/bundles.tsx';
import { MapPage } from './pages/map.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { ProfileRolloutPage } from './pages/profile-rollouts.tsx';
import { ProfilePage, ProfilesPage } from './pages/profiles.tsx';
import { RegistrationsPage } from './pages/registrations.tsx';
import { RelaysPage } from './pages/relays.tsx';
import { RolloutPage, RolloutsPage } from './pages/rollouts.tsx';
import { SignIn } from './pages/signin.tsx';
import { SitePage } from './pages/site.tsx';
import { SitesPage } from './pages/sites.tsx';
import { SloPage, SlosPage } from './pages/slos.tsx';
import { path } from './router.ts';
import { Link } from './ui.tsx';

const sections: Array<[to: string, label: string]> = [
  ['/', 'Overview'],
  ['/map', 'Map'],
  ['/sites', 'Sites'],
  ['/registrations', 'Registrations'],
  ['/bundles', 'Bundles'],
  ['/rollouts', 'Rollouts'],
  ['/profiles', 'Profiles'],
  ['/slos', 'SLOs'],
  ['/relays', 'Relays'],
];

function page(p: string) {
  const parts = p.split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case undefined:
      return <OverviewPage />;
    case 'map':
      return <MapPage />;
    case 'sites':
      return parts[1] ? <SitePage name={parts[1]} /> : <SitesPage />;
    case 'registrations':
      return <RegistrationsPage />;
    case 'bundles':
      return parts[1] ? <BundlePage name={parts[1]} /> : <BundlesPage />;
    case 'rollouts':
      if (parts[1] === 'profiles' && parts[2]) return <ProfileRolloutPage id={parts[2]} />;
      return parts[1] ? <RolloutPage id={parts[1]} /> : <RolloutsPage />;
    case 'profiles':
      return parts[1] ? <ProfilePage name={parts[1]} /> : <ProfilesPage />;
    case 'relays':
      return <RelaysPage />;
    case 'slos':
      return parts[1] ? <SloPage name={parts[1]} /> : <SlosPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at {p}. <Link to="/">Go to the overview.</Link>
          </p>
        </section>
      );
  }
}

function current(to: string, p: string): boolean {
  return to === '/' ? p === '/' : p === to || p.startsWith(`${to}/`);
}

export function App() {
  const [checking, setChecking] = useState(Boolean(storedToken()) && !me.value);
  useEffect(() => {
    const token = storedToken();
    if (!token || me.value) return;
    signIn(token)
      .catch(() => signOut())
      .finally(() => setChecking(false));
  }, []);
  const who = me.value;
  useEffect(() => {
    if (!who) return;
    const stop = new AbortController();
    startLive(stop.signal);
    return () => stop.abort();
  }, [who?.tokenId]);

  const p = path.value;
  const sectionTitle = sections.find(([to]) => current(to, p))?.[1] ?? 'Outpost';
  useEffect(() => {
    document.title = `${sectionTitle} · Outpost`;
  }, [sectionTitle]);
  // after an in-page navigation, start keyboard and screen-reader users at the new content
  const firstPath = useRef(p);
  useEffect(() => {
    if (p !== firstPath.current) document.getElementById('main')?.focus();
  }, [p]);
  if (checking) return <p class="note">Checking your token…</p>;
  if (!who) return <SignIn />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Outpost</span>
        <nav aria-label="Sections">
          <ul>
            {sections.map(([to, label]) => (
              <li key={to}>
                <Link to={to} aria-current={current(to, p) ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class={`live live-${liveState.value}`} role="status" aria-live="polite">
            {liveState.value === 'live'
              ? 'Live'
              : liveState.value === 'connecting'
                ? 'Connecting…'
                : 'Reconnecting…'}
          </span>
          <span data-testid="role">
            {who.name} ({who.role})
          </span>
          <button type="button" class="secondary" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page(p)}
      </main>
    </>
  );
}
