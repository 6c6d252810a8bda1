/// The live page (`/`): one HTML document with its CSS and JavaScript inline, no request
/// to anything but this server (works on an air-gapped cluster). It listens to
/// `/api/stream` (Server-Sent Events) and re-reads the JSON API when the status changes.
enum LivePage {
    static let html = """
    <!DOCTYPE html>
    <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Terrain — live sweep</title>
    <link rel="icon" href="data:,">
    <style>\(PageStyle.css)</style></head>
    <body>
    <header><h1 id="title">Terrain sweep</h1><span id="state" class="badge">connecting…</span></header>
    <section class="cards">
      <div class="card"><div class="label">Progress</div><div class="bar"><div id="bar"></div></div><div id="progress">–</div></div>
      <div class="card"><div class="label">Rate</div><div id="rate" class="big">–</div></div>
      <div class="card"><div class="label">ETA</div><div id="eta" class="big">–</div></div>
      <div class="card"><div class="label">Elapsed</div><div id="elapsed" class="big">–</div></div>
      <div class="card"><div class="label">Workers</div><div id="workercount" class="big">–</div></div>
    </section>
    <section id="surfacebox" hidden>
      <h2>Surface <select id="metric"></select> <label><input type="checkbox" id="log"> log height</label> <span id="surfacedone"></span></h2>
      <div class="pair"><canvas id="heatmap" width="420" height="420"></canvas><canvas id="gl" class="gl"></canvas></div>
      <p class="hint">Heatmap: grey cells have no result yet. 3-D view: drag to rotate, wheel to zoom.</p>
    </section>
    <section id="figurebox"><h2>Figures</h2><div id="figures"><p class="hint">No figures yet.</p></div></section>
    <section><h2>Workers</h2><table id="workers"><thead><tr><th>worker</th><th>host</th><th>connected</th><th>current tasks</th><th>results</th><th>last seen</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Failed and quarantined tasks</h2><table id="failed"><thead><tr><th>task</th><th>kind</th><th>attempts</th><th>failures</th><th>error</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Recent events</h2><table id="events"><thead><tr><th>time</th><th>event</th><th>task</th><th>worker</th><th>detail</th></tr></thead><tbody></tbody></table></section>
    <footer>Terrain · <a id="metricslink" href="metrics">/metrics</a> · JSON API under /api (docs/http.md)</footer>
    <script>\(Surface3DScript.source)
    \(script)</script>
    </body></html>
    """

    static let script = #"""
    (function () {
      var token = new URLSearchParams(location.search).get('token');
      function url(path) { return token ? path + (path.indexOf('?') < 0 ? '?' : '&') + 'token=' + encodeURIComponent(token) : path; }
      function get(path) {
        return fetch(url(path), {cache: 'no-store'}).then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; });
      }
      function $(id) { return document.getElementById(id); }
      function clock(s) {
        if (s === null || s === undefined || !isFinite(s)) { return '–'; }
        s = Math.round(s); var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
        return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + r + 's';
      }
      function ago(t) { return t ? clock(Date.now() / 1000 - t) + ' ago' : '–'; }
      function cell(row, text) { var td = document.createElement('td'); td.textContent = text; row.appendChild(td); }
      function fill(id, rows, columns) {
        var body = $(id).tBodies[0]; body.textContent = '';
        rows.forEach(function (r) { var tr = document.createElement('tr'); columns(r).forEach(function (c) { cell(tr, c); }); body.appendChild(tr); });
        if (!rows.length) { var tr = document.createElement('tr'); cell(tr, 'none'); body.appendChild(tr); }
      }
      $('metricslink').href = url('metrics');
      var lastResults = -1, lastFailed = -1, view3d = null, surface = null;
      function status(s) {
        document.title = s.name + ' — Terrain';
        $('title').textContent = s.name + ' (' + s.kind + ')';
        $('state').textContent = s.state; $('state').className = 'badge ' + s.state.replace(/ /g, '-');
        var pct = s.total ? 100 * s.done / s.total : 0;
        $('bar').style.width = pct.toFixed(1) + '%';
        $('progress').textContent = s.done + ' / ' + s.total + ' done (' + pct.toFixed(1) + ' %), ' + s.running + ' running, ' +
          s.queued + ' queued, ' + s.waiting + ' waiting, ' + s.failed + ' failed';
        $('rate').textContent = s.rate > 0 ? s.rate.toFixed(2) + ' tasks/s' : '–';
        $('eta').textContent = clock(s.eta);
        $('elapsed').textContent = clock(s.elapsed);
        $('workercount').textContent = s.workers;
        $('figurebox').hidden = s.kind === 'probe';
        get('/api/workers').then(function (ws) {
          if (ws) fill('workers', ws, function (w) { return [w.name, w.host || '–', w.connected ? 'yes' : 'no', w.running.join(', ') || '–', w.results, ago(w.last_seen)]; });
        });
        get('/api/events?limit=30').then(function (es) {
          if (es) fill('events', es, function (e) { return [new Date(e.time * 1000).toLocaleTimeString(), e.kind, e.task === null ? '' : e.task, e.worker || '', e.detail]; });
        });
        if (s.failed !== lastFailed) {
          lastFailed = s.failed;
          get('/api/tasks?status=failed&limit=200').then(function (ts) {
            if (ts) fill('failed', ts, function (t) { return [t.id, t.kind, t.attempts, t.failures, t.error || '']; });
          });
        }
        if (s.results !== lastResults) { lastResults = s.results; results(s); }
      }
      function results(s) {
        get('/api/figures').then(function (fs) {
          if (!fs || !fs.length) { return; }
          var box = $('figures'); box.textContent = '';
          fs.forEach(function (f) {
            var div = document.createElement('div'); div.className = 'figure'; div.title = f.name;
            var img = document.createElement('img'); img.alt = f.name;
            img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(f.svg);
            div.appendChild(img); box.appendChild(div);
          });
        });
        if (s.kind === 'surface') { loadSurface(); }
      }
      function loadSurface() {
        var m = $('metric').value;
        get('/api/surface' + (m ? '?metric=' + encodeURIComponent(m) : '')).then(function (g) {
          if (!g) { return; }
          surface = g; $('surfacebox').hidden = false;
          if (!$('metric').options.length) {
            g.metrics.forEach(function (n) { var o = document.createElement('option'); o.textContent = n; $('metric').appendChild(o); });
            $('metric').value = g.metric;
          }
          $('surfacedone').textContent = g.done + ' / ' + g.values.length + ' points';
          heatmap(g);
          if (g.y) {
            if (!view3d) { view3d = terrainSurface3D($('gl'), g, {log: $('log').checked}); } else { view3d.update(g, $('log').checked); }
          } else { $('gl').hidden = true; }
        });
      }
      function heatmap(g) {
        var c = $('heatmap'), ctx = c.getContext('2d'), nx = g.x.length, ny = g.y ? g.y.length : 1, log = $('log').checked;
        var v = g.values.map(function (a) { return a === null ? null : (log ? Math.log10(Math.max(a, 1e-12)) : a); });
        var lo = Infinity, hi = -Infinity;
        v.forEach(function (a) { if (a !== null && isFinite(a)) { lo = Math.min(lo, a); hi = Math.max(hi, a); } });
        var w = c.width / nx, h = c.height / ny;
        ctx.clearRect(0, 0, c.width, c.height);
        for (var j = 0; j < ny; j++) for (var i = 0; i < nx; i++) {
          var a = v[j * nx + i];
          if (a === null || !isFinite(a)) { ctx.fillStyle = '#ddd'; } else {
            var t = hi > lo ? (a - lo) / (hi - lo) : 0.5;
            ctx.fillStyle = 'hsl(' + (260 - 200 * t) + ',70%,' + (25 + 45 * t) + '%)';
          }
          ctx.fillRect(i * w, c.height - (j + 1) * h, Math.ceil(w), Math.ceil(h));
        }
      }
      $('metric').addEventListener('change', loadSurface);
      $('log').addEventListener('change', function () { if (surface) { heatmap(surface); if (view3d) view3d.update(surface, $('log').checked); } });
      function poll() { get('/api/status').then(function (s) { if (s) status(s); setTimeout(poll, 2000); }); }
      if (window.EventSource) {
        var es = new EventSource(url('/api/stream'));
        es.addEventListener('status', function (e) { status(JSON.parse(e.data)); });
        es.onerror = function () { $('state').textContent = 'reconnecting…'; };
      } else { poll(); }
    })();
    """#
}

/// The CSS the live page and the report share.
enum PageStyle {
    static let css = """
    body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 32px;color:#222;background:#fafafa}
    header{display:flex;align-items:center;gap:12px;border-bottom:1px solid #ddd}h1{font-size:22px;margin:14px 0}
    h2{font-size:17px;margin:22px 0 8px}.badge{padding:2px 10px;border-radius:10px;background:#ccc;font-weight:600}
    .badge.running{background:#cde8ff}.badge.finished{background:#c8f0c8}.badge.stopped,.badge.not-running{background:#ffe0b0}
    .cards{display:flex;flex-wrap:wrap;gap:10px;margin-top:14px}.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
    .card:first-child{flex:1 1 320px}.label{color:#666;font-size:12px;text-transform:uppercase}.big{font-size:20px;font-weight:600}
    .bar{height:10px;background:#eee;border-radius:5px;overflow:hidden;margin:6px 0}#bar{height:100%;width:0;background:#3a7bd5;transition:width .4s}
    table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #e2e2e2;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}
    th{background:#f0f0f0}td{max-width:520px;overflow-wrap:anywhere}.pair{display:flex;flex-wrap:wrap;gap:12px}
    canvas{border:1px solid #ddd;background:#fff}.gl{width:480px;height:420px;cursor:grab}.hint{color:#777;font-size:12px}
    #figures{display:flex;flex-wrap:wrap;gap:12px}.figure img,.figure svg{max-width:560px;width:100%;height:auto;background:#fff;border:1px solid #ddd}
    footer{margin-top:28px;color:#777;font-size:12px}pre{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;font-size:12px}
    """
}
