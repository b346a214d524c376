/**
 * The dashboard's one page: HTML, CSS and a plain-JavaScript app (no imports, no network but
 * its own server's `/api/…`). uPlot (client/assets/uplot.ts) draws the charts. The page polls
 * `/api/state` twice a second; a job's task table fetches only the rows in view.
 */
import { UPLOT_CSS } from "../assets/uplot.ts";

export const DASHBOARD_CSS = `${UPLOT_CSS}
:root { --bg: #f4f6f9; --panel: #fff; --text: #1f2933; --muted: #616e7c; --border: #e1e6ec;
  --accent: #2563eb; --ok: #16a34a; --bad: #dc2626; --run: #f59e0b; --wait: #94a3b8; --cancel: #7c3aed; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: #1e293b; color: #fff; padding: 10px 24px; display: flex; gap: 24px;
  align-items: center; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header nav a { color: #cbd5e1; margin-right: 16px; text-decoration: none; cursor: pointer; }
header nav a.active { color: #fff; border-bottom: 2px solid #fff; }
header .status { margin-left: auto; color: #cbd5e1; font-size: 12px; }
main { padding: 16px 24px; max-width: 1600px; margin: 0 auto; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }
.card { background: var(--panel); border: 1px solid var(--border); border-radius: 8px;
  padding: 10px 16px; min-width: 150px; }
.card .t { color: var(--muted); font-size: 12px; text-transform: uppercase; }
.card .v { font-size: 20px; font-weight: 600; }
.panel { background: var(--panel); border: 1px solid var(--border); border-radius: 8px;
  padding: 12px 16px; margin-bottom: 16px; }
.panel h2 { margin: 0 0 8px; font-size: 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--border);
  white-space: nowrap; }
tbody tr.link { cursor: pointer; }
tbody tr.link:hover { background: #eef2ff; }
.progress { display: flex; height: 14px; width: 240px; background: #e5e7eb; border-radius: 3px;
  overflow: hidden; }
.progress span { display: block; height: 100%; }
.s-finished { background: var(--ok); } .s-failed { background: var(--bad); }
.s-running { background: var(--run); } .s-waiting { background: var(--wait); }
.s-canceled { background: var(--cancel); }
.state-finished { color: var(--ok); } .state-failed { color: var(--bad); }
.state-running { color: #b45309; } .state-offline { color: var(--muted); }
.error { color: var(--bad); white-space: pre-wrap; font-family: ui-monospace, monospace; }
.muted { color: var(--muted); }
.scroller { height: 420px; overflow-y: auto; position: relative; border: 1px solid var(--border); }
.scroller .spacer { width: 1px; }
.scroller table { position: absolute; top: 0; left: 0; }
.scroller td, .scroller th { height: 26px; }
.hidden { display: none; }
.cores { display: flex; flex-wrap: wrap; gap: 4px; }
.core { width: 44px; height: 30px; background: #e5e7eb; position: relative; font-size: 10px;
  text-align: center; line-height: 30px; }
.core i { position: absolute; bottom: 0; left: 0; width: 100%; background: #93c5fd; z-index: 0; }
.core b { position: relative; z-index: 1; font-weight: normal; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0; }
dt { color: var(--muted); }
button, select { font: inherit; }
.banner { background: #fef3c7; border-bottom: 1px solid #f59e0b; color: #78350f; padding: 8px 24px;
  display: flex; gap: 16px; align-items: center; }
.banner button { margin-left: auto; }
.banner.hidden { display: none; }
.timeline { font-size: 11px; }
.timeline .queued { fill: #cbd5e1; } .timeline .running { fill: #2563eb; }
.timeline .finished { fill: #93c5fd; } .timeline text { fill: var(--muted); }
`;

export function dashboardHtml(mode: "stream" | "replay", source: string): string {
  const escaped = source.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HQ Dashboard</title>
<link rel="stylesheet" href="dashboard.css">
</head>
<body data-mode="${mode}">
<header>
<h1>HQ Dashboard</h1>
<nav>
<a data-tab="overview" class="active">Overview</a>
<a data-tab="workers">Workers</a>
<a data-tab="jobs">Jobs</a>
<a data-tab="alloc">Allocations</a>
</nav>
<span class="status" id="status">[${mode}] ${escaped}</span>
</header>
<div class="banner hidden" id="banner" role="alert"><span>The server has no journal: the
history shown was reconstructed from its current state (no past events, no timeline before now).
Start the server with <code>--journal &lt;FILE&gt;</code> to keep it.</span>
<button id="banner-close">Dismiss</button></div>
<main>
<section id="tab-overview">
<div class="cards" id="cards"></div>
<div class="panel"><h2>Tasks by state over time</h2><div id="chart-tasks"></div></div>
<div class="panel"><h2>Workers over time</h2><div id="chart-workers"></div></div>
</section>
<section id="tab-workers" class="hidden">
<div class="panel"><h2>Workers</h2>
<table id="workers-table"><thead><tr><th>ID</th><th>Hostname</th><th>State</th>
<th>Running tasks</th><th>CPUs</th><th>CPU util</th><th>Mem util</th><th>Manager</th>
<th>Allocation</th></tr></thead><tbody></tbody></table></div>
<div class="panel hidden" id="worker-detail"><div id="worker-info"></div>
<h3>CPU usage over time (average of cores)</h3><div id="worker-cpu-chart"></div>
<div id="worker-tasks"></div></div>
</section>
<section id="tab-jobs" class="hidden">
<div class="panel"><h2>Jobs</h2>
<table id="jobs-table"><thead><tr><th>ID</th><th>Name</th><th>State</th><th>Tasks</th>
<th>Progress</th><th>Done</th><th>Running</th><th>Failed</th></tr></thead><tbody></tbody></table>
</div>
<div class="panel hidden" id="job-detail">
<h2 id="job-title"></h2>
<h3>Task states over time</h3>
<div id="job-chart"></div>
<p>Show <select id="task-filter"><option value="">all tasks</option>
<option>waiting</option><option>running</option><option>finished</option><option>failed</option>
<option>canceled</option></select> <span id="task-total" class="muted"></span></p>
<div class="scroller" id="task-scroller"><div class="spacer" id="task-spacer"></div>
<table id="task-table"><thead><tr><th>Task</th><th>State</th><th>Worker</th><th>Started</th>
<th>Ended</th><th>Error</th></tr></thead><tbody></tbody></table></div>
<h3>Errors</h3><div id="job-errors"></div>
</div>
<div class="panel hidden" id="task-detail"></div>
</section>
<section id="tab-alloc" class="hidden">
<div class="panel"><h2>Allocation queues</h2><div id="queues"></div></div>
<div class="panel"><h2>Allocation timeline</h2><div id="alloc-timeline"></div></div>
</section>
</main>
<script src="uplot.js"></script>
<script src="dashboard.js"></script>
</body>
</html>
`;
}

// Runs in the browser (ES2017, no imports).
export const DASHBOARD_JS = `(function () {
  "use strict";
  var token = new URLSearchParams(location.search).get("token") || "";
  var state = null, tab = "overview", selectedJob = null, selectedWorker = null;
  var ROW = 26, WINDOW = 40, taskFilter = "";
  var timeline = { job: null, at: 0 }, bannerDismissed = false, taskRequests = 0;
  var charts = {};
  var STATES = ["waiting", "running", "finished", "failed", "canceled"];
  var COLORS = { waiting: "#94a3b8", running: "#f59e0b", finished: "#16a34a", failed: "#dc2626",
    canceled: "#7c3aed" };

  function api(path) {
    var sep = path.indexOf("?") >= 0 ? "&" : "?";
    return fetch("api/" + path + sep + "token=" + encodeURIComponent(token)).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }
  function el(id) { return document.getElementById(id); }
  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
  }
  function time(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; }
  function pct(v) { return v == null ? "" : (v * 100).toFixed(0) + "%"; }

  document.querySelectorAll("nav a").forEach(function (a) {
    a.addEventListener("click", function () { show(a.getAttribute("data-tab")); });
  });
  function show(name) {
    tab = name;
    document.querySelectorAll("nav a").forEach(function (a) {
      a.classList.toggle("active", a.getAttribute("data-tab") === name);
    });
    ["overview", "workers", "jobs", "alloc"].forEach(function (t) {
      el("tab-" + t).classList.toggle("hidden", t !== name);
    });
    render();
  }

  function chart(id, series, columns, scales) {
    var box = el(id);
    var width = box.clientWidth || 800;
    if (!charts[id] || charts[id].series.length !== series.length + 1) {
      if (charts[id]) charts[id].destroy();
      box.innerHTML = "";
      box.__html = null;
      charts[id] = new uPlot({ width: width, height: 240, ms: 1,
        series: [{}].concat(series), axes: [{}, { size: 60 }],
        scales: Object.assign({ x: { time: true } }, scales || {}) }, columns, box);
    } else {
      charts[id].setData(columns);
    }
  }
  // Sets an element's HTML only when it changed (1,000 table rows twice a second cost layout).
  function setHtml(node, html) {
    if (node.__html !== html) {
      node.innerHTML = html;
      node.__html = html;
    }
  }
  // States stacked (finished at the bottom, waiting on top): each series is drawn filled from 0
  // as the sum of itself and those below it; the legend shows the state's own count.
  var STACK = ["waiting", "running", "canceled", "failed", "finished"];
  function stackedChart(id, times, bySeries) {
    var raw = STACK.map(function (s) { return bySeries[s] || []; });
    var sums = raw.map(function (_, i) {
      return times.map(function (_, t) {
        var total = 0;
        for (var k = i; k < raw.length; k++) total += raw[k][t] || 0;
        return total;
      });
    });
    chart(id, STACK.map(function (s, i) {
      return { label: s, stroke: COLORS[s], fill: COLORS[s] + "cc", width: 1,
        value: function (u, v, si, idx) { return idx == null ? "" : raw[i][idx]; } };
    }), [times].concat(sums));
  }

  function renderOverview() {
    var totals = { waiting: 0, running: 0, finished: 0, failed: 0, canceled: 0 };
    state.jobs.forEach(function (j) { STATES.forEach(function (s) { totals[s] += j.counts[s]; }); });
    var online = state.workers.filter(function (w) { return w.state === "running"; }).length;
    var h = state.history, rate = "";
    if (h.length >= 2) {
      var a = h[Math.max(0, h.length - 11)], b = h[h.length - 1];
      var dt = (b[0] - a[0]) / 1000;
      if (dt > 0) rate = ((b[4] + b[5] - a[4] - a[5]) / dt).toFixed(1) + "/s";
    }
    var cards = [["Workers online", online], ["Workers offline", state.workers.length - online],
      ["Jobs", state.jobs.length]].concat(STATES.map(function (s) { return ["Tasks " + s, totals[s]]; }))
      .concat([["Throughput", rate || "-"], ["Events", state.eventCount]]);
    el("cards").innerHTML = cards.map(function (c) {
      return '<div class="card"><div class="t">' + esc(c[0]) + '</div><div class="v">' +
        esc(c[1]) + "</div></div>";
    }).join("");
    if (typeof uPlot === "undefined" || h.length === 0) return;
    var xs = h.map(function (r) { return r[0]; });
    chart("chart-tasks", STATES.map(function (s) {
      return { label: s, stroke: COLORS[s], width: 2 };
    }), [xs].concat(STATES.map(function (s, i) { return h.map(function (r) { return r[2 + i]; }); })));
    chart("chart-workers", [{ label: "workers", stroke: "#2563eb", width: 2,
      paths: uPlot.paths.stepped({ align: 1 }) }], [xs, h.map(function (r) { return r[1]; })]);
  }

  function renderWorkers() {
    setHtml(el("workers-table").tBodies[0], state.workers.map(function (w) {
      return '<tr class="link" data-worker="' + w.id + '"><td>' + w.id + "</td><td>" +
        esc(w.hostname) + '</td><td class="state-' + w.state + '">' + w.state +
        (w.lostReason ? " (" + esc(w.lostReason) + ")" : "") + "</td><td>" + w.runningTasks +
        "</td><td>" + esc(w.cpus) + "</td><td>" + (w.cpu == null ? "" : w.cpu.toFixed(0) + "%") +
        "</td><td>" + pct(w.mem) + "</td><td>" + esc(w.manager || "") + "</td><td>" +
        esc(w.allocationId || "") + "</td></tr>";
    }).join(""));
    if (selectedWorker !== null) {
      api("worker?id=" + selectedWorker).then(function (w) {
        var cores = (w.cpuPerCore || []).map(function (u, i) {
          return '<div class="core"><i style="height:' + u.toFixed(0) + '%"></i><b>' + i + ": " +
            u.toFixed(0) + "%</b></div>";
        }).join("") || '<span class="muted">No hardware overview yet.</span>';
        setHtml(el("worker-info"), "<h2>Worker " + w.id + " (" + esc(w.hostname) + ")</h2>" +
          "<dl><dt>Group</dt><dd>" + esc(w.group) + "</dd><dt>Connected</dt><dd>" +
          time(w.connectedMs) + "</dd><dt>Running tasks</dt><dd>" + w.runningTasks +
          "</dd></dl><h3>CPU per core</h3><div class=\\"cores\\">" + cores + "</div>");
        setHtml(el("worker-tasks"), "<h3>Tasks</h3><p>" + (w.tasks.map(function (t) {
          return t.job + "@" + t.task;
        }).join(", ") || '<span class="muted">none running</span>') + "</p>");
        el("worker-detail").classList.remove("hidden");
        var history = w.cpuHistory || [];
        if (history.length === 0 || typeof uPlot === "undefined") {
          if (charts["worker-cpu-chart"]) {
            charts["worker-cpu-chart"].destroy();
            delete charts["worker-cpu-chart"];
          }
          setHtml(el("worker-cpu-chart"), '<span class="muted">No hardware overview yet.</span>');
        } else {
          chart("worker-cpu-chart", [{ label: "CPU %", stroke: "#2563eb", width: 2,
            fill: "#2563eb22" }], [history.map(function (p) { return p[0]; }),
            history.map(function (p) { return p[1]; })], { y: { range: [0, 100] } });
        }
      });
    }
  }

  function progress(j) {
    var total = j.taskCount || 1;
    return '<div class="progress">' + ["finished", "failed", "canceled", "running"].map(function (s) {
      return '<span class="s-' + s + '" style="width:' + (100 * j.counts[s] / total) + '%"></span>';
    }).join("") + "</div>";
  }
  function renderJobs() {
    setHtml(el("jobs-table").tBodies[0], state.jobs.slice().reverse().map(function (j) {
      var done = j.counts.finished + j.counts.failed + j.counts.canceled;
      var percent = j.taskCount ? Math.floor(100 * done / j.taskCount) : 0;
      return '<tr class="link" data-job="' + j.id + '"><td>' + j.id + "</td><td>" + esc(j.name) +
        '</td><td class="state-' + j.state + '">' + j.state + "</td><td>" + j.taskCount +
        "</td><td>" + progress(j) + '</td><td class="percent">' + percent + "%</td><td>" +
        j.counts.running + "</td><td>" + j.counts.failed + "</td></tr>";
    }).join(""));
    if (selectedJob !== null) renderJobDetail();
  }

  function renderJobDetail() {
    var j = state.jobs.filter(function (x) { return x.id === selectedJob; })[0];
    if (!j) return;
    el("job-detail").classList.remove("hidden");
    el("job-title").textContent = "Job " + j.id + ": " + j.name + " (" + j.state + ")";
    // The timeline is one pass over the job's tasks on the server: every 2 s at most.
    var now = Date.now();
    if (typeof uPlot !== "undefined" && (timeline.job !== j.id || now - timeline.at > 2000)) {
      timeline = { job: j.id, at: now };
      api("job-timeline?job=" + j.id + "&bins=200").then(function (t) {
        if (t.job === selectedJob) stackedChart("job-chart", t.times, t);
      });
    }
    var scroller = el("task-scroller");
    var first = Math.floor(scroller.scrollTop / ROW);
    var query = "tasks?job=" + j.id + "&offset=" + first + "&limit=" + WINDOW +
      (taskFilter ? "&state=" + taskFilter : "");
    // Only the latest request's answer is shown: an older one (another filter, another scroll
    // position) arriving late would replace the rows with stale ones.
    var seq = ++taskRequests;
    api(query).then(function (data) {
      if (seq !== taskRequests) return;
      el("task-spacer").style.height = (data.total * ROW + ROW) + "px";
      el("task-total").textContent = data.total + " tasks";
      var table = el("task-table");
      table.style.top = (first * ROW) + "px";
      setHtml(table.tBodies[0], data.rows.map(function (t) {
        return '<tr class="link" data-task="' + t.id + '"><td>' + t.id + '</td><td class="state-' +
          t.state + '">' + t.state + "</td><td>" + (t.worker || "") + "</td><td>" +
          time(t.startedMs) + "</td><td>" + time(t.endedMs) + '</td><td class="error">' +
          esc(t.error || "") + "</td></tr>";
      }).join(""));
      setHtml(el("job-errors"), data.errors.length === 0
        ? '<span class="muted">No failed task.</span>'
        : data.errors.map(function (e) {
          return '<div class="job-error"><b>Task ' + e.task + ':</b> <span class="error">' +
            esc(e.error) + "</span></div>";
        }).join("") + (data.errorCount > data.errors.length
          ? '<p class="muted">and ' + (data.errorCount - data.errors.length) + " more</p>" : ""));
    });
  }

  function renderQueues() {
    el("queues").innerHTML = state.queues.length === 0
      ? '<span class="muted">No allocation queue.</span>'
      : "<table><thead><tr><th>ID</th><th>Manager</th><th>Name</th><th>#Allocations</th>" +
        "<th>Creation Time</th><th>Removal Time</th></tr></thead><tbody>" +
        state.queues.map(function (q) {
          return "<tr><td>" + q.id + "</td><td>" + esc(q.manager) + "</td><td>" + esc(q.name || "") +
            "</td><td>" + q.allocations.length + "</td><td>" + time(q.createdMs) + "</td><td>" +
            time(q.removedMs) + "</td></tr>" + q.allocations.map(function (a) {
              return '<tr class="muted"><td></td><td colspan="2">' + esc(a.id) + "</td><td>" +
                a.status + " (" + a.workers + " workers)</td><td>" + time(a.queuedMs) +
                "</td><td>" + time(a.startedMs) + " – " + time(a.finishedMs) + "</td></tr>";
            }).join("");
        }).join("") + "</tbody></table>";
  }

  function renderAllocTimeline() {
    var rows = [];
    state.queues.forEach(function (q) {
      q.allocations.forEach(function (a) { rows.push({ q: q, a: a }); });
    });
    if (rows.length === 0) {
      setHtml(el("alloc-timeline"), '<span class="muted">No allocation.</span>');
      return;
    }
    var end = state.serverStopped ? state.lastEventMs : Math.max(state.lastEventMs, Date.now());
    if (document.body.getAttribute("data-mode") === "replay") end = state.lastEventMs;
    var start = Math.min.apply(null, rows.map(function (r) { return r.a.queuedMs; }));
    var width = (el("alloc-timeline").clientWidth || 900) - 20, label = 220, h = 18;
    var scale = function (ms) {
      return label + (width - label) * (ms - start) / Math.max(1, end - start);
    };
    var bar = function (cls, from, to) {
      return '<rect class="' + cls + '" x="' + scale(from).toFixed(1) + '" width="' +
        Math.max(1, scale(to) - scale(from)).toFixed(1) + '" height="' + (h - 4) + '"><title>' +
        cls + " " + time(from) + " - " + time(to) + "</title></rect>";
    };
    setHtml(el("alloc-timeline"), '<svg class="timeline" width="' + width + '" height="' +
      (rows.length * h + 20) + '">' + rows.map(function (r, i) {
        var a = r.a, started = a.startedMs || a.finishedMs || end;
        return '<g transform="translate(0,' + (i * h) + ')" data-allocation="' + esc(a.id) + '">' +
          '<text x="0" y="' + (h - 6) + '">' + esc("#" + r.q.id + " " + a.id + " (" + a.status +
          ")") + "</text>" + bar("queued", a.queuedMs, started) +
          (a.startedMs ? bar(a.finishedMs ? "finished" : "running", a.startedMs,
            a.finishedMs || end) : "") + "</g>";
      }).join("") + '<text x="' + label + '" y="' + (rows.length * h + 14) + '">' + time(start) +
      '</text><text x="' + (width - 70) + '" y="' + (rows.length * h + 14) + '">' + time(end) +
      "</text></svg>");
  }

  function render() {
    if (!state) return;
    if (tab === "overview") renderOverview();
    if (tab === "workers") renderWorkers();
    if (tab === "jobs") renderJobs();
    if (tab === "alloc") {
      renderQueues();
      renderAllocTimeline();
    }
  }

  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("tr.link");
    if (!row) return;
    if (row.hasAttribute("data-job")) {
      selectedJob = Number(row.getAttribute("data-job"));
      el("task-scroller").scrollTop = 0;
      el("task-detail").classList.add("hidden");
      renderJobDetail();
    } else if (row.hasAttribute("data-worker")) {
      selectedWorker = Number(row.getAttribute("data-worker"));
      renderWorkers();
    } else if (row.hasAttribute("data-task")) {
      api("task?job=" + selectedJob + "&task=" + row.getAttribute("data-task")).then(function (t) {
        var box = el("task-detail");
        box.innerHTML = "<h2>Task " + t.id + " of job " + selectedJob + "</h2><dl>" +
          "<dt>State</dt><dd>" + t.state + "</dd><dt>Command</dt><dd>" + esc(t.command.join(" ")) +
          "</dd><dt>Worker</dt><dd>" + esc(t.worker ? t.worker + " (" + t.hostname + ")" : "") +
          "</dd><dt>Started</dt><dd>" + time(t.startedMs) + "</dd><dt>Ended</dt><dd>" +
          time(t.endedMs) + '</dd><dt>Error</dt><dd class="error">' + esc(t.error || "") +
          "</dd>" + (t.explain ? "<dt>Explain</dt><dd>" + esc(t.explain) + "</dd>" : "") + "</dl>";
        box.classList.remove("hidden");
      });
    }
  });
  el("task-scroller").addEventListener("scroll", function () {
    if (selectedJob !== null) renderJobDetail();
  });
  el("task-filter").addEventListener("change", function () {
    taskFilter = el("task-filter").value;
    el("task-scroller").scrollTop = 0;
    renderJobDetail();
  });

  function dismissBanner() {
    if (el("banner").classList.contains("hidden")) return;
    bannerDismissed = true;
    el("banner").classList.add("hidden");
  }
  el("banner-close").addEventListener("click", dismissBanner);
  document.addEventListener("keydown", dismissBanner);

  function poll() {
    api("state").then(function (s) {
      state = s;
      el("banner").classList.toggle("hidden", !s.reconstructed || bannerDismissed);
      el("status").textContent = "[" + document.body.getAttribute("data-mode") + "] " +
        s.eventCount + " events" + (s.serverStopped ? ", server stopped" : "");
      render();
    }).catch(function (error) {
      el("status").textContent = "disconnected: " + error.message;
    }).then(function () { setTimeout(poll, 500); });
  }
  poll();
})();`;
