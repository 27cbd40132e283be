/* ragsight report page: draws the figures ragsight/_viewer/report.py computed.
   Everything textual goes through textContent or escapeHtml: span names are user data. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var charts = [];
  var palette = ["#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272",
    "#fc8452", "#9a60b4", "#ea7ccc", "#2f4554"];
  var bad = "#cf222e";

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  function number(value, digits) {
    return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
  }

  function clock(ms) {
    return new Date(ms).toISOString().slice(11, 23);
  }

  function header() {
    var services = data.services.length ? data.services.join(", ") : "no service";
    document.getElementById("scope").textContent =
      services + " \u00b7 " + data.scope + " \u00b7 " + data.spans + " spans in " + data.traces +
      " traces \u00b7 " + data.directory + " \u00b7 generated " + data.generated;
    if (data.skipped) {
      var skipped = document.getElementById("skipped");
      skipped.textContent = data.skipped;
      skipped.hidden = false;
    }
  }

  function stagesTable() {
    var table = document.getElementById("stages");
    var head = element("tr");
    ["stage / operation", "calls", "errors", "p50 ms", "p95 ms", "max ms"].forEach(function (h) {
      head.appendChild(element("th", h));
    });
    table.appendChild(head);
    data.summary.forEach(function (row) {
      var tr = element("tr");
      var mark = row.exact ? "" : "~";
      tr.appendChild(element("td", row.stage + " / " + row.operation));
      tr.appendChild(element("td", row.calls));
      tr.appendChild(element("td", row.errors, row.errors ? "bad" : ""));
      tr.appendChild(element("td", row.p50 === null ? "-" : mark + number(row.p50, 1)));
      tr.appendChild(element("td", row.p95 === null ? "-" : mark + number(row.p95, 1)));
      tr.appendChild(element("td", number(row.max, 1)));
      table.appendChild(tr);
    });
  }

  function box(parent, id, title, className, height) {
    var figure = element("figure");
    figure.appendChild(element("figcaption", title));
    var div = element("div", null, className);
    div.id = id;
    if (height) { div.style.height = height + "px"; }
    figure.appendChild(div);
    parent.appendChild(figure);
    return div;
  }

  function draw(dom, option) {
    var chart = echarts.init(dom, null, { renderer: "canvas" });
    option.animation = false;
    option.color = option.color || palette;
    chart.setOption(option);
    charts.push(chart);
    return chart;
  }

  function empty(text) {
    return {
      title: { text: text, left: "center", top: "middle",
        textStyle: { color: "#59636e", fontSize: 13, fontWeight: "normal" } },
      xAxis: { show: false }, yAxis: { show: false }, series: []
    };
  }

  function pairs(values) {
    return values.map(function (v, i) { return [data.bins[i], v]; });
  }

  function timeAxis() {  /* one range for every chart over time, so they line up */
    return { type: "time", min: data.start, max: data.end, axisLabel: { hideOverlap: true } };
  }

  var base = {
    tooltip: { trigger: "axis", confine: true },
    legend: { type: "scroll", top: 0 },
    grid: { left: 56, right: 24, top: 36, bottom: 28 }
  };

  function withBase(option) {
    return Object.assign({}, base, option);
  }

  var builders = {
    latency: function () {
      var stages = Object.keys(data.latency);
      if (!stages.length) { return empty("no stage spans in this run"); }
      var series = [];
      stages.forEach(function (stage, i) {
        var color = palette[i % palette.length];
        series.push({ name: stage, type: "line", data: pairs(data.latency[stage].p50),
          showSymbol: false, lineStyle: { color: color, width: 2 }, itemStyle: { color: color } });
        series.push({ name: stage, type: "line", data: pairs(data.latency[stage].p95),
          showSymbol: false, lineStyle: { color: color, type: "dashed", width: 1 },
          itemStyle: { color: color } });
      });
      return withBase({ xAxis: timeAxis(), yAxis: { type: "value", name: "ms" }, series: series });
    },
    errors: function () {
      var stages = Object.keys(data.errors);
      if (!stages.length) { return empty("no stage spans in this run"); }
      return withBase({
        xAxis: timeAxis(),
        yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
        series: stages.map(function (stage) {
          return { name: stage, type: "line", step: "middle", showSymbol: false, data: pairs(data.errors[stage]) };
        })
      });
    },
    cache: function () {
      var names = Object.keys(data.cache);
      if (!names.length) { return empty("no cache lookups in this run"); }
      return withBase({
        xAxis: timeAxis(),
        yAxis: { type: "value", min: 0, max: 1, name: "hit rate so far",
          axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
        series: names.map(function (name) {
          return { name: name, type: "line", showSymbol: false, areaStyle: { opacity: 0.15 }, connectNulls: true, data: pairs(data.cache[name]) };
        })
      });
    },
    scores: function () {
      var keys = Object.keys(data.scores);
      if (!keys.length) { return empty("no 0..1 retrieval scores in this run"); }
      var labels = data.scoreEdges.slice(0, -1).map(function (edge, i) {
        return edge.toFixed(2) + "\u2013" + data.scoreEdges[i + 1].toFixed(2);
      });
      return withBase({
        tooltip: { trigger: "axis", confine: true },
        xAxis: { type: "category", data: labels, axisLabel: { hideOverlap: true } },
        yAxis: { type: "value", name: "results" },
        series: keys.map(function (key) { return { name: key, type: "bar", data: data.scores[key] }; })
      });
    },
    tokens: function () {
      var total = data.tokens.input.concat(data.tokens.output).reduce(function (a, b) { return a + b; }, 0);
      if (!total) { return empty("no token usage in this run"); }
      return withBase({
        xAxis: timeAxis(),
        yAxis: { type: "value", name: "tokens" },
        series: [
          { name: "input", type: "bar", stack: "tokens", data: pairs(data.tokens.input) },
          { name: "output", type: "bar", stack: "tokens", data: pairs(data.tokens.output) }
        ]
      });
    },
    evaluations: function () {
      var keys = Object.keys(data.evaluations);
      if (!keys.length) { return empty("no evaluations in this run"); }
      return withBase({
        tooltip: { trigger: "item", confine: true, formatter: function (p) {
          return escapeHtml(p.seriesName) + "<br>" + clock(p.value[0]) + " \u00b7 " + number(p.value[1], 3);
        } },
        xAxis: timeAxis(),
        yAxis: { type: "value", min: 0, max: 1, name: "score" },
        series: keys.map(function (key) {
          return { name: key, type: "line", data: data.evaluations[key], symbolSize: 6, lineStyle: { width: 1, opacity: 0.5 } };
        })
      });
    },
    breaker: function () {
      var b = data.breaker;
      var names = Object.keys(b.states);
      var rejected = Object.keys(b.rejected);
      var retries = Object.keys(b.retries);
      if (!names.length && !rejected.length && !retries.length) {
        return empty("no breaker transitions, rejections or retries in this run");
      }
      var series = [];
      names.forEach(function (name) {
        series.push({ name: name + " state", type: "line", yAxisIndex: 0,
          data: b.states[name], showSymbol: false, lineStyle: { width: 3 } });
      });
      rejected.forEach(function (name) {
        series.push({ name: name + " rejected", type: "bar", stack: "events", yAxisIndex: 1,
          data: pairs(b.rejected[name]), itemStyle: { color: bad, opacity: 0.7 } });
      });
      retries.forEach(function (name) {
        series.push({ name: "retries " + name, type: "bar", stack: "events", yAxisIndex: 1,
          data: pairs(b.retries[name]), itemStyle: { opacity: 0.7 } });
      });
      return withBase({
        tooltip: { trigger: "axis", confine: true },
        grid: { left: 72, right: 48, top: 36, bottom: 28 },
        xAxis: timeAxis(),
        yAxis: [
          { type: "category", data: b.order, boundaryGap: false },
          { type: "value", name: "calls", minInterval: 1, splitLine: { show: false } }
        ],
        series: series
      });
    }
  };

  function waterfallOption(w) {
    var labels = w.rows.map(function (r) { return r.label; });
    var offsets = w.rows.map(function (r) { return r.offset; });
    var durations = w.rows.map(function (r) {
      return { value: r.duration, itemStyle: { color: r.failed ? bad : "#5470c6" } };
    });
    var events = [];
    w.rows.forEach(function (r, i) {
      r.events.forEach(function (e) { events.push({ value: [e.at, i], text: e.text }); });
    });
    return {
      tooltip: { trigger: "item", confine: true, formatter: function (p) {
        if (p.seriesName === "events") {
          return escapeHtml(p.data.text) + "<br>at " + number(p.value[0], 2) + " ms";
        }
        var row = w.rows[p.dataIndex];
        return escapeHtml(row.label.trim()) + "<br>" + number(row.duration, 2) + " ms from " +
          number(row.offset, 2) + " ms" + (row.details ? "<br>" + escapeHtml(row.details) : "");
      } },
      grid: { left: 296, right: 32, top: 8, bottom: 24 },
      xAxis: { type: "value", name: "ms", max: Math.max(w.duration, 0.001) },
      yAxis: { type: "category", data: labels, inverse: true,
        axisLabel: { width: 280, overflow: "truncate", align: "left", margin: 288 } },
      series: [
        { name: "offset", type: "bar", stack: "w", data: offsets, silent: true,
          itemStyle: { color: "transparent" }, emphasis: { disabled: true } },
        { name: "duration", type: "bar", stack: "w", data: durations, barMaxWidth: 14 },
        { name: "events", type: "scatter", data: events, symbol: "diamond", symbolSize: 9,
          itemStyle: { color: "#fac858", borderColor: "#1f2328", borderWidth: 1 }, z: 3 }
      ]
    };
  }

  function run() {
    header();
    stagesTable();
    var holder = document.getElementById("charts");
    data.charts.forEach(function (c) {
      draw(box(holder, "chart-" + c.id, c.title, "chart"), builders[c.id]());
    });
    var falls = document.getElementById("waterfalls");
    if (!data.waterfalls.length) {
      falls.appendChild(element("p", "no traces in this run"));
    }
    data.waterfalls.forEach(function (w, i) {
      var title = (w.kind === "failing" ? "failing" : "slowest") + " trace " + w.trace_id +
        " \u00b7 " + number(w.duration, 1) + " ms \u00b7 " + w.rows.length + " spans";
      var height = 40 + 24 * w.rows.length;
      draw(box(falls, "waterfall-" + i, title, "waterfall", height), waterfallOption(w));
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.resize(); });
    });
    window.ragsightCharts = charts;
    document.body.setAttribute("data-charts", String(charts.length));
  }

  run();
})();
