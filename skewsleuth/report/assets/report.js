/* skewsleuth report: draws the chart (Vega, CSP-safe interpreter), shows what a mark is
   on hover (as text, never HTML) and follows a mark to its finding on click. The chart
   takes its container's width (the spec's fit-x autosize); the labels' widths, which the
   chart lays its labels out by, are measured here with the font the browser draws them
   in (the spec carries an upper estimate, for the PNG). */
(function () {
  'use strict';
  var chart = document.getElementById('chart');
  var tip = document.getElementById('tip');
  var ANCHOR = /^[a-z]+-[0-9]+$/;
  var LABEL_FONT = '11px sans-serif';
  var pressed = null;

  function tooltip(handler, event, item, value) {
    if (value === null || value === undefined || value === '') {
      tip.hidden = true;
      return;
    }
    tip.textContent = typeof value === 'object'
      ? Object.keys(value).map(function (k) { return k + ': ' + value[k]; }).join('\n')
      : String(value);
    tip.hidden = false;
    var x = event.clientX + 14, y = event.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 8) { x = Math.max(8, event.clientX - w - 14); }
    if (y + h > window.innerHeight - 8) { y = Math.max(8, event.clientY - h - 14); }
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }

  function follow(event, item) {
    // A drag pans the chart: the click that ends it follows nothing.
    if (pressed && Math.abs(event.clientX - pressed[0]) + Math.abs(event.clientY - pressed[1]) > 4) { return; }
    var a = item && item.datum && item.datum.anchor;
    if (typeof a === 'string' && ANCHOR.test(a) && document.getElementById(a)) {
      window.location.hash = a;
    }
  }

  /* Every label's width as drawn here (bold / italic as it is drawn), and the width of
     the widest count its row may show (2 px more than measured). */
  function measureLabels(spec) {
    var ctx = document.createElement('canvas').getContext('2d');
    if (!ctx) { return; }
    function width(text, style, weight) {
      ctx.font = style + ' ' + weight + ' ' + LABEL_FONT;
      return Math.ceil(ctx.measureText(text).width) + 2;
    }
    spec.data.forEach(function (d) {
      (d.values || []).forEach(function (r) {
        if (r.kind !== 'label') { return; }
        r.w = width(r.label, r.style, r.weight);
        r.mw = width(r.mtext, 'normal', 'normal');
      });
    });
  }

  var spec = JSON.parse(document.getElementById('chart-spec').textContent);
  measureLabels(spec);
  chart.addEventListener('mousedown', function (e) { pressed = [e.clientX, e.clientY]; }, true);
  vegaEmbed(chart, spec, {
    mode: 'vega', ast: true, expr: vegaExpressionInterpreter, renderer: 'svg',
    actions: false, defaultStyle: false, tooltip: tooltip,
    logLevel: 1  /* errors only: a lane without offsets has no offset scale */
  }).then(function (result) {
    result.view.addEventListener('click', follow);
    chart.addEventListener('mouseleave', function () { tip.hidden = true; });
    chart.setAttribute('data-ready', 'true');
  }).catch(function (error) {
    document.getElementById('chart-error').textContent = 'The chart could not be drawn: ' + error;
    console.error(error);
  });
}());
