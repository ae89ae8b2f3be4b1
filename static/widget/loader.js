/*! Deskbell loader: launcher on the host page, panel in an iframe. CSSOM, no innerHTML. */
(function () {
  'use strict';

  var script = document.currentScript || document.querySelector('script[src*="/widget.js"]');
  var existing = window.Deskbell;
  // Included twice: first copy wins.
  if (!script || (existing && existing.loaded)) return;

  var data = script.dataset;
  var ORIGIN = new URL(script.src, location.href).origin;
  var LABELS = { en: 'Help', es: 'Ayuda', de: 'Hilfe', fr: 'Aide', pt: 'Ajuda', it: 'Aiuto',
    nl: 'Help', pl: 'Pomoc', ar: 'مساعدة', ja: 'ヘルプ', zh: '帮助' };
  // data-locale, else the page's lang, else the browser's; the server picks what it has.
  var wanted = (data.locale || document.documentElement.lang || navigator.language || 'en')
    .toLowerCase().replace('_', '-').slice(0, 35);
  var lang = wanted.split('-')[0];
  var locale = LABELS[lang] ? lang : 'en';
  var rtl = /^(ar|he|fa|ur)$/.test(lang);
  var mode = /^(neutral|ask-first)$/.test(data.mode) ? data.mode : 'self-service';
  var color = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(data.color || '') ? data.color : '#1d4ed8';
  // Mirrored for RTL.
  var side = /^(left|right)$/.test(data.position) ? data.position : (rtl ? 'left' : 'right');

  var handlers = {}, pending = [], host, root, button, label, frame, frameReady = false, isOpen = false, ready = false;

  function emit(name, detail) {
    // Isolate throwing handlers.
    (handlers[name] || []).forEach(function (fn) {
      setTimeout(function () { fn(detail); });
    });
  }

  var hex = color.length < 5 ? color.replace(/\w/g, '$&$&') : color, L = 0.05;
  [0.2126, 0.7152, 0.0722].forEach(function (w, i) {
    var c = parseInt(hex.substr(1 + 2 * i, 2), 16) / 255;
    L += w * (c < 0.04 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
  });
  // White or black text, whichever contrasts more.
  var ink = 1.05 / L > L / 0.05 ? '#fff' : '#111';

  function css() {
    var s = side + ':20px;';
    return [
      ':host{all:initial!important;position:fixed!important;z-index:2147483647!important}',
      '.b{position:fixed;bottom:20px;' + s + 'display:inline-flex;align-items:center;gap:8px;' +
        'min-height:48px;padding:0 20px 0 16px;border:0;border-radius:24px;cursor:pointer;' +
        'background:' + color + ';color:' + ink + ';font:600 16px/1 system-ui,sans-serif;box-shadow:0 4px 14px rgba(0,0,0,.25);}',
      '.b:focus-visible{outline:3px solid #fff;box-shadow:0 0 0 6px #111;}',
      '.b svg{width:22px;height:22px;}',
      '.f{position:fixed;bottom:84px;' + s + 'width:400px;height:min(640px,calc(100vh - 104px));' +
        'border:0;border-radius:12px;background:#fff;box-shadow:0 12px 40px rgba(0,0,0,.3);' +
        'visibility:hidden;opacity:0;transform:translateY(12px);' +
        'transition:opacity .18s,transform .18s,visibility 0s .18s;}',
      '.f.o{visibility:visible;opacity:1;transform:none;transition-delay:0s;}',
      '@media (max-width:640px){.f{inset:0;width:100%;height:100%;border-radius:0;}}',
      '@media (prefers-reduced-motion:reduce){.f{transition:none;}}'
    ];
  }

  function styleRoot() {
    // CSSOM: not subject to the host's style-src.
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css().join(''));
    root.adoptedStyleSheets = [sheet];
  }

  function icon() {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    var path = svg.appendChild(document.createElementNS(ns, 'path'));
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    path.setAttribute('fill', 'currentColor');
    path.setAttribute('d', 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 ' +
      '0 0 1 2-2z');
    return svg;
  }

  function draw() {
    host = document.createElement('deskbell-widget');
    root = host.attachShadow({ mode: 'open' });
    styleRoot();
    button = document.createElement('button');
    button.type = 'button';
    button.className = 'b';
    button.dir = rtl ? 'rtl' : 'ltr';
    button.setAttribute('aria-haspopup', 'dialog');
    button.setAttribute('aria-expanded', 'false');
    button.appendChild(icon());
    label = document.createElement('span');
    label.textContent = (data.label || LABELS[locale]).slice(0, 40);
    button.appendChild(label);
    button.addEventListener('click', function () { show(!isOpen); });
    root.appendChild(button);
    (document.body || document.documentElement).appendChild(host);
  }

  function ensureFrame() {
    if (frame) return;
    var q = new URLSearchParams({ site: data.site || 'default', locale: wanted, mode: mode,
      host: location.origin, url: location.href.split('#')[0].slice(0, 500), color: color });
    frame = document.createElement('iframe');
    frame.className = 'f';
    frame.id = 'deskbell-panel';
    frame.title = label.textContent;
    frame.src = ORIGIN + '/embed?' + q;
    root.appendChild(frame);
    button.setAttribute('aria-controls', frame.id);
  }

  function post(type, value) {
    var message = { deskbell: 1, type: type, value: value };
    if (frameReady) frame.contentWindow.postMessage(message, ORIGIN);
    else pending.push(message);
  }

  function flush() {
    pending.splice(0).forEach(function (m) { frame.contentWindow.postMessage(m, ORIGIN); });
  }

  function show(open) {
    if (open === isOpen) return;
    isOpen = open;
    ensureFrame();
    frame.classList.toggle('o', open);
    button.setAttribute('aria-expanded', String(open));
    post(open ? 'open' : 'close');
    if (open && frameReady) frame.focus();
    else if (root.activeElement === frame || document.activeElement === host) button.focus();
    emit(open ? 'open' : 'close');
  }

  function onMessage(event) {
    if (event.origin !== ORIGIN || !frame || event.source !== frame.contentWindow) return;
    var msg = event.data;
    if (!msg || msg.deskbell !== 1) return;
    if (msg.type === 'ready') {
      frameReady = true;
      // Focus given before load is lost on load.
      if (isOpen) frame.focus();
      flush();
    } else if (msg.type === 'close') {
      show(false);
    } else if (/^(search|article-viewed|ticket-created)$/.test(msg.name)) {
      emit(msg.name, msg.detail);
    }
  }

  function destroy() {
    window.removeEventListener('message', onMessage);
    if (host) host.remove();
    handlers = {};
    host = frame = null;
    delete window.Deskbell;
  }

  function api(name, arg, fn) {
    if (name === 'on' && typeof fn === 'function') {
      (handlers[arg] = handlers[arg] || []).push(fn);
      // Late subscribers still hear 'ready'.
      if (arg === 'ready' && ready) setTimeout(fn);
    }
    if (!host) return;
    if (/^(open|close|toggle)$/.test(name)) {
      show(name === 'toggle' ? !isOpen : name === 'open');
    } else if (/^(search|article)$/.test(name)) {
      show(true);
      post(name, String(arg || ''));
    } else if (/^(identify|prefill|suggest)$/.test(name)) {
      ensureFrame();
      post(name, JSON.parse(JSON.stringify(arg || null)));
    } else if (name === 'destroy') {
      destroy();
    }
  }

  var queue = (existing && existing.q) || [];
  api.loaded = true;
  window.Deskbell = api;
  window.addEventListener('message', onMessage);
  draw();
  // 'ready' precedes queued commands.
  queue.forEach(function (a) { if (a[0] === 'on') api.apply(null, a); });
  ready = true;
  emit('ready');
  queue.forEach(function (a) { if (a[0] !== 'on') api.apply(null, a); });
  // Preload when idle.
  (window.requestIdleCallback || function (fn) { setTimeout(fn, 1500); })(function () {
    if (host) ensureFrame();
  }, { timeout: 4000 });
})();
