// Viewing analytics of a stream or an asset: views, concurrent viewers,
// watch time, startup time and rebuffer ratio over time (uPlot charts),
// and by country (a table with bars).
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { AnalyticsBucket, AnalyticsQuery, api } from "../api";
import { Empty, Loaded, useLoad } from "../ui";

const ranges: Record<string, { ms: number; group: string; label: string }> = {
  "1h": { ms: 3600e3, group: "minute", label: "Last hour" },
  "24h": { ms: 86400e3, group: "hour", label: "Last 24 hours" },
  "7d": { ms: 7 * 86400e3, group: "hour", label: "Last 7 days" },
};

interface Series { label: string; value: (b: AnalyticsBucket) => number; unit: string }

const charts: Series[] = [
  { label: "Views", value: (b) => b.views, unit: "" },
  { label: "Concurrent viewers (peak)", value: (b) => b.peak_concurrent, unit: "" },
  { label: "Watch time", value: (b) => b.watch_seconds / 60, unit: "min" },
  { label: "Startup time p50", value: (b) => b.startup_p50_ms, unit: "ms" },
  { label: "Rebuffer ratio", value: (b) => b.rebuffer_ratio * 100, unit: "%" },
];

function Chart({ title, xs, ys, unit, from, to }: { title: string; xs: number[]; ys: number[]; unit: string; from: number; to: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const el = box.current;
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue("--accent").trim() || "#4f46e5";
    const fg = css.getPropertyValue("--muted").trim() || "#666";
    const plot = new uPlot({
      width: Math.max(240, el.clientWidth), height: 160,
      legend: { show: false }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: () => [from, to] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{ stroke: fg, grid: { stroke: "rgba(128,128,128,.15)" } }, { stroke: fg, size: 48, grid: { stroke: "rgba(128,128,128,.15)" }, values: (_, v) => v.map((x) => x + (unit === "%" ? "%" : "")) }],
      series: [{}, { label: title, stroke: accent, width: 2, fill: accent + "22", points: { show: xs.length < 20 } }],
    }, [xs, ys], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height: 160 }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.destroy(); };
  }, [xs, ys]);
  const last = ys.length ? ys.reduce((a, b) => a + b, 0) : 0;
  return (
    <figure class="chart card">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title} over time; ${ys.length} points, total ${Math.round(last)} ${unit}`} />
    </figure>
  );
}

export function AnalyticsPanel({ query, title }: { query: AnalyticsQuery; title: string }) {
  const [range, setRange] = useState("24h");
  const key = JSON.stringify(query) + range;
  const data = useLoad(async () => {
    const r = ranges[range], to = new Date(), from = new Date(to.getTime() - r.ms);
    const q = { ...query, from: from.toISOString(), to: to.toISOString() };
    const [time, country] = await Promise.all([api.analytics({ ...q, group_by: r.group }), api.analytics({ ...q, group_by: "country" })]);
    return { time, country };
  }, [key]);
  return (
    <section class="analytics" aria-labelledby={"an-h-" + (query.stream_id ?? query.asset_id)}>
      <div class="page-head">
        <h2 id={"an-h-" + (query.stream_id ?? query.asset_id)}>{title}</h2>
        <label class="inline">Period
          <select value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            {Object.entries(ranges).map(([k, r]) => <option key={k} value={k}>{r.label}</option>)}
          </select>
        </label>
      </div>
      <Loaded state={data}>{({ time, country }) => {
        const t = time.totals;
        const xs = time.buckets.map((b) => new Date(b.time!).getTime() / 1000);
        const from = new Date(time.from).getTime() / 1000, to = new Date(time.to).getTime() / 1000;
        const max = Math.max(1, ...country.buckets.map((b) => b.views));
        return (
          <>
            <div class="kpis">
              <div class="kpi"><span class="kpi-v">{t.views}</span><span class="kpi-l">views</span></div>
              <div class="kpi"><span class="kpi-v">{t.unique_viewers}</span><span class="kpi-l">unique viewers</span></div>
              <div class="kpi"><span class="kpi-v">{t.peak_concurrent}</span><span class="kpi-l">peak concurrent</span></div>
              <div class="kpi"><span class="kpi-v">{Math.round(t.watch_seconds / 60)}</span><span class="kpi-l">minutes watched</span></div>
              <div class="kpi"><span class="kpi-v">{Math.round(t.startup_p50_ms)} ms</span><span class="kpi-l">startup p50</span></div>
              <div class="kpi"><span class="kpi-v">{(t.rebuffer_ratio * 100).toFixed(2)} %</span><span class="kpi-l">rebuffering</span></div>
            </div>
            {xs.length === 0 ? <Empty title="No views in this period">Figures appear once viewers watch with the player.</Empty> : (
              <div class="charts">
                {charts.map((c) => <Chart key={c.label} title={c.label} xs={xs} ys={time.buckets.map(c.value)} unit={c.unit} from={from} to={to} />)}
              </div>
            )}
            {country.buckets.length > 0 && (
              <div class="table-wrap card">
                <table class="by-country">
                  <caption>Views by country</caption>
                  <thead><tr><th scope="col">Country</th><th scope="col">Views</th><th scope="col">Watch time</th><th scope="col">Rebuffering</th></tr></thead>
                  <tbody>{[...country.buckets].sort((a, b) => b.views - a.views).map((b) => (
                    <tr key={b.country}>
                      <td>{b.country || "unknown"}</td>
                      <td><span class="bar" style={{ width: (b.views / max) * 100 + "%" }} aria-hidden="true" />{b.views}</td>
                      <td>{Math.round(b.watch_seconds / 60)} min</td>
                      <td>{(b.rebuffer_ratio * 100).toFixed(2)} %</td>
                    </tr>
                  ))}</tbody>
                </table>
              </div>
            )}
          </>
        );
      }}</Loaded>
    </section>
  );
}

// AnalyticsPage picks a stream or an asset and shows its figures.
export function AnalyticsPage() {
  const choices = useLoad(async () => {
    const [streams, assets] = await Promise.all([api.streams.list(), api.assets.list({ status: "ready", limit: 50 })]);
    return { streams, assets: assets.items };
  });
  const [pick, setPick] = useState("");
  return (
    <section aria-labelledby="analytics-h">
      <div class="page-head"><h1 id="analytics-h">Analytics</h1></div>
      <Loaded state={choices}>{({ streams, assets }) => {
        const value = pick || (streams[0] ? "s:" + streams[0].id : assets[0] ? "a:" + assets[0].id : "");
        if (!value) return <Empty title="Nothing to measure yet">Create a stream or upload a video first.</Empty>;
        const [kind, id] = value.split(":");
        return (
          <>
            <label>Stream or asset
              <select value={value} onChange={(e) => setPick(e.currentTarget.value)}>
                <optgroup label="Streams">{streams.map((s) => <option key={s.id} value={"s:" + s.id}>{s.name}</option>)}</optgroup>
                <optgroup label="Assets">{assets.map((a) => <option key={a.id} value={"a:" + a.id}>{a.type} {a.id}</option>)}</optgroup>
              </select>
            </label>
            <AnalyticsPanel key={value} query={kind === "s" ? { stream_id: id } : { asset_id: id }} title={kind === "s" ? "Stream" : "Asset"} />
          </>
        );
      }}</Loaded>
    </section>
  );
}
