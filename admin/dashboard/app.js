// Switchboard admin dashboard: one page over the admin API.
//
// Rules this file keeps:
// - No inline code or styles: the page's CSP allows only this file.
// - Server data becomes text (textContent, append(string)), never markup:
//   a route path, a set name or an error message may hold "<script>".
// - The admin token lives in sessionStorage (this tab, until it closes)
//   and travels only in the Authorization header, never in a URL.
// - API paths are relative, so the page works behind a proxy that serves
//   the admin listener under a prefix.
'use strict';

(() => {
  const TOKEN_KEY = 'switchboard.adminToken';
  const $ = (id) => document.getElementById(id);

  // h builds an element; props sets attributes (class as className), and
  // children that are strings or numbers become text nodes.
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c !== null && c !== undefined) e.append(typeof c === 'object' ? c : String(c));
    }
    return e;
  }
  const td = (v, cls) => h('td', cls ? { class: cls } : null, v === undefined || v === null ? '' : v);
  const pretty = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

  function setError(id, msg) {
    $(id).textContent = msg || '';
    $(id).hidden = !msg;
  }
  function status(msg) { $('status').textContent = msg; }

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  }
  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch { /* storage disabled: the token lasts until the next 401 */ }
  }

  class AuthError extends Error {}

  // api calls the admin API and returns the parsed JSON. A 401 throws an
  // AuthError (the caller asks for the token); other failures throw an
  // Error with the server's message, status and body.
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const tok = token();
    if (tok) headers.Authorization = 'Bearer ' + tok;
    const init = { method, headers, cache: 'no-store', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (res.status === 401) throw new AuthError((data && data.message) || 'unauthenticated');
    if (!res.ok) {
      const msg = data && typeof data.message === 'string' ? data.message : `${res.status} ${res.statusText}`;
      throw Object.assign(new Error(msg), { status: res.status, body: data });
    }
    return data;
  }

  // notThere: the router's 404 for an endpoint this gateway does not have
  // (diff and explain are newer than some gateways).
  const notThere = (e) => e.status === 404 && /no admin endpoint/.test(e.message);

  // --- loading and the token prompt ---

  let loadSeq = 0;
  let routeRows = []; // {tr, hay}: hay is the row's text, lower case
  let loads = 0; // completed loads, for anyone waiting on the page

  async function load(note) {
    const mine = ++loadSeq;
    status('Loading…');
    document.body.dataset.state = 'loading';
    const results = await Promise.allSettled([
      api('GET', 'admin/routes'), api('GET', 'admin/descriptors'),
      api('GET', 'admin/backends'), api('GET', 'admin/errors'),
    ]);
    if (mine !== loadSeq) return; // a newer load is under way
    if (results.some((r) => r.status === 'rejected' && r.reason instanceof AuthError)) {
      askToken();
      return;
    }
    $('login').hidden = true;
    $('data').hidden = false;
    $('forget').hidden = !token();
    const parts = [[renderRoutes, 'routes-error'], [renderSets, 'sets-error'],
      [renderBackends, 'backends-error'], [renderErrors, 'errors-error']];
    results.forEach((r, i) => {
      const [render, errId] = parts[i];
      if (r.status === 'fulfilled') {
        setError(errId, '');
        render(r.value);
      } else {
        setError(errId, String(r.reason && r.reason.message ? r.reason.message : r.reason));
      }
    });
    status(note || `Loaded at ${new Date().toLocaleTimeString()}`);
    document.body.dataset.state = 'ready';
    document.body.dataset.loads = String(++loads);
  }

  // askToken hides every piece of data and shows the prompt; a token that
  // was sent and refused is dropped and said so.
  function askToken() {
    const refused = token() !== '';
    setToken('');
    for (const id of ['routes', 'backends', 'errors']) $(id).tBodies[0].replaceChildren();
    $('sets').replaceChildren();
    $('explain-out').replaceChildren();
    routeRows = [];
    $('data').hidden = true;
    $('forget').hidden = true;
    $('login').hidden = false;
    setError('login-error', refused ? 'The admin API refused that token.' : '');
    status('Token needed');
    document.body.dataset.state = refused ? 'refused' : 'token';
    $('token').focus();
  }

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    $('token').value = '';
    if (!t) return;
    setToken(t);
    load();
  });
  $('refresh').addEventListener('click', () => load());
  $('forget').addEventListener('click', () => {
    setToken('');
    askToken();
  });

  // --- routes ---

  function renderRoutes(data) {
    const tbody = $('routes').tBodies[0];
    tbody.replaceChildren();
    routeRows = ((data && data.routes) || []).map((r) => {
      const cells = [r.method, r.path, r.backend, r.target, r.source].map((v) => (v == null ? '' : String(v)));
      const tr = h('tr', null, td(cells[0]), td(cells[1], 'mono'), td(cells[2]), td(cells[3], 'mono'), td(cells[4], 'mono'));
      tbody.append(tr);
      return { tr, hay: cells.join('\n').toLowerCase() };
    });
    filterRoutes();
  }

  // filterRoutes keeps the rows holding every word typed, in any column.
  function filterRoutes() {
    const words = $('route-filter').value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of routeRows) {
      row.tr.hidden = !words.every((w) => row.hay.includes(w));
      if (!row.tr.hidden) shown++;
    }
    $('routes-count').textContent = words.length ? `${shown} of ${routeRows.length}` : String(routeRows.length);
  }
  $('route-filter').addEventListener('input', filterRoutes);

  // --- schema sets ---

  function renderSets(data) {
    const box = $('sets');
    box.replaceChildren();
    $('sets-generation').textContent = data && data.generation != null ? `generation ${data.generation}` : '';
    const sets = (data && data.descriptors) || [];
    if (!sets.length) box.append(h('p', { class: 'muted' }, 'No descriptor sets.'));
    for (const s of sets) box.append(setCard(s));
  }

  // versionSelect offers the versions held; a first option, if given, is
  // [value, label].
  function versionSelect(history, selected, first) {
    const sel = h('select');
    if (first) sel.append(h('option', { value: first[0] }, first[1]));
    for (const v of history) sel.append(h('option', { value: v }, 'v' + v));
    sel.value = String(selected);
    return sel;
  }

  function setCard(s) {
    const history = Array.isArray(s.history) ? s.history : [];
    const name = String(s.name);
    const path = `admin/descriptors/${encodeURIComponent(name)}`;
    const out = h('div', { class: 'out' });
    const fail = (what, e) => {
      if (e instanceof AuthError) askToken();
      else out.replaceChildren(h('p', { class: 'error' }, `${what}: ${e.message}`));
    };

    const dl = h('dl');
    const row = (k, v) => {
      if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) return;
      dl.append(h('dt', null, k), h('dd', null, Array.isArray(v) ? v.join(', ') : v));
    };
    row('Backend', s.backend);
    row('Source', s.source);
    row('Digest', s.digest);
    row('Loaded', s.loaded);
    row('Services', s.services);
    row('Without HTTP rules', s.methods_without_http_rules);
    const versions = h('dd');
    for (const v of history) versions.append(h('span', { class: v === s.version ? 'badge current' : 'badge' }, 'v' + v), ' ');
    dl.append(h('dt', null, 'Versions held'), versions);

    // Diff between two versions held. "previous" leaves from out, so the
    // endpoint takes the version before to (for the oldest: none, and
    // everything shows as added).
    const prev = history.length > 1 ? history[history.length - 2] : null;
    const from = versionSelect(history, '', ['', 'previous']);
    const to = versionSelect(history, s.version);
    const diffBtn = h('button', { type: 'button', class: 'diff' }, 'Diff');
    diffBtn.addEventListener('click', async () => {
      out.replaceChildren(h('p', { class: 'muted' }, 'Loading the diff…'));
      try {
        const q = new URLSearchParams({ to: to.value });
        if (from.value) q.set('from', from.value);
        out.replaceChildren(renderDiff(await api('GET', `${path}/diff?${q}`)));
      } catch (e) {
        if (notThere(e)) out.replaceChildren(h('p', { class: 'muted' }, 'This gateway cannot diff versions yet (no diff endpoint).'));
        else fail('Diff', e);
      }
    });

    // Rollback takes two clicks: the first arms the button for a few
    // seconds, so a stray click changes nothing. (No confirm(): a modal
    // dialog blocks the page.)
    const rbLabel = prev === null ? 'Roll back' : `Roll back to v${prev}`;
    const rb = h('button', { type: 'button', class: 'danger rollback' }, rbLabel);
    rb.disabled = prev === null;
    rb.title = prev === null ? 'No earlier version is held' : `Make v${prev} current again and drop v${s.version}`;
    let armed = null;
    rb.addEventListener('click', async () => {
      if (armed === null) {
        rb.textContent = `Confirm: roll ${name} back to v${prev}`;
        armed = setTimeout(() => { armed = null; rb.textContent = rbLabel; }, 5000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      rb.disabled = true;
      try {
        const res = await api('POST', `${path}/rollback`);
        await load(`Rolled ${name} back: v${res && res.version} is current`);
      } catch (e) {
        rb.disabled = false;
        rb.textContent = rbLabel;
        fail('Rollback', e);
      }
    });

    const details = h('button', { type: 'button', class: 'details' }, 'Details');
    details.addEventListener('click', async () => {
      try {
        out.replaceChildren(h('pre', null, pretty(await api('GET', path))));
      } catch (e) {
        fail('Details', e);
      }
    });

    return h('article', { class: 'set', 'data-set': name },
      h('h3', null, name, ' ', h('span', { class: 'badge current version' }, 'v' + s.version)),
      dl,
      h('div', { class: 'actions' }, h('span', null, 'from ', from, ' to ', to), diffBtn, rb, details),
      out);
  }

  // renderDiff shows the changes as a table, breaking ones marked; any
  // other shape is shown as JSON.
  function renderDiff(d) {
    const changes = Array.isArray(d) ? d : d && Array.isArray(d.changes) ? d.changes : null;
    if (!changes) return h('pre', null, pretty(d));
    const box = h('div');
    if (!Array.isArray(d)) {
      const breaking = changes.filter((c) => c.breaking).length;
      box.append(h('p', null, `v${d.from == null ? '–' : d.from} → v${d.to}: ${changes.length} change(s), `,
        h('span', { class: breaking ? 'bad' : 'good' }, `${breaking} breaking`)));
    }
    if (!changes.length) return box;
    const tbody = h('tbody');
    for (const c of changes) {
      tbody.append(h('tr', null, td(c.kind), h('td', null, c.breaking ? h('span', { class: 'bad' }, 'breaking') : ''),
        td(c.element), td(c.path, 'mono'), td(c.message)));
    }
    box.append(h('table', null,
      h('thead', null, h('tr', null, ...['Kind', '', 'Element', 'Path', 'Message'].map((t) => h('th', null, t)))), tbody));
    return box;
  }

  // --- backends ---

  function renderBackends(list) {
    const tbody = $('backends').tBodies[0];
    tbody.replaceChildren();
    const rows = Array.isArray(list) ? list : [];
    if (!rows.length) tbody.append(h('tr', null, h('td', { colspan: '9', class: 'muted' }, 'No backends.')));
    const stateClass = { closed: 'good', open: 'bad', 'half-open': 'warn' };
    for (const b of rows) {
      const br = b.breaker || {};
      const breaker = h('td', null, h('span', { class: stateClass[br.state] || '' }, br.state || ''));
      if (br.consecutive_failures) breaker.append(` (${br.consecutive_failures} failures)`);
      if (br.open_until) breaker.append(` until ${br.open_until}`);
      const endpoints = h('td', { class: 'mono' });
      for (const ep of b.endpoints || []) {
        // Out of rotation by its own health check, or ejected: red;
        // back on probation: amber.
        let cls = ep.healthy ? 'good' : 'bad';
        let note = ep.healthy ? '' : ' (unhealthy)';
        if (ep.state === 'ejected') { cls = 'bad'; note = ` (ejected until ${ep.ejected_until})`; }
        if (ep.state === 'probation') { cls = 'warn'; note = ' (probation)'; }
        if (endpoints.childNodes.length) endpoints.append(h('br'));
        endpoints.append(h('span', { class: cls, title: ep.detail || '' }, ep.address + note));
      }
      tbody.append(h('tr', null, td(b.name), td(b.protocol), endpoints,
        h('td', null, b.ready ? h('span', { class: 'bad' }, b.ready) : h('span', { class: 'good' }, 'ready')),
        breaker, td(b.in_flight), td(b.retrying), td(b.retry_budget), td(b.max_concurrent || '–')));
    }
  }

  // --- recent errors ---

  function renderErrors(data) {
    const tbody = $('errors').tBodies[0];
    tbody.replaceChildren();
    const list = (data && data.errors) || [];
    let note = '';
    if (data && data.recording === false) note = 'This gateway does not record failed requests.';
    else if (!list.length) note = 'No failed requests recorded.';
    $('errors-note').textContent = note;
    $('errors-note').hidden = !note;
    $('errors').hidden = !list.length;
    $('errors-count').textContent = list.length ? `${list.length}, newest first` : '';
    for (const e of list) {
      tbody.append(h('tr', null, td(e.time, 'mono'), td(e.method), td(e.path, 'mono'), td(e.status),
        td(e.route, 'mono'), td(e.backend), td(e.code ? `${e.code}: ${e.message || ''}` : e.message), td(e.request_id, 'mono')));
    }
  }

  // --- explain ---

  $('explain').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const out = $('explain-out');
    const headers = [];
    for (const line of $('explain-headers').value.split('\n')) {
      if (!line.trim()) continue;
      const i = line.indexOf(':');
      if (i <= 0) {
        out.replaceChildren(h('p', { class: 'error' }, `Not a "Name: value" header line: ${line}`));
        return;
      }
      headers.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
    }
    const req = {
      method: $('explain-method').value, url: $('explain-url').value.trim(),
      headers: Object.fromEntries(headers), body: $('explain-body').value,
    };
    out.replaceChildren(h('p', { class: 'muted' }, 'Explaining…'));
    try {
      const res = await api('POST', 'admin/explain', req);
      // One block per top-level field, pretty-printed: fields the endpoint
      // adds later show up with no change here.
      const fields = res && typeof res === 'object' && !Array.isArray(res) ? Object.entries(res) : [['answer', res]];
      out.replaceChildren(...fields.map(([k, v]) => h('div', { class: 'explain-field' }, h('h4', null, k), h('pre', null, pretty(v)))));
    } catch (e) {
      if (e instanceof AuthError) return askToken();
      const msg = notThere(e) ? 'This gateway cannot explain requests yet (no explain endpoint).' : `Explain: ${e.message}`;
      const parts = [h('p', { class: 'error' }, msg)];
      if (e.body && Array.isArray(e.body.details) && e.body.details.length) parts.push(h('pre', null, pretty(e.body.details)));
      out.replaceChildren(...parts);
    }
  });

  load();
})();
