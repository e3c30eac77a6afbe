// The video player of the dashboard: the project's embeddable player
// (/player/livestreams-player.js: hls.js plus quality-of-service beacons,
// so the creator's own previews count in the analytics like any viewer),
// with a poster, captions tracks and storyboard hover-scrub on a seek bar
// of its own.
import { useEffect, useRef, useState } from "preact/hooks";
import { CaptionTrack } from "./api";
import { duration } from "./ui";

interface PlayerHandle { destroy(): void }
interface PlayerLib { attach(video: HTMLVideoElement, url: string, opts?: Record<string, unknown>): PlayerHandle }

let lib: Promise<PlayerLib> | null = null;

// loadPlayer loads the control plane's player script once.
export function loadPlayer(): Promise<PlayerLib> {
  if (!lib) {
    lib = new Promise((resolve, reject) => {
      const w = window as unknown as { LivestreamsPlayer?: PlayerLib };
      if (w.LivestreamsPlayer) return resolve(w.LivestreamsPlayer);
      const s = document.createElement("script");
      s.src = "/player/livestreams-player.js";
      s.onload = () => (w.LivestreamsPlayer ? resolve(w.LivestreamsPlayer) : reject(new Error("the player script did not load")));
      s.onerror = () => { lib = null; reject(new Error("the player script did not load")); };
      document.head.appendChild(s);
    });
  }
  return lib;
}

// Storyboard cue: a time range and its tile in the sprite sheet.
interface Cue { start: number; end: number; url: string; x: number; y: number; w: number; h: number }

function vttTime(s: string): number {
  const p = s.trim().split(":").map(Number);
  return p.reduce((acc, x) => acc * 60 + x, 0);
}

// parseStoryboard reads the WebVTT cues "a --> b\nimage#xywh=x,y,w,h",
// resolving image against the VTT's own URL.
export function parseStoryboard(text: string, base: string): Cue[] {
  const out: Cue[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*([\d:.]+)\s+-->\s+([\d:.]+)/.exec(lines[i]);
    if (!m || i + 1 >= lines.length) continue;
    const t = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)/.exec(lines[i + 1].trim());
    if (!t) continue;
    out.push({ start: vttTime(m[1]), end: vttTime(m[2]), url: new URL(t[1], base).href, x: +t[2], y: +t[3], w: +t[4], h: +t[5] });
  }
  return out;
}

export interface PlayerProps {
  src: string;
  poster?: string;
  storyboard?: string;
  captions?: CaptionTrack[];
  live?: boolean;
  label: string;
  onTime?: (t: number, duration: number) => void;
  videoRef?: { current: HTMLVideoElement | null };
  id?: string;
}

export function Player({ src, poster, storyboard, captions, live, label, onTime, videoRef, id }: PlayerProps) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState("");
  const [cues, setCues] = useState<Cue[]>([]);
  const [time, setTime] = useState(0);
  const [dur, setDur] = useState(0);
  const [hover, setHover] = useState<{ x: number; t: number } | null>(null);

  useEffect(() => {
    if (videoRef) videoRef.current = video.current;
    let handle: PlayerHandle | null = null;
    let gone = false;
    // A live stream's playlist appears a few seconds after it goes live:
    // wait for it rather than let the player fail on a 404.
    const ready = async () => {
      const end = Date.now() + 60000;
      while (live && !gone && Date.now() < end) {
        try {
          if ((await fetch(src)).ok) return;
        } catch { /* not yet */ }
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    Promise.all([loadPlayer(), ready()]).then(([p]) => {
      if (gone || !video.current) return;
      // hls.js wherever Media Source Extensions exist: some Chromium
      // builds claim native HLS (canPlayType) and then fail on the ladder;
      // Safari without MSE (older iPhones) keeps its own HLS.
      const mse = "MediaSource" in window || "ManagedMediaSource" in window;
      handle = p.attach(video.current, src, { forceHlsJs: mse });
      video.current.play().catch(() => undefined);
    }).catch((e) => setError(String(e.message ?? e)));
    return () => { gone = true; handle?.destroy(); };
  }, [src]);

  useEffect(() => {
    if (!storyboard) return;
    let gone = false;
    fetch(storyboard).then(async (r) => {
      if (!r.ok) return;
      const c = parseStoryboard(await r.text(), r.url);
      if (!gone) setCues(c);
    }).catch(() => undefined);
    return () => { gone = true; };
  }, [storyboard]);

  const cueAt = (t: number) => cues.find((c) => t >= c.start && t < c.end) ?? cues[cues.length - 1];
  const seekTo = (t: number) => { if (video.current) video.current.currentTime = t; };
  const fraction = (e: MouseEvent) => {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    return Math.max(0, Math.min(1, (e.clientX - r.left) / r.width));
  };
  const cue = hover && cues.length ? cueAt(hover.t) : undefined;

  return (
    <div class="player" id={id}>
      <video
        ref={video} controls muted playsInline crossOrigin="anonymous" poster={poster} aria-label={label}
        onTimeUpdate={(e) => { const v = e.currentTarget; setTime(v.currentTime); setDur(v.duration); onTime?.(v.currentTime, v.duration); }}
        onDurationChange={(e) => setDur(e.currentTarget.duration)}
      >
        {(captions ?? []).filter((c) => c.vtt_url && c.status === "succeeded").map((c, i) => (
          <track key={c.language} kind="captions" src={c.vtt_url} srcLang={c.language} label={c.language} default={i === 0} />
        ))}
      </video>
      {error && <p class="error" role="alert">{error}</p>}
      {!live && isFinite(dur) && dur > 0 && (
        <div class="scrub">
          <div
            class="scrub-bar" role="slider" tabIndex={0} aria-label={`Seek ${label}`} aria-valuemin={0} aria-valuemax={Math.round(dur)} aria-valuenow={Math.round(time)} aria-valuetext={duration(time)}
            onMouseMove={(e) => setHover({ x: fraction(e) * 100, t: fraction(e) * dur })}
            onMouseLeave={() => setHover(null)}
            onClick={(e) => seekTo(fraction(e) * dur)}
            onKeyDown={(e) => {
              if (e.key === "ArrowRight") { seekTo(Math.min(dur, time + 5)); e.preventDefault(); }
              if (e.key === "ArrowLeft") { seekTo(Math.max(0, time - 5)); e.preventDefault(); }
            }}
          >
            <div class="scrub-fill" style={{ width: (time / dur) * 100 + "%" }} />
            {hover && (
              <div class="scrub-preview" style={{ left: hover.x + "%" }} data-time={hover.t.toFixed(1)}>
                {cue && <div class="scrub-thumb" style={{ width: cue.w + "px", height: cue.h + "px", backgroundImage: `url("${cue.url}")`, backgroundPosition: `-${cue.x}px -${cue.y}px` }} />}
                <span>{duration(hover.t)}</span>
              </div>
            )}
          </div>
          <span class="muted scrub-time">{duration(time)} / {duration(dur)}</span>
        </div>
      )}
    </div>
  );
}
