/* Kassa progressive enhancement. No dependencies; pages work without it.
   CSP-friendly: no inline handlers, no eval, only listeners added here.

   Markup hooks:
     <button type="button" data-copy="text" hidden>Copy</button>   copy to clipboard (JS un-hides it)
     <span data-countdown="2026-11-25T14:05:00Z" data-now="…">      mm:ss left, "expired" at 0,
                                                                     fires "kassa:expired" (bubbles) when it
                                                                     reaches 0 while the page is open
     <form data-confirm="Refund ₹10.00?">  or  <button data-confirm>  confirm() before submitting
     <canvas data-chart="json-script-id" data-chart-src="…chart.umd.min.js">  Chart.js from JSON config
     <meta name="csrf-token" content="…">                            X-CSRFToken on htmx requests
*/
(function () {
  "use strict";

  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function each(root, selector, fn) {
    if (root.matches && root.matches(selector)) fn(root);
    Array.prototype.forEach.call(root.querySelectorAll(selector), fn);
  }

  /* ---- Copy to clipboard ---- */

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain-http dev servers have no Clipboard API: fall back to a hidden textarea.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  function onCopyClick(event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    var original = button.dataset.copyLabel || button.textContent;
    button.dataset.copyLabel = original;
    copyText(button.getAttribute("data-copy")).then(function () {
      button.textContent = "Copied";
      button.classList.add("is-copied");
    }, function () {
      button.textContent = "Press Ctrl+C";
    }).then(function () {
      window.setTimeout(function () {
        button.textContent = original;
        button.classList.remove("is-copied");
      }, 2000);
    });
  }

  /* ---- Countdown ---- */

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function startCountdown(el) {
    if (el.dataset.countdownEnd) return;
    var end = Date.parse(el.getAttribute("data-countdown"));
    if (isNaN(end)) return;
    // data-now is the server's clock at render time; it corrects a wrong phone clock.
    var serverNow = Date.parse(el.getAttribute("data-now") || "");
    var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();
    el.dataset.countdownEnd = String(end - skew);
    // Already over at render: show "expired" but fire no event, or an htmx refresh could loop.
    tickOne(el, end - skew <= Date.now());
  }

  function tickOne(el, silent) {
    if (el.dataset.countdownDone) return;
    var left = Math.max(0, Math.floor((Number(el.dataset.countdownEnd) - Date.now()) / 1000));
    if (left === 0) {
      el.textContent = "expired";
      el.classList.add("is-expired");
      el.classList.remove("is-urgent");
      el.dataset.countdownDone = "1";
      timeIsUp();
      if (silent) return;
      // Lets htmx refresh the status panel: hx-trigger="kassa:expired from:body".
      el.dispatchEvent(new CustomEvent("kassa:expired", { bubbles: true }));
      return;
    }
    el.textContent = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
    el.classList.toggle("is-urgent", left < 60);
  }

  // The pay page at zero: a gateway button would start a payment that expires on the way; offer "Try again".
  function timeIsUp() {
    each(document, "[data-disable-when-expired]", function (el) {
      el.setAttribute("aria-disabled", "true");
      if (el.tagName === "BUTTON") el.disabled = true;
      if (el.tagName === "A") el.removeAttribute("href");
    });
    each(document, "[data-show-when-expired][hidden]", function (el) { el.hidden = false; });
  }

  function tickAll() {
    each(document, "[data-countdown-end]", tickOne);
  }

  /* ---- Confirm before submit ---- */

  function onSubmit(event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      // Capture phase on document: also stops htmx, whose listener sits on the form.
      event.stopImmediatePropagation();
      return;
    }
    // <form data-submit-once>: a double click sends one request (the server is idempotent anyway).
    if (form.hasAttribute("data-submit-once")) {
      if (form.getAttribute("data-submitted")) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      form.setAttribute("data-submitted", "1");
    }
  }

  /* ---- Charts ---- */

  var chartLoader = null;

  function loadChartJs(src) {
    if (window.Chart) return Promise.resolve(window.Chart);
    if (!chartLoader) {
      chartLoader = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { resolve(window.Chart); };
        script.onerror = function () { chartLoader = null; reject(new Error("Chart.js failed to load")); };
        document.head.appendChild(script);
      });
    }
    return chartLoader;
  }

  // Optional "kassa" key in a config: {"valuePrefix": "₹", "valueSuffix": "", "axis": "y"}.
  // JSON cannot carry functions, so this is how a view asks for formatted value ticks.
  function applyValueFormat(config) {
    var fmt = config.kassa;
    delete config.kassa;
    if (!fmt) return;
    var prefix = fmt.valuePrefix || "";
    var suffix = fmt.valueSuffix || "";
    var axis = fmt.axis || "y";
    var format = function (v) { return prefix + Number(v).toLocaleString() + suffix; };
    var options = config.options = config.options || {};
    options.scales = options.scales || {};
    var scale = options.scales[axis] = options.scales[axis] || {};
    scale.ticks = scale.ticks || {};
    scale.ticks.callback = format;
    options.plugins = options.plugins || {};
    var tooltip = options.plugins.tooltip = options.plugins.tooltip || {};
    tooltip.callbacks = tooltip.callbacks || {};
    tooltip.callbacks.label = function (ctx) {
      var raw = ctx.parsed && typeof ctx.parsed === "object" ? ctx.parsed[axis] : ctx.parsed;
      return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + format(raw);
    };
  }

  function renderChart(canvas) {
    if (canvas.dataset.chartReady) return;
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) return;
    canvas.dataset.chartReady = "1";
    var config;
    try { config = JSON.parse(source.textContent); } catch (e) { return; }
    var box = canvas.parentElement;
    var height = box && box.getAttribute("data-chart-height");
    // Set from script, not a style attribute, so a strict style-src CSP still works.
    if (height && /^\d+$/.test(height)) box.style.height = height + "px";
    loadChartJs(canvas.getAttribute("data-chart-src")).then(function (Chart) {
      Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      Chart.defaults.color = "#4b5563";
      if (reducedMotion) Chart.defaults.animation = false;
      applyValueFormat(config);
      config.options = config.options || {};
      if (config.options.maintainAspectRatio === undefined) config.options.maintainAspectRatio = false;
      if (Chart.getChart(canvas)) Chart.getChart(canvas).destroy();
      new Chart(canvas, config);
    }, function () {
      canvas.dataset.chartReady = "";
    });
  }

  /* ---- htmx: CSRF header ---- */

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function onHtmxConfigRequest(event) {
    var verb = (event.detail.verb || "get").toUpperCase();
    if (verb === "GET" || verb === "HEAD") return;
    var token = csrfToken();
    if (token) event.detail.headers["X-CSRFToken"] = token;
  }

  /* ---- Wiring ---- */

  function enhance(root) {
    each(root, "[data-copy][hidden]", function (el) { el.hidden = false; });
    each(root, "[data-countdown]", startCountdown);
    each(root, "canvas[data-chart]", renderChart);
  }

  document.addEventListener("click", onCopyClick);
  document.addEventListener("submit", onSubmit, true);
  document.addEventListener("htmx:configRequest", onHtmxConfigRequest);
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  } else {
    enhance(document);
  }
  window.setInterval(tickAll, 1000);

  window.Kassa = { enhance: enhance, csrfToken: csrfToken };
})();
