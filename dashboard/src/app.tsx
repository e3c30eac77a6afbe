// The creators' dashboard: a Preact app over the public /v1 API. app.tsx
// holds the session (who is signed in, the org acted in), the layout and
// the route table; each screen is a file of pages/.
import { createContext, render } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import { api, currentOrg, Me, onUnauthorized, setSession, token } from "./api";
import { resetEvents, useEventsState } from "./events";
import { match, navigate, usePath } from "./router";
import { Link, Loading } from "./ui";
import { SignIn, SignUp } from "./pages/auth";
import { StreamsPage } from "./pages/streams";
import { StreamPage } from "./pages/stream";
import { AssetsPage } from "./pages/assets";
import { AssetPage } from "./pages/asset";
import { APIKeysPage, SigningKeysPage } from "./pages/keys";
import { WebhooksPage } from "./pages/webhooks";
import { MembersPage } from "./pages/members";
import { AnalyticsPage } from "./pages/analytics";
import "./style.css";

export interface SessionState {
  me: Me;
  org: string;
  role: string;
  refresh: () => Promise<void>;
  switchOrg: (id: string) => Promise<void>;
  signOut: () => void;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  return useContext(SessionContext)!;
}

// can tells whether the signed-in role reaches min.
export function can(role: string, min: "viewer" | "member" | "admin" | "owner"): boolean {
  const rank: Record<string, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };
  return (rank[role] ?? -1) >= rank[min];
}

type Theme = "auto" | "light" | "dark";

function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, set] = useState<Theme>((localStorage.getItem("livestreams.theme") as Theme) || "auto");
  useEffect(() => {
    if (theme === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    localStorage.setItem("livestreams.theme", theme);
  }, [theme]);
  return [theme, set];
}

const nav: [string, string][] = [
  ["/streams", "Streams"], ["/assets", "Assets"], ["/analytics", "Analytics"], ["/webhooks", "Webhooks"],
  ["/api-keys", "API keys"], ["/signing-keys", "Signing keys"], ["/members", "Members"],
];

function Shell({ session, path }: { session: SessionState; path: string }) {
  const [theme, setTheme] = useTheme();
  const live = useEventsState();
  const [menu, setMenu] = useState(false);
  const who = session.me.user?.email ?? session.me.api_key?.name ?? "";
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <Link href="/streams" class="brand">Livestreams</Link>
        <button type="button" class="menu-toggle small" aria-expanded={menu} aria-controls="nav" onClick={() => setMenu(!menu)}>Menu</button>
        <nav id="nav" aria-label="Main" class={menu ? "open" : ""} onClick={() => setMenu(false)}>
          {nav.map(([href, label]) => (
            <Link key={href} href={href} class={path.startsWith(href) ? "active" : ""} aria-current={path.startsWith(href) ? "page" : undefined}>{label}</Link>
          ))}
        </nav>
        <div class="top-right">
          <span class={"sse sse-" + live} title={"Live updates: " + live} aria-label={"Live updates " + live} role="img" />
          <label class="sr-only" for="org-switch">Organization</label>
          <select id="org-switch" value={session.org} onChange={(e) => void session.switchOrg((e.target as HTMLSelectElement).value)}>
            {session.me.orgs.map((o) => <option key={o.id} value={o.id}>{o.name} ({o.role})</option>)}
          </select>
          <label class="sr-only" for="theme">Theme</label>
          <select id="theme" value={theme} onChange={(e) => setTheme((e.target as HTMLSelectElement).value as Theme)}>
            <option value="auto">Auto theme</option><option value="light">Light</option><option value="dark">Dark</option>
          </select>
          <button type="button" class="small" id="signout" title={who} onClick={session.signOut}>Sign out</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Route path={path} />
      </main>
    </>
  );
}

function Route({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if ((m = match("/streams/:id", path))) return <StreamPage key={m.id} id={m.id} />;
  if ((m = match("/assets/:id", path))) return <AssetPage key={m.id} id={m.id} />;
  if (match("/assets", path)) return <AssetsPage />;
  if (match("/analytics", path)) return <AnalyticsPage />;
  if (match("/api-keys", path)) return <APIKeysPage />;
  if (match("/signing-keys", path)) return <SigningKeysPage />;
  if (match("/webhooks", path)) return <WebhooksPage />;
  if (match("/members", path)) return <MembersPage />;
  return <StreamsPage />;
}

function App() {
  const path = usePath();
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(!!token());

  const signOut = () => {
    setSession(null);
    setMe(null);
    resetEvents();
    navigate("/signin");
  };
  const refresh = async () => {
    const m = await api.auth.me();
    if (!currentOrg() || !m.orgs.some((o) => o.id === currentOrg())) setSession(token(), m.org_id || m.orgs[0]?.id);
    setMe(m);
  };
  // Signed in, the sign-in pages and / lead to the streams.
  useEffect(() => {
    if (me && (path === "/" || path === "/signin" || path === "/signup")) navigate("/streams", true);
  }, [me, path]);
  useEffect(() => {
    onUnauthorized(signOut);
    if (token()) refresh().catch(() => signOut()).finally(() => setChecking(false));
  }, []);

  if (checking) return <main id="main"><Loading /></main>;
  if (!me) {
    const signedIn = async (tok: string, org?: string) => {
      setSession(tok, org);
      setChecking(true);
      try { await refresh(); } finally { setChecking(false); }
      if (path === "/signin" || path === "/signup" || path === "/") navigate("/streams", true);
    };
    return (
      <main id="main" class="auth">
        {path === "/signup" ? <SignUp onDone={signedIn} /> : <SignIn onDone={signedIn} />}
      </main>
    );
  }
  const org = currentOrg() || me.org_id;
  const session: SessionState = {
    me, org, role: me.orgs.find((o) => o.id === org)?.role ?? me.role, refresh, signOut,
    switchOrg: async (id) => {
      setSession(token(), id);
      resetEvents();
      await refresh();
      navigate("/streams");
    },
  };
  return (
    <SessionContext.Provider value={session}>
      <Shell key={org} session={session} path={path} />
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById("app")!);
