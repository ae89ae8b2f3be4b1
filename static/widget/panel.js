/*! Deskbell panel (same-origin iframe). DOM from elements and textContent; the only HTML
 * inserted is the server's sanitized article body (or a section of it, as an answer). */
(function () {
  'use strict';

  var doc = document, root = doc.documentElement;
  var T = JSON.parse(root.getAttribute('data-strings') || '{}');
  var SITE = root.getAttribute('data-site') || 'default';
  var MODE = root.getAttribute('data-mode') || 'self-service';
  var NPS = root.getAttribute('data-nps') === 'on';
  var LOCALE = root.lang || 'en';
  var params = new URLSearchParams(location.search);
  var PAGE = (params.get('url') || '').slice(0, 500);
  var EMBEDDED = window.parent !== window;
  var HOST = hostOrigin();
  var TICKETS_KEY = 'deskbell:tickets:' + SITE;

  var $ = function (id) { return doc.getElementById(id); };
  var q = $('q'), results = $('results'), count = $('count'), listH = $('list-h');
  var page = $('v-page'), form = $('contact'), back = $('back');
  var answerBox = $('answer'), nores = $('nores'), main = $('main');

  var state = {
    view: 'home', stack: [], opened: false, searched: false, suggestions: [],
    active: -1, items: [], seq: 0, ctrl: null, last: null, settled: '', formOpened: 0,
    debounce: 0, full: 0, settle: 0, loading: 0, helpSeq: 0, helpTimer: 0, identity: {},
    wantSettle: false, pinned: false, vote: null
  };
  // Storage may throw in cross-site frames: then memory, while the host page stays open.
  var memory = {};
  var trail = loadTrail();
  var policy = htmlPolicy();

  function t(key, vars) {
    return String(T[key] || key).replace(/\{(\w+)\}/g, function (_, k) { return vars[k]; });
  }

  function el(tag, props, kids) {
    var node = doc.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === 'text') node.textContent = props[k];
      else if (k === 'on') node.addEventListener('click', props[k]);
      else if (/^(aria-|data-|role$|for$)/.test(k)) node.setAttribute(k, props[k]);
      else node[k] = props[k];
    });
    (kids || []).forEach(function (kid) { if (kid) node.appendChild(kid); });
    return node;
  }

  function fill(node, kids) {
    node.replaceChildren.apply(node, kids.filter(Boolean)); // null would render as "null"
  }

  function setHTML(node, html) {
    node.innerHTML = policy ? policy.createHTML(html || '') : (html || '');
  }

  function now() { return new Date().toISOString(); }

  function readJSON(kind, key, fallback) {
    try {
      return JSON.parse(window[kind].getItem(key)) || fallback;
    } catch (e) {
      return memory[key] ? JSON.parse(memory[key]) : fallback;
    }
  }

  function writeJSON(kind, key, value) {
    memory[key] = JSON.stringify(value);
    try { window[kind].setItem(key, memory[key]); } catch (e) { /* memory only */ }
  }

  function hostOrigin() {
    // Who embeds us: the browser's word over the loader's, where available.
    var ancestors = location.ancestorOrigins;
    if (ancestors && ancestors.length) return ancestors[0];
    try { return new URL(params.get('host') || '').origin; } catch (e) { return ''; }
  }

  function htmlPolicy() {
    // For Trusted Types; the server sanitized article HTML (allowlist).
    try {
      return window.trustedTypes.createPolicy('deskbell', { createHTML: function (s) { return s; } });
    } catch (e) { return null; }
  }

  function sessionId() {
    var bytes = crypto.getRandomValues(new Uint8Array(22));
    var abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    return 's_' + Array.prototype.map.call(bytes, function (b) { return abc[b & 63]; }).join('');
  }

  function loadTrail() {
    var saved = readJSON('sessionStorage', 'deskbell:trail:' + SITE, null);
    if (saved && /^s_[\w-]{22}$/.test(saved.session)) return saved;
    return { session: sessionId(), page_url: PAGE, searches: [], articles: [], votes: [] };
  }

  function remember(list, item) {
    trail[list].push(item);
    if (trail[list].length > 50) trail[list].shift(); // the server accepts 50 of each
    trail.page_url = PAGE;
    writeJSON('sessionStorage', 'deskbell:trail:' + SITE, trail);
  }

  function toHost(type, name, detail) {
    if (EMBEDDED && HOST) {
      window.parent.postMessage({ deskbell: 1, type: type, name: name, detail: detail }, HOST);
    }
  }

  function track(event) {
    // Fire and forget: metrics never get in the visitor's way.
    try {
      fetch('/api/v1/events', {
        method: 'POST', keepalive: true, headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ session: trail.session, events: [event] })
      }).catch(function () {});
    } catch (e) { /* ignored */ }
  }

  function api(path, options) {
    options = options || {};
    var init = { method: options.method || 'GET', headers: {}, signal: options.signal,
      keepalive: options.keepalive };
    if (options.files && options.files.length) { // the JSON as a part beside the files
      init.body = new FormData();
      init.body.append('json', JSON.stringify(options.body));
      options.files.forEach(function (f) { init.body.append('files', f, f.name); });
    } else if (options.body) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    // A ticket's token, or the signed identity that owns it (see identify).
    var tk = options.token;
    if (tk) init.headers.Authorization = tk.signature ? 'Identity ' + btoa(unescape(
      encodeURIComponent(JSON.stringify(tk)))).replace(/\+/g, '-').replace(/\//g, '_')
      : 'Bearer ' + tk;
    return fetch('/api/v1/' + path, init).then(function (res) {
      if (res.ok && options.blob) return res.blob();
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.ok) return data;
        var err = new Error((data.error && data.error.message) || res.statusText);
        err.status = res.status;
        err.details = (data.error && data.error.details) || {};
        throw err;
      });
    });
  }

  function errorText(err) {
    var s = err.status;
    if (!s) return t('err_network');
    if (s === 429) return t('err_rate');
    if (s === 403) return t('err_forbidden');
    if (s === 413 || s === 415) return t('err_file');
    if (s >= 500) return t('err_server');
    return t('err_other');
  }

  function focusables() {
    return Array.prototype.filter.call(
      doc.querySelectorAll('button, a[href], input, textarea, select, [tabindex="0"]'),
      function (n) { return !n.disabled && n.tabIndex >= 0 && n.getClientRects().length; });
  }

  function show(view, opts) {
    opts = opts || {};
    sendVote();
    if (view !== state.view && !opts.replace) state.stack.push(state.view);
    if (opts.reset) state.stack = view === 'home' ? [] : ['home'];
    state.view = view;
    $('v-home').hidden = view !== 'home';
    $('v-contact').hidden = view !== 'contact';
    page.hidden = view === 'home' || view === 'contact';
    back.hidden = !state.stack.length;
    updateFoot();
    if (view === 'contact') openContact();
    if (opts.focus !== false) focusView();
  }

  function focusView() {
    var target = state.view === 'home' ? q
      : state.view === 'contact' ? firstEmptyField() : page.querySelector('h2');
    if (target) target.focus();
  }

  function goBack() {
    show(state.stack.pop() || 'home', { replace: true });
  }

  function updateFoot() {
    var offer = MODE === 'neutral' || (MODE === 'self-service' && state.searched);
    $('foot').hidden = !(offer && state.view === 'home' && nores.hidden);
  }

  function requestClose() {
    sendVote();
    settleNow(true);
    toHost('close');
  }

  function snippetNodes(html) {
    // Snippets: escaped text and <mark> only.
    var parts = String(html || '').split(/<(\/?)mark>/), nodes = [], marked = false;
    for (var i = 0; i < parts.length; i++) {
      if (i % 2) { marked = parts[i] !== '/'; continue; }
      var text = decode(parts[i]);
      if (text) nodes.push(marked ? el('mark', { text: text }) : doc.createTextNode(text));
    }
    return nodes;
  }

  function decode(s) {
    // Python's html.escape (search/snippets.py) writes exactly these five.
    var named = { amp: '&', lt: '<', gt: '>', quot: '"', '#x27': "'" };
    return s.replace(/&(amp|lt|gt|quot|#x27);/g, function (_, e) { return named[e]; });
  }

  function langName(code) {
    // The language's own name (Español), as a language menu writes it.
    try {
      var n = new Intl.DisplayNames([code], { type: 'language' }).of(code);
      return n[0].toUpperCase() + n.slice(1);
    } catch (e) { return code; }
  }

  function other(it) { // an article not in the visitor's language: marked with its own
    return it.locale && it.locale.split('-')[0] !== LOCALE.split('-')[0] ? it.locale : '';
  }

  function renderList(items, heading, source) {
    state.items = items.map(function (it) { return { item: it, source: source }; });
    state.active = -1;
    q.removeAttribute('aria-activedescendant');
    fill(results, items.map(function (it, i) {
      // Each article picks its own direction (its language may differ).
      var li = el('li', { id: 'r-' + i, role: 'option', 'aria-selected': 'false', dir: 'auto',
        lang: other(it) || LOCALE }, [
        el('span', { className: 't', text: it.title }),
        other(it) && el('span', { className: 's', text: '(' + langName(it.locale) + ')' })
      ].concat(it.snippet || it.summary
        ? [el('span', { className: 's' }, it.snippet ? snippetNodes(it.snippet)
          : [doc.createTextNode(it.summary)])] : []));
      li.addEventListener('click', function () { openResult(i); });
      return li;
    }));
    results.hidden = !items.length;
    // Results are named by the live count; suggestions by their heading.
    listH.hidden = !items.length || source === 'search';
    listH.textContent = heading;
    results.setAttribute('aria-labelledby', source === 'search' ? 'count' : 'list-h');
    q.setAttribute('aria-expanded', String(items.length > 0));
  }

  function showSuggestions() {
    state.seq++;
    results.removeAttribute('aria-busy');
    clearTimeout(state.loading);
    nores.hidden = true;
    count.textContent = '';
    renderAnswer(null);
    said('');
    renderList(state.suggestions, t('suggested'), 'suggestion');
    updateFoot();
  }

  function loadSuggestions() {
    api('suggestions?limit=5&locale=' + LOCALE + '&url=' + encodeURIComponent(PAGE)).then(function (d) {
      showNotice(d.notice);
      if (!state.pinned) setSuggestions(d.results || []); // the page's own choice wins
    }, function () { /* suggestions are a bonus */ });
  }

  function showNotice(n) {
    // The owner's banner above every view, as text; its article opens in the panel.
    if (!n) return;
    var box = el('p', { className: 'notice', role: 'status' }), a = n.article;
    main.before(box);
    fill(box, [el('span', { dir: 'auto', text: n.text + ' ' }), a && el('a', { href: a.url,
      text: t('answer_read'), on: function (e) { e.preventDefault(); openArticle(a.slug, 'link'); } })]);
  }

  function setSuggestions(list) {
    state.suggestions = list.slice(0, 5);
    if (!q.value.trim()) showSuggestions();
  }

  function onInput() {
    clearTimeout(state.debounce);
    clearTimeout(state.full);
    clearTimeout(state.settle);
    // Keystrokes: quick word search; a pause: the full one (meaning, answer).
    state.debounce = setTimeout(function () { runSearch(true); }, 120);
    state.full = setTimeout(function () { runSearch(false); }, 450);
    state.settle = setTimeout(settleNow, 1500);
    // The list changes until the full search lands.
    results.setAttribute('aria-busy', 'true');
  }

  function runSearch(instant) {
    var text = q.value.trim();
    if (!text) return showSuggestions();
    var mine = ++state.seq;
    if (state.ctrl) state.ctrl.abort();
    state.ctrl = new AbortController();
    clearTimeout(state.loading);
    // A hint only for noticeable waits: fast answers must not flicker.
    state.loading = setTimeout(function () { count.textContent = t('searching'); }, 200);
    var url = 'search?limit=8&locale=' + LOCALE + '&session=' + trail.session + '&q=' +
      encodeURIComponent(text) + (instant ? '&instant=1' : '');
    api(url, { signal: state.ctrl.signal }).then(function (data) {
      if (mine !== state.seq) return; // a newer query is on its way
      clearTimeout(state.loading);
      data.instant = !!instant;
      renderResults(text, data);
    }, function (err) {
      if (mine !== state.seq || err.name === 'AbortError') return;
      clearTimeout(state.loading);
      if (!instant) results.removeAttribute('aria-busy');
      count.textContent = errorText(err);
    });
  }

  function renderResults(text, data) {
    var list = data.results || [], total = data.total || 0, prev = state.last;
    state.last = { q: text, results: total, answer: data.answer || null, none: !list.length,
      instant: data.instant };
    var was = state.items[state.active], same = was && prev && prev.q === text;
    count.textContent = total === 1 ? t('results_one') : t('results_many', { n: total });
    renderList(list, count.textContent, 'search');
    // Full results of the same words keep the arrowed-to option.
    if (same) list.forEach(function (it, i) { if (it.slug === was.item.slug) setActive(i); });
    renderAnswer(state.last.answer);
    if (!data.instant) results.removeAttribute('aria-busy');
    verdict();
    if (state.wantSettle) settleNow();
  }

  function said(text) { // the count's live region says only the count
    if ($('said').textContent !== text) $('said').textContent = text;
  }

  function answerSource(a) {
    return a.heading && a.heading !== a.title ? a.title + ' › ' + a.heading : a.title;
  }

  function renderAnswer(a) {
    answerBox.hidden = !a;
    if (!a) return fill(answerBox, []);
    var quote = el('blockquote', { className: 'quote article clip', dir: 'auto' });
    setHTML(quote, a.html);
    var lead = quote.firstElementChild;
    if (lead && /^H[1-6]$/.test(lead.tagName) && lead.textContent.trim() === a.heading) lead.remove();
    quote.querySelectorAll('[id]').forEach(function (n) { n.removeAttribute('id'); });
    wireLinks(quote);
    var from = t('answer_from', { source: '\n' }).split('\n');
    fill(answerBox, [
      el('h2', { id: 'answer-h', className: 'sub', text: t('answer_h') }),
      el('figure', {}, [el('figcaption', { id: 'answer-src' }, [doc.createTextNode(from[0]),
        el('cite', { dir: 'auto', text: answerSource(a) }), doc.createTextNode(from[1] || '')]),
      quote]),
      el('button', { type: 'button', className: 'primary', text: t('answer_read'),
        'aria-describedby': 'answer-src', on: function () {
          settleNow(true);
          openArticle(a.slug, 'search', a.anchor);
        } })]);
    if (quote.scrollHeight <= quote.clientHeight + 2) quote.classList.remove('clip');
    quote.addEventListener('focusin', function () { quote.classList.remove('clip'); });
  }

  function verdict() {
    // No answer: said once the query settles, not while typing.
    var last = state.last, text = q.value.trim(), current = !!last && last.q === text;
    var honest = current && !last.instant && !last.answer && state.settled === text,
      closest = honest && !last.none;
    nores.hidden = !honest;
    if (honest) {
      $('nores-text').textContent = last.none
        ? t('no_results', { q: text }) + ' ' + t('no_results_hint') : t('no_answer_hint');
    }
    listH.hidden = !closest;
    if (closest) listH.textContent = t('closest');
    results.setAttribute('aria-labelledby', closest ? 'list-h' : 'count');
    said(current && last.answer ? t('answer_said', { source: answerSource(last.answer) })
      : honest ? t('no_answer') : '');
    updateFoot();
  }

  function settleNow(leaving) {
    // One trail entry per settled query; leaving keeps what is shown.
    clearTimeout(state.settle);
    var text = q.value.trim();
    state.wantSettle = false;
    if (!text || text === state.settled) return;
    if (!state.last || state.last.q !== text || (state.last.instant && leaving !== true)) {
      state.wantSettle = true;
      return;
    }
    state.settled = text;
    state.searched = true;
    verdict();
    remember('searches', { q: text.slice(0, 500), results: state.last.results, at: now() });
    toHost('event', 'search', { query: text, results: state.last.results });
  }

  function setActive(index) {
    var options = results.children;
    if (!options.length) return;
    index = (index + options.length) % options.length;
    if (state.active >= 0 && options[state.active]) {
      options[state.active].setAttribute('aria-selected', 'false');
    }
    state.active = index;
    options[index].setAttribute('aria-selected', 'true');
    options[index].scrollIntoView({ block: 'nearest' });
    q.setAttribute('aria-activedescendant', options[index].id);
  }

  function onSearchKey(e) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      setActive(state.active + (e.key === 'ArrowDown' ? 1 : -1));
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (state.active >= 0) openResult(state.active);
      else settleNow();
    }
  }

  function openResult(i) {
    var entry = state.items[i];
    if (!entry) return;
    settleNow(true);
    openArticle(entry.item.slug, entry.source);
  }

  function openArticle(slug, source, anchor, chosen) {
    fill(page, [el('p', { className: 'muted', text: t('loading') })]);
    show('page', { focus: false });
    api('articles/' + encodeURIComponent(slug)).then(function (a) {
      renderArticle(a, source, anchor, chosen);
    }, function (err) {
      fill(page, [el('h2', { tabIndex: -1, text: err.status === 404
        ? t('article_missing') : errorText(err) })]);
      focusView();
    });
  }

  function wireLinks(body) {
    body.querySelectorAll('a[href]').forEach(function (link) {
      // Slugs follow the KB's folders: /kb/embedding/wordpress is one.
      var m = link.pathname.match(/^\/kb\/([\w-]+(?:\/[\w-]+)*)\/?$/);
      if (m && link.origin === location.origin) {
        link.addEventListener('click', function (e) {
          e.preventDefault();
          openArticle(m[1], 'link', link.hash.slice(1));
        });
      } else {
        link.target = '_blank';
        link.rel = 'noopener noreferrer';
      }
    });
  }

  function renderArticle(a, source, anchor, chosen) {
    var own = (a.translations || {})[LOCALE];
    // In the visitor's language when it has been translated (unless they chose this one).
    if (other(a) && own && !chosen) return openArticle(own, source, anchor, 1);
    var body = el('div', { className: 'article', dir: 'auto', lang: a.locale || LOCALE });
    setHTML(body, a.html);
    var lead = body.firstElementChild;
    if (lead && /^H[1-3]$/.test(lead.tagName) && lead.textContent.trim() === a.title) lead.remove();
    wireLinks(body);
    var full = el('a', { href: a.url || '/kb/' + a.slug, target: '_blank', rel: 'noopener',
      text: t('read_full') + ' ' }, [el('span', { className: 'sr', text: t('new_tab') })]);
    var related = (a.related || []).map(function (r) {
      return el('li', {}, [el('button', { type: 'button', className: 'linkish', text: r.title,
        on: function () { openArticle(r.slug, 'link'); } })]);
    });
    var langs = Object.keys(a.translations || {}).map(function (code) {
      return el('button', { type: 'button', className: 'linkish', lang: code,
        text: langName(code), on: function () { openArticle(a.translations[code], 'link', '', 1); } });
    });
    fill(page, [
      el('h2', { tabIndex: -1, text: a.title, dir: 'auto', lang: a.locale || LOCALE }),
      other(a) && !own ? el('p', { className: 'muted', text: t('untranslated') }) : null,
      langs.length ? el('p', { className: 'langs' }, [doc.createTextNode(t('also_in') + ' ')]
        .concat(langs)) : null,
      body, el('p', {}, [full]),
      related.length ? el('h3', { className: 'sub', id: 'rel-h', text: t('related') }) : null,
      related.length ? el('ul', { className: 'links', 'aria-labelledby': 'rel-h' }, related) : null,
      voteBlock(a.slug)]);
    if (!goTo(body, anchor)) focusView();
    remember('articles', { slug: a.slug, title: String(a.title).slice(0, 500),
      source: source, at: now() });
    track({ type: 'article_view', slug: a.slug, source: source });
    toHost('event', 'article-viewed', { slug: a.slug, title: a.title });
  }

  function goTo(body, anchor) {
    // The panel's own scroller, never the host page.
    var target = anchor && Array.prototype.find.call(body.querySelectorAll('[id]'),
      function (n) { return n.id === anchor; });
    if (!target) return false;
    target.tabIndex = -1;
    target.classList.add('target');
    target.focus({ preventScroll: true });
    main.scrollTop += target.getBoundingClientRect().top - main.getBoundingClientRect().top - 8;
    return true;
  }

  // "No" asks why; the vote is sent once, with the reason picked or on leaving (keepalive).
  function sendVote() {
    if (state.vote) state.vote();
  }

  function voteBlock(slug) {
    var box = el('div', { className: 'vote', role: 'group', 'aria-labelledby': 'vote-q' });
    function vote(helpful, reason, comment, leaving) {
      state.vote = null;
      box.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
      api('articles/' + encodeURIComponent(slug) + '/feedback', { method: 'POST',
        keepalive: leaving, body: { helpful: helpful, reason: reason, comment: comment,
          session: trail.session } }).then(function () {
        remember('votes', { slug: slug, helpful: helpful, at: now() });
        var kids = [el('p', { className: 'ok', role: 'status', text: t('thanks_feedback') })];
        if (!helpful) {
          kids.push(el('p', { text: t('sorry') }), el('button', { type: 'button',
            className: 'primary', text: t('contact_cta'), on: function () { show('contact'); } }));
        }
        fill(box, kids);
        var next = box.querySelector('button');
        if (next && !leaving) next.focus();
      }, function (err) {
        box.querySelectorAll('button').forEach(function (b) { b.disabled = false; });
        if (!helpful) state.vote = later;
        box.appendChild(el('p', { className: 'err', role: 'alert', text: errorText(err) }));
      });
    }
    function later() { vote(false, null, null, true); }
    function why() {
      state.vote = later;
      var note = el('textarea', { maxLength: 1000, 'aria-label': t('comment_label') });
      var more = el('div', { hidden: true }, [note, el('button', { type: 'button',
        className: 'secondary', text: t('why_send'),
        on: function () { vote(false, 'other', note.value.trim()); } })]);
      fill(box, [box.firstChild, el('fieldset', { className: 'row' }, [
        el('legend', { text: t('why_q') })].concat(['wrong', 'outdated', 'unanswered', 'unclear',
        'other'].map(function (r) {
        return el('button', { type: 'button', className: 'secondary', text: t('why_' + r),
          on: function () {
            if (r !== 'other') return vote(false, r);
            more.hidden = false;
            note.focus();
          } });
      }))), more]);
      box.querySelector('fieldset button').focus();
    }
    box.append(el('p', { id: 'vote-q', text: t('helpful_q') }), el('div', { className: 'row' }, [
      el('button', { type: 'button', className: 'secondary', text: t('yes'),
        on: function () { vote(true); } }),
      el('button', { type: 'button', className: 'secondary', text: t('no'), on: why })
    ]));
    return box;
  }

  function field(name) { return form.elements[name]; }

  function firstEmptyField() {
    var names = ['name', 'email', 'subject', 'message'];
    for (var i = 0; i < names.length; i++) if (!field(names[i]).value.trim()) return field(names[i]);
    return field('message');
  }

  function openContact() {
    state.formOpened = Date.now();
    var id = state.identity;
    if (id.name && !field('name').value) field('name').value = id.name;
    if (id.email && !field('email').value) field('email').value = id.email;
    settleNow(true); // leaving the search: it counts, and its words make a good subject
    var last = q.value.trim() || state.settled;
    if (!field('subject').value && last) field('subject').value = last;
    track({ type: 'contact_open' });
  }

  function prefill(values) {
    ['name', 'email', 'subject', 'message'].forEach(function (k) {
      if (values && typeof values[k] === 'string') field(k).value = values[k].slice(0, 10000);
    });
  }

  function onSubjectInput() {
    clearTimeout(state.helpTimer);
    state.helpTimer = setTimeout(suggestForSubject, 300);
  }

  function suggestForSubject() {
    var text = field('subject').value.trim(), mine = ++state.helpSeq, box = $('may-help');
    if (text.length < 3) { box.hidden = true; return; }
    api('search?limit=3&locale=' + LOCALE + '&q=' + encodeURIComponent(text)).then(function (d) {
      if (mine !== state.helpSeq) return;
      var items = (d.results || []).map(function (r) {
        return el('li', {}, [el('button', { type: 'button', className: 'linkish', text: r.title,
          on: function () { openArticle(r.slug, 'suggestion'); } })]);
      });
      fill(box.querySelector('ul'), items);
      box.hidden = !items.length;
    }, function () { box.hidden = true; });
  }

  function setErrors(errors) {
    var first = null;
    ['name', 'email', 'subject', 'message'].forEach(function (k) {
      var msg = errors[k] || '';
      $('e-' + k).textContent = msg;
      if (msg) field(k).setAttribute('aria-invalid', 'true');
      else field(k).removeAttribute('aria-invalid');
      if (msg && !first) first = field(k);
    });
    return first;
  }

  function checkForm() {
    var errors = {};
    ['name', 'email', 'subject', 'message'].forEach(function (k) {
      if (!field(k).value.trim()) errors[k] = t('required');
    });
    var email = field('email').value.trim();
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.email = t('bad_email');
    return errors;
  }

  function onSubmit(e) {
    e.preventDefault();
    var formErr = $('form-err'), send = $('send');
    formErr.textContent = '';
    var first = setErrors(checkForm());
    if (first) { formErr.textContent = t('fix_fields'); first.focus(); return; }
    send.disabled = true;
    send.textContent = t('sending');
    var body = { page_url: PAGE, trail: trail, locale: LOCALE, website: field('website').value };
    if (state.signed) body.identity = state.signed;
    ['name', 'email', 'subject', 'message'].forEach(function (k) { body[k] = field(k).value.trim(); });
    // The server refuses forms sent faster than a person can: a prefilled one waits.
    new Promise(function (go) {
      setTimeout(go, Math.max(0, 1600 - (Date.now() - state.formOpened)));
    }).then(function () {
      body.elapsed_ms = Date.now() - state.formOpened;
      return api('tickets', { method: 'POST', body: body, files: files.files });
    }).then(function (res) {
      saveTicket({ reference: res.reference, token: res.token, subject: body.subject,
        created_at: res.created_at });
      field('subject').value = field('message').value = '';
      files.clear();
      toHost('event', 'ticket-created', { reference: res.reference });
      showSent(res.reference);
    }, function (err) {
      var bad = err.status === 422 ? setErrors(err.details || {}) : null;
      // Field problems by their fields; others once, above the button.
      formErr.textContent = bad ? t('fix_fields') : errorText(err);
      if (bad) bad.focus();
    }).then(function () {
      send.disabled = false;
      send.textContent = t('send');
    });
  }

  function showSent(reference) {
    fill(page, [
      el('h2', { tabIndex: -1, text: t('sent_title') }),
      el('p', { text: t('sent_body', { ref: reference }) }),
      el('p', { className: 'ok', text: reference, id: 'ref' }),
      el('button', { type: 'button', className: 'secondary', text: t('my_requests'),
        on: showRequests })]);
    show('page', { reset: true });
  }

  function savedTickets() { return readJSON('localStorage', TICKETS_KEY, []); }

  function saveTicket(entry) {
    var list = savedTickets().filter(function (x) { return x.reference !== entry.reference; });
    list.unshift(entry);
    writeJSON('localStorage', TICKETS_KEY, list.slice(0, 50));
  }

  function showRequests() {
    var c = state.signed;
    (c ? api('identity/tickets', { method: 'POST', body: { identity: c } }) : Promise.resolve({}))
      .then(null, function () { return {}; }).then(function (d) {
        // Signed in: every ticket of the visitor, from any device; then this browser's own.
        var mine = savedTickets(), own = {}, seen = {};
        mine.forEach(function (x) { own[x.reference] = x; });
        listRequests((d.tickets || []).map(function (x) {
          seen[x.reference] = 1;
          return own[x.reference] || { reference: x.reference, subject: x.subject, token: c };
        }).concat(mine.filter(function (x) { return !seen[x.reference]; })));
      });
  }

  function listRequests(list) {
    var items = list.map(function (x) {
      return el('li', {}, [el('button', { type: 'button', className: 'linkish',
        text: x.subject + ' (' + x.reference + ')', on: function () { showTicket(x); } })]);
    });
    fill(page, [el('h2', { tabIndex: -1, text: t('my_requests') }), items.length
      ? el('ul', { className: 'links' }, items) : el('p', { text: t('no_requests') })]);
    show('page');
  }

  function showTicket(entry) {
    fill(page, [el('p', { className: 'muted', text: t('loading') })]);
    show('page', { focus: false });
    api('tickets/' + encodeURIComponent(entry.reference), { token: entry.token }).then(function (tk) {
      renderTicket(entry, tk);
    }, function (err) {
      fill(page, [el('h2', { tabIndex: -1, text: t('request_missing') }),
        el('p', { text: errorText(err) })]);
      focusView();
    });
  }

  function renderTicket(entry, tk) {
    var thread = el('ul', { className: 'thread' }, (tk.thread || []).map(function (m) {
      var who = m.author === 'visitor' ? t('you') : (m.author_name || t('agent'));
      return el('li', { dir: 'auto' }, [el('span', { className: 'who',
        text: who + ' · ' + new Date(m.at).toLocaleString(LOCALE) }), doc.createTextNode(m.body)]
        .concat((m.attachments || []).map(function (a) {
          return el('a', { className: 'file', href: a.url, text: a.name, on: function (e) {
            e.preventDefault(); // the token travels in a header, so the file comes by fetch
            api(a.url.slice(8), { token: entry.token, blob: 1 }).then(function (b) {
              var link = el('a', { href: URL.createObjectURL(b), download: a.name });
              doc.body.appendChild(link); link.click(); link.remove();
            });
          } });
        })));
    }));
    fill(page, [
      el('h2', { tabIndex: -1, text: tk.subject }),
      el('p', {}, [doc.createTextNode(t('status') + ': '), el('span', { className: 'badge',
        text: t('status_' + tk.status) })]),
      el('p', { className: 'muted', text: tk.reference }),
      thread, replyForm(entry), tk.can_rate ? ratingForm(entry)
        : tk.rating ? el('p', { className: 'ok', text: t('rated') }) : null]);
    focusView();
  }

  function replyForm(entry) {
    var area = el('textarea', { id: 'reply', rows: 3, maxLength: 10000 });
    var err = el('p', { className: 'err', role: 'alert' }), more = picker('r-files');
    var f = el('form', { noValidate: true }, [el('div', { className: 'field' }, [
      el('label', { 'for': 'reply', text: t('reply_label') }), area]), more, err,
    el('button', { type: 'submit', className: 'secondary', text: t('reply_send') })]);
    f.addEventListener('paste', more.paste);
    f.addEventListener('submit', function (e) {
      e.preventDefault();
      if (!area.value.trim()) { err.textContent = t('required'); area.focus(); return; }
      api('tickets/' + encodeURIComponent(entry.reference) + '/messages', { method: 'POST',
        token: entry.token, body: { body: area.value.trim() }, files: more.files }).then(function () {
        showTicket(entry);
      }, function (e2) { err.textContent = errorText(e2); });
    });
    return f;
  }

  // Files to send: a picker, pasted screenshots, each listed with a button to remove it.
  function picker(id) {
    var input = el('input', { type: 'file', id: id, multiple: true,
      accept: 'image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain' });
    var list = el('ul', { className: 'files' }), box = el('div', { className: 'field' }, [
      el('label', { 'for': id, text: t('attach') }), input, list]);
    function add(more) {
      Array.prototype.push.apply(box.files, more);
      fill(list, box.files.map(function (f, i) {
        return el('li', {}, [doc.createTextNode(f.name + ' '), el('button', { type: 'button',
          className: 'linkish', text: t('remove'), 'aria-label': t('remove') + ' ' + f.name,
          on: function () { box.files.splice(i, 1); add([]); input.focus(); } })]);
      }));
    }
    box.files = [];
    box.clear = function () { box.files = []; add([]); };
    box.paste = function (e) {
      var got = e.clipboardData && e.clipboardData.files;
      if (got && got.length) { e.preventDefault(); add(got); }
    };
    input.addEventListener('change', function () { add(input.files); input.value = ''; });
    return box;
  }

  function scale(name, from, to) {
    var labels = [];
    for (var n = from; n <= to; n++) {
      labels.push(el('label', {}, [el('input', { type: 'radio', name: name, value: n }),
        doc.createTextNode(String(n))]));
    }
    return el('div', { className: 'scale' }, labels);
  }

  function ratingForm(entry) {
    var ces = el('select', { id: 'ces' }, [el('option', { value: '', text: t('ces_none') })]
      .concat([1, 2, 3, 4, 5, 6, 7].map(function (n) {
        return el('option', { value: n, text: n === 1 ? t('ces_1') : n === 7 ? t('ces_7') : n });
      })));
    var comment = el('textarea', { id: 'rate-comment', rows: 2, maxLength: 1000 });
    var err = el('p', { className: 'err', role: 'alert' });
    var f = el('form', { noValidate: true }, [
      el('h3', { className: 'sub', text: t('rate_title') }),
      el('fieldset', {}, [el('legend', { text: t('csat_label') }), scale('csat', 1, 5)]),
      el('div', { className: 'field' }, [el('label', { 'for': 'ces', text: t('ces_label') }), ces]),
      NPS ? el('fieldset', {}, [el('legend', { text: t('nps_label') }), scale('nps', 0, 10)]) : null,
      el('div', { className: 'field' }, [el('label', { 'for': 'rate-comment',
        text: t('comment_label') }), comment]),
      err, el('button', { type: 'submit', className: 'primary', text: t('rate_send') })]);
    f.addEventListener('submit', function (e) {
      e.preventDefault();
      var picked = f.querySelector('input[name=csat]:checked');
      if (!picked) { err.textContent = t('required'); f.querySelector('input').focus(); return; }
      var body = { csat: Number(picked.value), comment: comment.value.trim() };
      if (ces.value) body.ces = Number(ces.value);
      var nps = f.querySelector('input[name=nps]:checked');
      if (nps) body.nps = Number(nps.value);
      api('tickets/' + encodeURIComponent(entry.reference) + '/rating', { method: 'POST',
        token: entry.token, body: body }).then(function () {
        fill(f, [el('p', { className: 'ok', role: 'status', text: t('rated') })]);
      }, function (e2) { err.textContent = errorText(e2); });
    });
    return f;
  }

  function onOpen() {
    if (!state.opened) {
      state.opened = true;
      loadSuggestions();
      if (MODE === 'ask-first') show('contact', { replace: true, focus: false });
    }
    track({ type: 'widget_open', page_url: PAGE.split('?')[0] });
    focusView();
  }

  function suggest(slugs) {
    if (!Array.isArray(slugs)) return;
    state.pinned = true;
    Promise.all(slugs.slice(0, 5).map(function (slug) {
      return api('articles/' + encodeURIComponent(String(slug))).catch(function () { return null; });
    })).then(function (list) { setSuggestions(list.filter(Boolean)); });
  }

  var commands = {
    open: onOpen,
    close: function () { sendVote(); settleNow(true); track({ type: 'widget_close' }); },
    search: function (v) {
      if (state.view !== 'home') show('home', { reset: true, replace: true });
      q.value = String(v).slice(0, 200);
      runSearch();
      clearTimeout(state.settle);
      state.settle = setTimeout(settleNow, 1500);
    },
    article: function (v) { openArticle(v, 'api'); },
    identify: function (v) {
      v = v || {};
      state.identity = { name: v.name, email: v.email };
      // Signed by the site: the server checks it wherever it is sent (a claim that fails
      // is no identity); unsigned, it only prefills the form.
      var c = state.signed = v.signature ? { email: String(v.email || ''),
        signature: String(v.signature) } : null;
      if (c && v.user_id != null) c.user_id = String(v.user_id);
      prefill(state.identity);
    },
    prefill: prefill,
    suggest: suggest
  };

  window.addEventListener('message', function (e) {
    if (e.origin !== HOST || e.source !== window.parent) return;
    var msg = e.data;
    if (msg && msg.deskbell === 1 && commands.hasOwnProperty(msg.type)) commands[msg.type](msg.value);
  });

  doc.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') { e.preventDefault(); requestClose(); return; }
    if (e.key !== 'Tab') return;
    // A modal dialog: focus stays inside while open.
    var list = focusables(), first = list[0], last = list[list.length - 1];
    if (e.shiftKey && doc.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && doc.activeElement === last) { e.preventDefault(); first.focus(); }
  });

  doc.addEventListener('click', function (e) {
    var go = e.target.closest && e.target.closest('[data-go]');
    if (go) show(go.getAttribute('data-go'));
  });

  var color = params.get('color') || '';
  if (/^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(color)) {
    root.style.setProperty('--brand', color);
    var hex = color.length < 5 ? color.replace(/\w/g, '$&$&') : color, L = 0.05;
    [0.2126, 0.7152, 0.0722].forEach(function (w, i) {
      var c = parseInt(hex.substr(1 + 2 * i, 2), 16) / 255;
      L += w * (c < 0.04 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
    });
    root.style.setProperty('--on-brand', 1.05 / L > L / 0.05 ? '#fff' : '#111');
  }

  q.addEventListener('input', onInput);
  q.addEventListener('keydown', onSearchKey);
  form.addEventListener('submit', onSubmit);
  var files = picker('f-files');
  form.insertBefore(files, $('form-err'));
  form.addEventListener('paste', files.paste);
  field('subject').addEventListener('input', onSubjectInput);
  back.addEventListener('click', goBack);
  $('close').addEventListener('click', requestClose);
  $('close').hidden = !EMBEDDED;
  $('mine').addEventListener('click', showRequests);
  window.addEventListener('pagehide', function () { sendVote(); settleNow(true); });
  doc.addEventListener('visibilitychange', function () { if (doc.hidden) sendVote(); });
  updateFoot();
  if (EMBEDDED) toHost('ready');
  else onOpen(); // opened directly (/embed in a tab): as if the launcher was clicked
})();
