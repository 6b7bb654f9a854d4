/* skewsleuth report: draws the chart (Vega, CSP-safe interpreter), shows what a mark is
   on hover (as text, never HTML) and follows a mark to its finding on click. */
(function () {
  'use strict';
  var chart = document.getElementById('chart');
  var tip = document.getElementById('tip');
  var ANCHOR = /^[a-z]+-[0-9]+$/;

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
    var a = item && item.datum && item.datum.anchor;
    if (typeof a === 'string' && ANCHOR.test(a) && document.getElementById(a)) {
      window.location.hash = a;
    }
  }

  var spec = JSON.parse(document.getElementById('chart-spec').textContent);
  vegaEmbed(chart, spec, {
    mode: 'vega', ast: true, expr: vegaExpressionInterpreter, renderer: 'svg',
    actions: false, defaultStyle: false, tooltip: tooltip,
    logLevel: 1  /* errors only: an empty lane has no offsets to scale */
  }).then(function (result) {
    result.view.addEventListener('click', follow);
    chart.addEventListener('mouseleave', function () { tip.hidden = true; });
    chart.setAttribute('data-ready', 'true');
  }).catch(function (error) {
    document.getElementById('chart-error').textContent = 'The chart could not be drawn: ' + error;
    console.error(error);
  });
}());
