// tokenswarm: charts under the LLM tab of Locust's web UI (no fork of Locust's React app).
// While the URL says ?tab=llm, a box is kept after the tab's table and redrawn every 2 s from
// ./tokenswarm/summary.json: output tokens/s (exact 2 s bins), TTFT and ITL p50/p99 (last 10 s
// of worker reports, like Locust's "current" percentiles), with a dashed line at each stage start.
(() => {
  "use strict";
  const BOX_ID = "tokenswarm-charts";
  const REFRESH_MS = 2000;
  const W = 420, H = 200, PAD = { l: 48, r: 10, t: 24, b: 24 };
  const COLORS = { p50: "#2e7d32", p99: "#d32f2f", tps: "#1976d2" };
  const NS = "http://www.w3.org/2000/svg";

  const onTab = () => new URLSearchParams(location.search).get("tab") === "llm";

  function box() {
    let el = document.getElementById(BOX_ID);
    const table = document.querySelector("main .MuiTableContainer-root");
    if (!table) return null;
    if (!el) {
      el = document.createElement("div");
      el.id = BOX_ID;
      el.style.cssText = "display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));" +
        "gap:16px;margin:16px 0;color:inherit;font:12px sans-serif";
    }
    if (el.previousElementSibling !== table) table.insertAdjacentElement("afterend", el);
    return el;
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // y axis: 0 to a multiple of a 1/2/5 step, at most 5 steps, 5 % headroom
  function axis(v) {
    const top = v > 0 ? v * 1.05 : 1;
    const p = 10 ** Math.floor(Math.log10(top / 5));
    const step = [1, 2, 5, 10].map((m) => m * p).find((m) => top / m <= 5);
    return { step, max: Math.ceil(top / step) * step };
  }

  const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false });

  // series: [{name, color, points: [[t, v], ...]}]; marks: [{t, label}]
  function chart(id, title, series, marks, t0, t1) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", "data-chart": id });
    const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v !== null);
    const { step, max: ymax } = axis(Math.max(0, ...values));
    const span = Math.max(t1 - t0, 1);
    const x = (t) => PAD.l + ((t - t0) / span) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - (v / ymax) * (H - PAD.t - PAD.b);
    root.appendChild(svg("text", { x: PAD.l, y: 14, fill: "currentColor", "font-weight": "bold" },
      title));
    series.forEach((s, i) => {
      const lx = W - PAD.r - 60 * (series.length - i);
      root.appendChild(svg("rect", { x: lx, y: 6, width: 10, height: 10, fill: s.color }));
      root.appendChild(svg("text", { x: lx + 14, y: 15, fill: "currentColor" }, s.name));
    });
    for (let v = 0; v <= ymax + step / 2; v += step) {
      root.appendChild(svg("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v),
        stroke: "currentColor", "stroke-opacity": 0.15 }));
      root.appendChild(svg("text", { x: PAD.l - 4, y: y(v) + 4, fill: "currentColor",
        "text-anchor": "end" }, +v.toPrecision(6)));
    }
    for (const t of [t0, t1]) {
      root.appendChild(svg("text", { x: x(t), y: H - 6, fill: "currentColor",
        "text-anchor": t === t0 ? "start" : "end" }, clock(t)));
    }
    for (const m of marks) {
      if (m.t < t0 || m.t > t1) continue;
      root.appendChild(svg("line", { x1: x(m.t), x2: x(m.t), y1: PAD.t, y2: H - PAD.b,
        stroke: "currentColor", "stroke-opacity": 0.5, "stroke-dasharray": "4 3" }));
      root.appendChild(svg("text", { x: x(m.t) + 3, y: PAD.t + 10, fill: "currentColor" },
        m.label));
    }
    for (const s of series) {
      const pts = s.points.filter((p) => p[1] !== null);
      root.appendChild(svg("polyline", { fill: "none", stroke: s.color, "stroke-width": 2,
        "data-series": s.name, "data-points": pts.length,
        points: pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") }));
    }
    return root;
  }

  function render(el, doc) {
    const hist = doc.history;
    const pts = hist.points;
    const col = (key) => pts.map((p) => [p.t, p[key]]);
    const tps = hist.output_tps;
    const marks = doc.stages.map((s) => ({ t: Date.parse(s.started_at) / 1000, label: s.name }));
    const times = [...tps.map((p) => p[0]), ...pts.map((p) => p.t), ...marks.map((m) => m.t)];
    const t0 = Math.min(...times), t1 = Math.max(...times);
    el.replaceChildren(
      chart("output_tps", "Output tokens/s", [
        { name: "tok/s", color: COLORS.tps, points: tps.map((p) => [p[0] + hist.interval_s / 2, p[1]]) },
      ], marks, t0, t1),
      chart("ttft", "TTFT (ms)", [
        { name: "p50", color: COLORS.p50, points: col("ttft_p50") },
        { name: "p99", color: COLORS.p99, points: col("ttft_p99") },
      ], marks, t0, t1),
      chart("itl", "ITL (ms)", [
        { name: "p50", color: COLORS.p50, points: col("itl_p50") },
        { name: "p99", color: COLORS.p99, points: col("itl_p99") },
      ], marks, t0, t1),
    );
  }

  async function tick() {
    if (!onTab()) {
      document.getElementById(BOX_ID)?.remove();
      return;
    }
    const el = box();
    if (!el) return;
    try {
      const resp = await fetch("./tokenswarm/summary.json", { cache: "no-store" });
      const doc = await resp.json();
      if (doc.stages.length) render(el, doc);
      else el.textContent = "No test started yet.";
    } catch (err) {
      el.textContent = `tokenswarm: live metrics unavailable (${err})`;
    }
  }

  setInterval(tick, REFRESH_MS);
  setInterval(() => onTab() ? box() : document.getElementById(BOX_ID)?.remove(), 250);
  tick();
})();
