// A small history router: the dashboard's screens are real paths
// (/streams/ID), which the control plane answers with index.html.
import { useEffect, useState } from "preact/hooks";

const listeners = new Set<() => void>();

export function navigate(path: string, replace = false): void {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  listeners.forEach((f) => f());
  window.scrollTo(0, 0);
}

addEventListener("popstate", () => listeners.forEach((f) => f()));

// usePath is the current path, re-rendering on navigation.
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const f = () => setPath(location.pathname);
    listeners.add(f);
    return () => { listeners.delete(f); };
  }, []);
  return path;
}

// match returns the parameters of pattern (":name" segments) in path.
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/"), s = path.replace(/\/+$/, "").split("/");
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) out[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return out;
}
