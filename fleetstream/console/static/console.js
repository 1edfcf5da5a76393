// fleetstream console: plain JS, no build step, nothing loaded from elsewhere.
// Every text from the data goes into the page through textContent or
// createTextNode, never through innerHTML: names and messages may hold markup.
"use strict";
(function () {
  const meta = (n) => document.querySelector(`meta[name="${n}"]`).getAttribute("content");
  const TOKEN = meta("console-token");
  const MODE = meta("console-mode");
  const SVGNS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const S = { state: null, t: null, follow: true, zone: "", selVehicle: null, selDecision: null,
              checked: new Set(), busy: false, again: false, renders: [], playing: null };
  window.__console = S;

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of kids) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, v);
    return e;
  }
  const pad = (n) => String(n).padStart(2, "0");
  function hms(ts) {
    if (ts === null || ts === undefined) return "-";
    const d = new Date(ts * 1000);
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  }
  function stamp(ts) {
    const d = new Date(ts * 1000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${hms(ts)} UTC`;
  }
  const pct = (x) => (x === null || x === undefined ? "-" : `${(100 * x).toFixed(1)} %`);
  // The header's status line: what an action did (or why it failed) stays 8 s, so a
  // routine update (the data version, ``routine``) does not wipe it at once.
  let statusHeld = 0;
  function status(msg, bad, routine) {
    if (routine && Date.now() < statusHeld) return;
    if (!routine) statusHeld = Date.now() + 8000;
    const c = $("conn"); c.textContent = msg; c.classList.toggle("down", !!bad);
  }

  // ------------------------------------------------------------------ data

  async function refresh() {
    if (S.busy) { S.again = true; return; }
    S.busy = true;
    try {
      do {
        S.again = false;
        const q = new URLSearchParams();
        q.set("t", S.follow || S.t === null ? "latest" : String(S.t));
        if (S.zone) q.set("zone", S.zone);
        const r = await fetch(`/api/state?${q}`, { cache: "no-store" });
        if (!r.ok) throw new Error(`state: HTTP ${r.status}`);
        S.state = await r.json();
        render();
        if ((S.seen || 0) > S.state.version && (MODE !== "replay" || S.follow)) S.again = true;
      } while (S.again);
    } catch (e) {
      status(String(e.message || e), true);
    } finally {
      S.busy = false;
    }
  }

  async function post(path, body) {
    const r = await fetch(path, { method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-Console-Token": TOKEN } });
    const doc = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(doc.error || Object.values(doc.failed || {})[0] || `HTTP ${r.status}`);
    return doc;
  }
  const user = () => $("user").value.trim() || meta("console-user");

  // ------------------------------------------------------------------ render

  function render() {
    const st = S.state;
    if (S.follow || S.t === null) S.t = st.t;
    $("clock").textContent = st.t ? stamp(st.t) : "no data yet";
    zones(st);
    kpi(st.kpi);
    map(st);
    alerts(st.alerts);
    approvals(st.proposals);
    decisions(st.decisions);
    scrubber(st);
    status(`v${st.version}`, false, true);
    S.renders.push({ version: st.version, at: Date.now() });
    if (S.renders.length > 50) S.renders.shift();
    if (!document.body.dataset.painted) {
      document.body.dataset.painted = "1";
      performance.mark("console-painted");
    }
    document.body.dataset.version = st.version;
  }

  function zones(st) {
    const sel = $("zone");
    const have = new Set([...sel.options].map((o) => o.value));
    for (const z of st.zones) if (!have.has(z.zone)) sel.append(el("option", { value: z.zone }, z.zone));
  }

  function kpiCard(title, k, cls) {
    return el("div", { class: `kpi ${cls || ""}` },
      el("small", {}, title),
      el("b", {}, pct(k.on_time_rate)),
      el("small", {}, `on time (${k.on_time}/${k.delivered}) · risk ${k.at_risk} · failed ${k.failed} · unassigned ${k.unassigned}`));
  }
  function kpi(k) {
    const box = $("kpi");
    box.replaceChildren();
    const a = k.all;
    const nums = [["on time so far", pct(a.on_time_rate), `${a.on_time} of ${a.delivered} delivered`, "on_time"],
                  ["at risk", a.at_risk, "open orders with p_late ≥ 0.5", "at_risk"],
                  ["failed", a.failed, "failed attempts (final)", "failed"],
                  ["not served", a.not_served, "given up: no vehicle could serve or collect it", "not_served"],
                  ["expired", a.expired, "no outcome by window end + grace", "expired"],
                  ["unassigned", a.unassigned, "open orders on no route", "unassigned"],
                  ["open", a.open, "orders not finished", "open"]];
    for (const [t, v, sub, key] of nums)
      box.append(el("div", { class: "kpi", dataset: { kpi: key } }, el("small", {}, t), el("b", {}, v), el("small", {}, sub)));
    for (const [ft, fk] of Object.entries(k.by_fleet).sort()) box.append(kpiCard(`fleet ${ft}`, fk, "fleet"));
  }

  // ------------------------------------------------------------------ map

  const FLEET_COLOUR = { captive: "#3b6ea5", "3pl": "#7b4fa8", gig: "#16877d" };
  function riskClass(s) {
    const p = s.p_late;
    if (p === null || p === undefined) return s.eta > s.window_end ? "late" : "ok";
    return p >= 0.5 ? "late" : p >= 0.2 ? "warn" : "ok";
  }

  function map(st) {
    const m = $("map");
    const pts = [];
    for (const z of st.zones) for (const d of z.depots) pts.push(d);
    for (const v of st.vehicles) { pts.push(v); for (const s of v.route) if (s.lat !== null) pts.push(s); }
    m.replaceChildren();
    if (!pts.length) return;
    if (!S.proj || S.proj.zone !== S.zone) {  // fixed per zone: the roads are drawn once
      let lat0 = 0; for (const p of pts) lat0 += p.lat; lat0 /= pts.length;
      S.proj = { zone: S.zone, kx: Math.cos(lat0 * Math.PI / 180) * 1000 };
    }
    const kx = S.proj.kx, ky = 1000;
    const X = (p) => p.lon * kx, Y = (p) => -p.lat * ky;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const p of pts) { const x = X(p), y = Y(p); x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    const span = Math.max(x1 - x0, y1 - y0, 1e-3), padd = span * 0.04;
    m.setAttribute("viewBox", `${x0 - padd} ${y0 - padd} ${x1 - x0 + 2 * padd} ${y1 - y0 + 2 * padd}`);
    const u = span / 180; // one map unit for markers
    const gRoutes = svg("g", { id: "routes" }), gStops = svg("g", { id: "stops" });
    const gDepots = svg("g", { id: "depots" }), gVeh = svg("g", { id: "vehicles" });
    for (const z of st.zones) {
      z.depots.forEach((d, i) => {
        gDepots.append(svg("rect", { class: "depot", x: X(d) - 1.6 * u, y: Y(d) - 1.6 * u, width: 3.2 * u, height: 3.2 * u }));
        if (i === 0) {
          const t = svg("text", { class: "zlabel", x: X(d) + 2.5 * u, y: Y(d) - 2 * u, "font-size": 5 * u,
                                   "stroke-width": 0.8 * u });
          t.textContent = z.zone;
          gDepots.append(t);
        }
      });
    }
    for (const v of st.vehicles) {
      const colour = FLEET_COLOUR[v.fleet_type] || "#555";
      const sel = S.selVehicle === v.id;
      if (v.route.length) {
        const line = [[X(v), Y(v)]].concat(v.route.filter((s) => s.lat !== null).map((s) => [X(s), Y(s)]));
        gRoutes.append(svg("polyline", { class: "route", stroke: colour, "data-vehicle": v.id,
          points: line.map((p) => p.join(",")).join(" "), "stroke-opacity": sel ? 1 : null, "stroke-width": sel ? 3 : null }));
        for (const s of v.route) {
          if (s.lat === null) continue;
          const c = svg("circle", { class: `stop ${riskClass(s)} ${s.stop}`, cx: X(s), cy: Y(s), r: (sel ? 1.3 : 0.9) * u,
                                    "data-order": s.order_id });
          c.addEventListener("mousemove", (e) => hover(e, stopText(v, s)));
          c.addEventListener("mouseleave", unhover);
          gStops.append(c);
        }
      }
      const g = svg("g", { class: `vehicle ${v.status}${sel ? " sel" : ""}`, "data-id": v.id,
                           transform: `translate(${X(v)},${Y(v)}) rotate(${v.heading || 0}) scale(${u})` });
      g.append(svg("path", { d: v.heading === null ? "M0,-2.6 L2.2,1.8 L-2.2,1.8 Z" : "M0,-3.4 L2.2,2.4 L0,1.2 L-2.2,2.4 Z", fill: colour }));
      g.addEventListener("mousemove", (e) => hover(e, vehicleText(v)));
      g.addEventListener("mouseleave", unhover);
      g.addEventListener("click", () => { S.selVehicle = sel ? null : v.id; map(S.state); });
      gVeh.append(g);
    }
    m.append(roads(x0, x1, y0, y1, kx, ky, u), gRoutes, gStops, gDepots, gVeh);
  }

  // Road background (fleetstream.roads graphs covering the area), fetched once per
  // area: one path for minor and one for major roads.
  function roads(x0, x1, y0, y1, kx, ky, u) {
    const g = svg("g", { id: "roads" });
    const pad = 0.15 * Math.max(x1 - x0, y1 - y0);
    const box = [-(y1 + pad) / ky, (x0 - pad) / kx, -(y0 - pad) / ky, (x1 + pad) / kx].map((v) => v.toFixed(3)).join(",");
    if (!S.roads || (S.roads.box !== box && !S.roads.covers(x0, x1, y0, y1))) {
      const cover = [x0 - pad, x1 + pad, y0 - pad, y1 + pad];
      S.roads = { box, segs: null, d: null, covers: (a, b, c, d) => a >= cover[0] && b <= cover[1] && c >= cover[2] && d <= cover[3] };
      const mine = S.roads;
      fetch(`/api/roads?bbox=${box}`).then((r) => r.ok ? r.json() : null).then((doc) => {
        if (S.roads !== mine || !doc) return;
        mine.segs = doc.segments;
        mine.attribution = doc.attribution;
        if (doc.segments.length && S.state) map(S.state);
      }).catch(() => {});
    }
    const R = S.roads;
    if (!R.segs || !R.segs.length) return g;
    if (!R.d || R.kx !== kx) {
      const parts = [[], []];
      for (const s of R.segs) parts[s[4]].push(`M${(s[1] * kx).toFixed(2)} ${(-s[0] * ky).toFixed(2)}L${(s[3] * kx).toFixed(2)} ${(-s[2] * ky).toFixed(2)}`);
      R.d = parts.map((p) => p.join("")); R.kx = kx;
    }
    g.append(svg("path", { class: "road minor", d: R.d[0] }), svg("path", { class: "road major", d: R.d[1] }));
    const t = svg("text", { class: "attribution", x: x1, y: y1, "font-size": 3 * u, "text-anchor": "end" });
    t.textContent = R.attribution || "";
    g.append(t);
    return g;
  }

  function stopText(v, s) {
    const lines = [`${s.order_id} (${s.stop}) on ${v.id}`, `ETA ${hms(s.eta)} UTC`];
    if (s.lo80 !== null && s.lo80 !== undefined) lines.push(`80 % interval ${hms(s.lo80)} – ${hms(s.hi80)}`);
    lines.push(`window ends ${hms(s.window_end)}`);
    if (s.p_late !== null && s.p_late !== undefined) lines.push(`p_late ${s.p_late.toFixed(3)}`);
    return lines.join("\n");
  }
  function vehicleText(v) {
    return [`${v.id} (${v.fleet_type || "?"} ${v.vehicle_type || ""}) · ${v.zone}`, `status ${v.status}`,
            `last fix ${hms(v.pos_ts)} UTC (${Math.round(v.stale_s)} s ago)`,
            `heading ${v.heading === null ? "?" : Math.round(v.heading) + "°"}`, `${v.route.length} stops ahead`].join("\n");
  }
  function hover(e, text) {
    const h = $("hover"), box = $("mapbox").getBoundingClientRect();
    h.textContent = text;
    h.hidden = false;
    h.style.left = `${e.clientX - box.left + 12}px`;
    h.style.top = `${e.clientY - box.top + 12}px`;
  }
  function unhover() { $("hover").hidden = true; }

  // ------------------------------------------------------------------ feeds

  function alerts(list) {
    $("alerts-n").textContent = `(${list.length})`;
    $("alerts").replaceChildren(...list.map((a) => el("li", { class: a.ack ? "acked" : "", dataset: { id: a.alert_id, severity: a.severity } },
      el("span", { class: `sev ${a.severity}` }, a.severity), el("span", { class: "t" }, hms(a.ts)),
      el("span", { class: "msg" }, a.message), " ",
      el("span", { class: "muted" }, `[${a.kind} · ${a.zone}]`), " ",
      a.ack ? el("span", { class: "muted" }, `acknowledged by ${a.ack.by}`)
            : el("button", { type: "button", class: "ack", onclick: () => ack(a.alert_id) }, "ack"))));
  }
  async function ack(id) {
    try { await post("/api/ack", { alert_id: id, by: user() }); refresh(); } catch (e) { status(`ack: ${e.message}`, true); }
  }

  function approvals(list) {
    $("approvals-n").textContent = `(${list.filter((p) => !p.answer).length} open)`;
    const live = new Set(list.map((p) => p.decision_id));
    for (const id of [...S.checked]) if (!live.has(id)) S.checked.delete(id);
    $("approvals").replaceChildren(...list.map((p) => {
      const eff = p.effect ? ` · effect ${p.effect.lateness_min} min, ${p.effect.km} km` : "";
      const li = el("li", { dataset: { id: p.decision_id }, class: S.selDecision === p.decision_id ? "sel" : "" },
        p.answer ? null : el("input", { type: "checkbox", class: "pick", checked: S.checked.has(p.decision_id),
          onchange: (e) => { e.target.checked ? S.checked.add(p.decision_id) : S.checked.delete(p.decision_id); } }),
        el("span", { class: "t" }, hms(p.ts)), el("b", {}, `${p.kind}`), " ",
        el("a", { href: "#", onclick: (e) => { e.preventDefault(); inspect(p.decision_id); } }, p.decision_id),
        el("div", { class: "muted" }, `${p.summary}${eff} · vehicles ${p.vehicles.join(", ")}`));
      if (p.answer) li.append(el("div", { class: "answered" },
        `${p.answer.approved ? "approved" : "rejected"} by ${p.answer.by}${p.answer.reason ? ": " + p.answer.reason : ""} (${MODE === "replay" ? "written to approvals.jsonl" : "published, waiting for the engine"})`));
      else li.append(el("div", {},
        el("button", { type: "button", class: "approve", onclick: () => answer([p.decision_id], true) }, "approve"), " ",
        el("button", { type: "button", class: "reject", onclick: () => reject(p.decision_id) }, "reject…")));
      return li;
    }));
  }
  async function answer(ids, approved, reason) {
    try {
      const doc = await post("/api/answer", { decision_ids: ids, approved, reason, by: user(), t: S.t });
      ids.forEach((i) => S.checked.delete(i));
      const bad = Object.keys(doc.failed || {}).length;
      status(`${doc.published.length} answer(s) published${bad ? `, ${bad} failed` : ""}`, bad > 0);
      refresh();
    } catch (e) { status(`answer: ${e.message}`, true); }
  }
  function reject(id) {
    const d = $("reject-dialog");
    $("reject-id").textContent = id;
    $("reject-reason").value = "";
    d.dataset.id = id;
    d.showModal();
  }

  function decisions(list) {
    $("decisions").replaceChildren(...list.map((d) => el("li", { dataset: { id: d.decision_id }, class: S.selDecision === d.decision_id ? "sel" : "" },
      el("span", { class: "t" }, hms(d.ts)), el("b", {}, `${d.kind} ${d.status}`), " ",
      el("a", { href: "#", onclick: (e) => { e.preventDefault(); inspect(d.decision_id); } }, d.decision_id),
      el("div", { class: "muted" }, d.summary))));
  }

  // Costed alternatives: an assignment by insertion as a table (per order the vehicle
  // chosen, its added cost, and the other options: cost difference or the constraint
  // that ruled the vehicle out); other kinds as JSON.
  function alternatives(list) {
    const assign = list.length && list.every((a) => a && a.order_id !== undefined && Array.isArray(a.options));
    if (!assign) return el("pre", { class: "alternatives" }, JSON.stringify(list, null, 1));
    const money = (v) => (typeof v === "number" ? v.toFixed(2) : "?");
    const opt = (o) => (o.option === "leave_unassigned" ? "leave unassigned"
      : o.constraint !== undefined ? `${o.vehicle}: ${o.constraint}` : `${o.vehicle} +${money(o.cost_delta)}`);
    return el("table", { class: "alternatives" },
      el("tr", {}, el("th", {}, "order"), el("th", {}, "chosen (added cost)"), el("th", {}, "other options")),
      ...list.map((a) => el("tr", { dataset: { order: a.order_id } },
        el("td", {}, a.order_id),
        el("td", {}, `${a.vehicle} ${money(a.cost)} · ${a.feasible} feasible, ${a.ruled_out} ruled out`),
        el("td", { class: "options" }, a.options.map(opt).join(" · ") || "-"))));
  }

  async function inspect(id) {
    S.selDecision = id;
    const box = $("inspector");
    try {
      const r = await fetch(`/api/decision/${encodeURIComponent(id)}`);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const doc = await r.json();
      const d = doc.record, x = d.explanation || {};
      const rows = (obj) => el("table", {}, ...Object.entries(obj || {}).map(([k, v]) =>
        el("tr", {}, el("th", {}, k), el("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v)))));
      box.replaceChildren(...[  // without the parts that do not apply (null)
        el("p", {}, el("b", {}, d.decision_id), ` · ${d.kind} · ${d.status} · autonomy ${d.autonomy} · ${stamp(d.ts)}`),
        el("p", {}, x.summary || ""),
        d.refers_to ? el("p", { class: "muted" }, `refers to ${d.refers_to}`) : null,
        x.approved_by ? el("p", { class: "answered" }, `approved by ${x.approved_by}`) : null,
        el("h4", {}, "Reasons"), el("pre", {}, JSON.stringify(x.reasons || [], null, 1)),
        el("h4", {}, "Alternatives"), alternatives(x.alternatives || []),
        el("h4", {}, "Expected effect"), rows(x.expected_effect),
        el("h4", {}, "Orders and routes"), el("p", {}, `${d.order_ids.length} orders; vehicles ${Object.keys(d.routes || {}).join(", ") || "-"}`),
        el("h4", {}, "Trigger events"), el("pre", { class: "triggers" }, doc.triggers.map((t) => JSON.stringify(t)).join("\n")),
        el("h4", {}, "Model versions"),
        rows(Object.fromEntries(Object.entries(d.models || {}).map(([k, v]) => [k, `${v.version} (n=${v.n})`]))),
        doc.answers.length ? el("h4", {}, "Answers") : null,
        ...doc.answers.map((a) => el("p", {}, `${a.decision_id}: ${a.status} at ${hms(a.ts)} · ${(a.explanation || {}).summary || ""}`)),
        overrides(d)].filter((c) => c !== null && c !== undefined));
      box.dataset.id = id;
    } catch (e) {
      box.replaceChildren(el("p", { class: "muted" }, `could not load ${id}: ${e.message}`));
    }
    if (S.state) { approvals(S.state.proposals); decisions(S.state.decisions); }
  }

  // ------------------------------------------------------------------ overrides

  // Dispatcher overrides (docs/console.md, "Overrides"): lock or unlock a route of the
  // inspected decision, pin one of its orders to a vehicle, change an order's window or
  // its address (delivery location, "lat, lon" in degrees).
  function latlon(text) {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*[,; ]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text || "");
    if (!m) return null;
    const lat = +m[1], lon = +m[2];
    return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null;
  }
  function overrides(d) {
    const vids = Object.keys(d.routes || {});
    const oids = d.order_ids || [];
    if (!vids.length && !oids.length) return null;
    const day = Math.floor(d.ts / 86400) * 86400;
    const at = (hhmm) => { const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm.trim()); return m ? day + 3600 * +m[1] + 60 * +m[2] : null; };
    const orderSel = () => el("select", { class: "ov-order" }, ...oids.map((o) => el("option", { value: o }, o)));
    const pinOrder = orderSel(), winOrder = orderSel(), addrOrder = orderSel();
    // the delivery location of each order on the decision's routes: the address field
    // starts from it
    const where = {};
    for (const stops of Object.values(d.routes || {}))
      for (const s of stops) if (s.stop === "delivery" && s.location) where[s.order_id] = `${s.location.lat}, ${s.location.lon}`;
    const addr = el("input", { class: "ov-address-input", size: 20, placeholder: "lat, lon", value: where[oids[0]] || "" });
    addrOrder.onchange = () => { addr.value = where[addrOrder.value] || ""; };
    const changeAddress = () => {
      const p = latlon(addr.value);
      if (!p) { status("change address: give the new location as lat, lon in degrees", true); return; }
      override({ action: "order_update", order_id: addrOrder.value, location: p, zone: d.zone });
    };
    const pinVeh = el("input", { class: "ov-vehicle", size: 10, placeholder: "vehicle id", value: vids[0] || "" });
    const ws = el("input", { class: "ov-ws", size: 5, placeholder: "HH:MM" });
    const we = el("input", { class: "ov-we", size: 5, placeholder: "HH:MM" });
    return el("div", { id: "overrides" }, el("h4", {}, "Overrides"),
      ...vids.map((v) => el("div", { dataset: { vehicle: v } }, `${v}: `,
        el("button", { type: "button", class: "ov-lock", onclick: () => override({ action: "route_lock", vehicle_id: v, zone: d.zone }) }, "lock route"), " ",
        el("button", { type: "button", class: "ov-unlock", onclick: () => override({ action: "route_unlock", vehicle_id: v, zone: d.zone }) }, "unlock route"))),
      oids.length ? el("div", {}, pinOrder, " ", pinVeh, " ",
        el("button", { type: "button", class: "ov-pin", onclick: () => override({ action: "order_pin", order_id: pinOrder.value, vehicle_id: pinVeh.value.trim(), zone: d.zone }) }, "pin to vehicle…"), " ",
        el("button", { type: "button", class: "ov-unpin", onclick: () => override({ action: "order_unpin", order_id: pinOrder.value, zone: d.zone }) }, "unpin")) : null,
      oids.length ? el("div", {}, winOrder, " window (UTC) ", ws, "–", we, " ",
        el("button", { type: "button", class: "ov-window", onclick: () => override({ action: "order_update", order_id: winOrder.value, window_start: at(ws.value), window_end: at(we.value), zone: d.zone }) }, "change window…")) : null,
      oids.length ? el("div", {}, addrOrder, " address ", addr, " ",
        el("button", { type: "button", class: "ov-address", onclick: changeAddress }, "change address…")) : null);
  }
  async function override(body) {
    try {
      const doc = await post("/api/override", { ...body, by: user(), t: S.t });
      const ev = doc.published[0];
      status(`${ev.type} ${ev.order_id || ev.vehicle_id} ${MODE === "replay" ? "written to approvals.jsonl" : "published"}`);
      refresh();
    } catch (e) { status(`override: ${e.message}`, true); }
  }

  // ------------------------------------------------------------------ time

  function scrubber(st) {
    if (MODE !== "replay") return;
    $("scrubber").hidden = false;
    const r = $("time");
    r.min = Math.floor(st.t_min);
    r.max = Math.ceil(st.t_max);
    if (S.follow) r.value = r.max; else r.value = S.t;
    $("tlabel").textContent = `${stamp(S.t)}  (${hms(st.t_min)} – ${hms(st.t_max)})`;
  }
  let scrubTimer = null;
  function onScrub() {
    S.follow = false;
    $("follow").checked = false;
    S.t = Number($("time").value);
    $("tlabel").textContent = stamp(S.t);
    clearTimeout(scrubTimer);
    scrubTimer = setTimeout(refresh, 60);
  }
  function play() {
    if (S.playing) { clearInterval(S.playing); S.playing = null; $("play").textContent = "▶"; return; }
    S.follow = false; $("follow").checked = false;
    $("play").textContent = "❚❚";
    S.playing = setInterval(() => {
      const st = S.state;
      if (!st) return;
      S.t = Math.min(st.t_max, (S.t || st.t_min) + 300);
      if (S.t >= st.t_max) play();
      refresh();
    }, 500);
  }

  // ------------------------------------------------------------------ wiring

  function connect() {
    const es = new EventSource("/api/events");
    es.addEventListener("update", (e) => {
      const doc = JSON.parse(e.data);
      S.seen = Math.max(S.seen || 0, doc.version);
      if (!S.state || doc.version === S.state.version) return; // the first load brings it
      if (MODE !== "replay" || S.follow) refresh();
      else { S.state.t_max = doc.t_max; scrubber(S.state); }
    });
    es.onerror = () => status("disconnected: retrying", true);
  }

  const start = new URLSearchParams(location.search).get("t");
  if (start !== null && isFinite(Number(start))) { S.follow = false; S.t = Number(start); $("follow").checked = false; }
  $("mode").textContent = MODE;
  $("user").value = meta("console-user");
  $("zone").addEventListener("change", (e) => { S.zone = e.target.value; refresh(); });
  $("time").addEventListener("input", onScrub);
  $("follow").addEventListener("change", (e) => { S.follow = e.target.checked; refresh(); });
  $("play").addEventListener("click", play);
  $("approve-batch").addEventListener("click", () => { if (S.checked.size) answer([...S.checked], true); });
  $("select-all").addEventListener("change", (e) => {
    if (!S.state) return;
    for (const p of S.state.proposals) if (!p.answer) e.target.checked ? S.checked.add(p.decision_id) : S.checked.delete(p.decision_id);
    approvals(S.state.proposals);
  });
  $("reject-cancel").addEventListener("click", () => $("reject-dialog").close());
  $("reject-form").addEventListener("submit", (e) => {
    const reason = $("reject-reason").value.trim();
    if (!reason) { e.preventDefault(); return; }
    answer([$("reject-dialog").dataset.id], false, reason);
  });
  refresh();
  connect();
})();
