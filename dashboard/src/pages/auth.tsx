// Sign in and sign up.
import { useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox, Link, useAction } from "../ui";

type Done = (token: string, org?: string) => Promise<void>;

export function SignIn({ onDone }: { onDone: Done }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const a = useAction();
  return (
    <form class="card auth-card" id="signin" onSubmit={async (e) => {
      e.preventDefault();
      const r = await a.run(() => api.auth.login({ email, password }));
      if (r) await onDone(r.token);
    }}>
      <h1>Sign in to Livestreams</h1>
      <label>Email<input type="email" name="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} /></label>
      <label>Password<input type="password" name="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
      <ErrorBox error={a.error} />
      <button type="submit" class="primary" disabled={a.busy}>{a.busy ? "Signing in…" : "Sign in"}</button>
      <p class="muted">No account? <Link href="/signup">Sign up</Link></p>
    </form>
  );
}

export function SignUp({ onDone }: { onDone: Done }) {
  const [f, setF] = useState({ email: "", password: "", name: "", org_name: "" });
  const a = useAction();
  const set = (k: keyof typeof f) => (e: { currentTarget: HTMLInputElement }) => setF({ ...f, [k]: e.currentTarget.value });
  return (
    <form class="card auth-card" id="signup" onSubmit={async (e) => {
      e.preventDefault();
      const r = await a.run(() => api.auth.signup({ ...f, org_name: f.org_name || undefined }));
      if (r) await onDone(r.token, r.org.id);
    }}>
      <h1>Create your account</h1>
      <label>Name<input name="name" autocomplete="name" value={f.name} onInput={set("name")} /></label>
      <label>Email<input type="email" name="email" autocomplete="username" required value={f.email} onInput={set("email")} /></label>
      <label>Password<input type="password" name="password" autocomplete="new-password" required minLength={8} value={f.password} onInput={set("password")} /></label>
      <label>Organization<input name="org_name" placeholder="My channel" value={f.org_name} onInput={set("org_name")} /></label>
      <ErrorBox error={a.error} />
      <button type="submit" class="primary" disabled={a.busy}>{a.busy ? "Creating…" : "Sign up"}</button>
      <p class="muted">Have an account? <Link href="/signin">Sign in</Link></p>
    </form>
  );
}
