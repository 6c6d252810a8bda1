/// The interactive 3-D surface view of the live page and the report: WebGL 1 written for
/// Terrain (no library), embedded in both.
///
/// `terrainSurface3D(canvas, surface, options)` draws `surface` (`{x, y, values}` as
/// `/api/surface` answers: row-major, x fastest, `null` where no result arrived) as a lit,
/// coloured mesh. Drag rotates, the wheel zooms, `options.log` takes log10 of the heights.
/// It returns `{update(surface, log)}` for redraws. Without WebGL it writes a note in the
/// canvas's place and returns a no-op.
enum Surface3DScript {
    static let source = #"""
    function terrainSurface3D(canvas, surface, options) {
      var gl = canvas.getContext('webgl', {antialias: true});
      if (!gl) {
        var note = document.createElement('p');
        note.textContent = 'WebGL is not available in this browser: the 3-D view is off (the heatmap shows the same grid).';
        canvas.replaceWith(note);
        return {update: function () {}};
      }
      var vs = 'attribute vec3 p; attribute vec3 n; attribute vec3 c; uniform mat4 m; uniform mat4 r; varying vec3 vc;' +
        'void main(){ vec3 nn = normalize((r*vec4(n,0.0)).xyz); float l = 0.35 + 0.65*abs(dot(nn, normalize(vec3(0.3,0.5,1.0))));' +
        ' vc = c*l; gl_Position = m*vec4(p,1.0); }';
      var fs = 'precision mediump float; varying vec3 vc; void main(){ gl_FragColor = vec4(vc,1.0); }';
      function shader(type, text) {
        var s = gl.createShader(type); gl.shaderSource(s, text); gl.compileShader(s);
        if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) { throw new Error(gl.getShaderInfoLog(s)); }
        return s;
      }
      var prog = gl.createProgram();
      gl.attachShader(prog, shader(gl.VERTEX_SHADER, vs)); gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, fs));
      gl.linkProgram(prog); gl.useProgram(prog);
      var loc = {p: gl.getAttribLocation(prog, 'p'), n: gl.getAttribLocation(prog, 'n'), c: gl.getAttribLocation(prog, 'c'),
                 m: gl.getUniformLocation(prog, 'm'), r: gl.getUniformLocation(prog, 'r')};
      var buffers = {p: gl.createBuffer(), n: gl.createBuffer(), c: gl.createBuffer()};
      var count = 0, yaw = -0.6, pitch = 0.9, distance = 3.2, log = !!(options && options.log), current = surface;
      function colour(t) {
        var stops = [[0.267,0.005,0.329],[0.229,0.322,0.546],[0.128,0.567,0.551],[0.369,0.789,0.383],[0.993,0.906,0.144]];
        t = Math.max(0, Math.min(1, t)) * (stops.length - 1); var i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
        return [0,1,2].map(function (k) { return stops[i][k] * (1 - f) + stops[i + 1][k] * f; });
      }
      function build(s) {
        var nx = s.x.length, ny = s.y ? s.y.length : 1;
        if (ny < 2 || nx < 2) { count = 0; return; }
        var h = s.values.map(function (v) { return v === null || !isFinite(v) ? null : (log ? Math.log10(Math.max(v, 1e-12)) : v); });
        var lo = Infinity, hi = -Infinity;
        h.forEach(function (v) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
        if (!isFinite(lo)) { count = 0; return; }
        var span = hi > lo ? hi - lo : 1, pos = [], nor = [], col = [];
        function vertex(i, j) {
          var v = h[j * nx + i];
          return [2 * i / (nx - 1) - 1, 2 * j / (ny - 1) - 1, 1.2 * (v - lo) / span - 0.6, (v - lo) / span];
        }
        for (var j = 0; j + 1 < ny; j++) {
          for (var i = 0; i + 1 < nx; i++) {
            var q = [[i, j], [i + 1, j], [i + 1, j + 1], [i, j + 1]];
            if (q.some(function (c) { return h[c[1] * nx + c[0]] === null; })) { continue; }
            var a = vertex(i, j), b = vertex(i + 1, j), c2 = vertex(i + 1, j + 1), d = vertex(i, j + 1);
            [[a, b, c2], [a, c2, d]].forEach(function (t) {
              var u = [t[1][0] - t[0][0], t[1][1] - t[0][1], t[1][2] - t[0][2]], w = [t[2][0] - t[0][0], t[2][1] - t[0][1], t[2][2] - t[0][2]];
              var nn = [u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]];
              t.forEach(function (v) { pos.push(v[0], v[1], v[2]); nor.push(nn[0], nn[1], nn[2]); col.push.apply(col, colour(v[3])); });
            });
          }
        }
        count = pos.length / 3;
        [['p', pos], ['n', nor], ['c', col]].forEach(function (e) {
          gl.bindBuffer(gl.ARRAY_BUFFER, buffers[e[0]]); gl.bufferData(gl.ARRAY_BUFFER, new Float32Array(e[1]), gl.STATIC_DRAW);
          gl.enableVertexAttribArray(loc[e[0]]); gl.vertexAttribPointer(loc[e[0]], 3, gl.FLOAT, false, 0, 0);
        });
      }
      function multiply(a, b) {
        var o = new Array(16);
        for (var i = 0; i < 4; i++) for (var j = 0; j < 4; j++) {
          o[j * 4 + i] = 0; for (var k = 0; k < 4; k++) o[j * 4 + i] += a[k * 4 + i] * b[j * 4 + k];
        }
        return o;
      }
      function draw() {
        var w = canvas.clientWidth || 480, hgt = canvas.clientHeight || 360;
        if (canvas.width !== w || canvas.height !== hgt) { canvas.width = w; canvas.height = hgt; }
        gl.viewport(0, 0, canvas.width, canvas.height);
        gl.clearColor(1, 1, 1, 1); gl.enable(gl.DEPTH_TEST); gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
        if (count === 0) { return; }
        var cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
        var rz = [cy, sy, 0, 0, -sy, cy, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        var rx = [1, 0, 0, 0, 0, cp, -sp, 0, 0, sp, cp, 0, 0, 0, 0, 1];
        var rot = multiply(rx, rz);
        var f = 1 / Math.tan(0.45), aspect = canvas.width / canvas.height, near = 0.1, far = 20;
        var proj = [f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / (near - far), -1, 0, 0, 2 * far * near / (near - far), 0];
        var view = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, -distance, 1];
        gl.uniformMatrix4fv(loc.m, false, new Float32Array(multiply(proj, multiply(view, rot))));
        gl.uniformMatrix4fv(loc.r, false, new Float32Array(rot));
        gl.drawArrays(gl.TRIANGLES, 0, count);
      }
      var dragging = null;
      canvas.addEventListener('mousedown', function (e) { dragging = [e.clientX, e.clientY]; });
      window.addEventListener('mouseup', function () { dragging = null; });
      window.addEventListener('mousemove', function (e) {
        if (!dragging) { return; }
        yaw += (e.clientX - dragging[0]) * 0.01; pitch = Math.max(0, Math.min(1.55, pitch - (e.clientY - dragging[1]) * 0.01));
        dragging = [e.clientX, e.clientY]; draw();
      });
      canvas.addEventListener('wheel', function (e) {
        e.preventDefault(); distance = Math.max(1.5, Math.min(10, distance * (e.deltaY > 0 ? 1.1 : 0.9))); draw();
      }, {passive: false});
      build(current); draw();
      return {update: function (s, useLog) { current = s || current; log = !!useLog; build(current); draw(); }};
    }
    """#
}
