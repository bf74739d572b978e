// podiam console: hand-written, no framework, no build step.
// Every page is a real AWS API call made through `api/call`, signed by the
// server as the signed-in principal. Server data only ever reaches the page
// through textContent / attributes: never innerHTML.
'use strict';

(function () {
  // ---------------------------------------------------------------- state

  const state = {
    me: null, // {arn, account, userId, expiresAt, csrfToken}
    cleanup: null, // the current page's teardown (closes an EventSource)
    expiryTimer: null,
  };

  // -------------------------------------------------------------- DOM utils

  const $ = (id) => document.getElementById(id);

  // h('div', {class: 'x', 'data-testid': 'y', text: '…'}, child, 'text', …)
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'text') el.textContent = String(v);
        else if (k === 'class') el.className = v;
        else if (k === 'for') el.htmlFor = v;
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'hidden' || k === 'disabled' || k === 'checked' || k === 'required' || k === 'open') el[k] = !!v;
        else if (k === 'value') el.value = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function replace(el, ...children) {
    clear(el);
    el.removeAttribute('aria-busy');
    return append(el, children);
  }

  function loading(text) {
    return h('p', {class: 'loading', role: 'status'}, text || 'Loading…');
  }

  function muted(text) {
    return h('p', {class: 'muted'}, text);
  }

  // Keys whose values are secrets: never rendered, whatever the server sent.
  const SECRET_KEY = /^(secretaccesskey|sessiontoken|token|webidentitytoken|samlassertion|password|tokencode|csrftoken)$/i;

  function redact(v) {
    if (Array.isArray(v)) return v.map(redact);
    if (v && typeof v === 'object') {
      const out = {};
      for (const [k, val] of Object.entries(v)) {
        out[k] = SECRET_KEY.test(k) ? '(hidden)' : redact(val);
      }
      return out;
    }
    return v;
  }

  function jsonBlock(obj, label) {
    return h('pre', {class: 'json', tabindex: '0', 'aria-label': label || 'JSON document'},
      JSON.stringify(redact(obj), null, 2));
  }

  // A policy document as IAM returns it (URL-encoded JSON) or plain JSON.
  function parsePolicy(doc) {
    if (doc === null || doc === undefined || doc === '') return null;
    if (typeof doc === 'object') return doc;
    let text = doc;
    if (/^\s*%7B/i.test(text) || !/^\s*[{[]/.test(text)) {
      try { text = decodeURIComponent(text.replace(/\+/g, '%20')); } catch (_) { /* keep */ }
    }
    try { return JSON.parse(text); } catch (_) { return text; }
  }

  function policyBlock(doc, label) {
    const p = parsePolicy(doc);
    if (p === null) return muted('(empty)');
    if (typeof p === 'string') return h('pre', {class: 'json', tabindex: '0'}, p);
    return jsonBlock(p, label);
  }

  const asList = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

  function fmtTime(iso) {
    if (!iso) return '';
    const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toLocaleString();
  }

  function timeEl(iso) {
    if (!iso) return document.createTextNode('');
    return h('time', {datetime: typeof iso === 'number' ? new Date(iso * 1000).toISOString() : iso, title: String(iso)}, fmtTime(iso));
  }

  // An IAM role ARN's name (the last path segment).
  function roleNameOf(arn) {
    const m = /^arn:[^:]+:iam::(\d*):role\/(?:.*\/)?([^/]+)$/.exec(arn || '');
    return m ? {account: m[1], name: m[2]} : null;
  }

  function roleLink(arn) {
    const r = roleNameOf(arn);
    if (r && state.me && (!r.account || r.account === state.me.account)) {
      return h('a', {href: '#/roles/' + encodeURIComponent(r.name), class: 'mono'}, arn);
    }
    return h('span', {class: 'mono'}, arn || '—');
  }

  function table(headers, rows, attrs) {
    return h('div', {class: 'table-wrap'},
      h('table', attrs || {},
        h('thead', null, h('tr', null, headers.map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', null, rows)));
  }

  function section(title, attrs, level) {
    const body = h('div', {class: 'section-body', 'aria-busy': 'true'}, loading());
    const sec = h('section', Object.assign({class: 'card'}, attrs || {}),
      h(level || 'h2', null, title), body);
    sec.body = body;
    return sec;
  }

  // Runs `fn(body)` and shows its failure in `body`: no unhandled promise.
  function load(body, fn) {
    return Promise.resolve()
      .then(() => fn(body))
      .catch((e) => replace(body, errorPanel(e)));
  }

  // ------------------------------------------------------------ XML helpers

  function parseXml(text) {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    if (doc.getElementsByTagName('parsererror').length) return null;
    return doc;
  }

  // Element children of `node` named `name` (namespace ignored).
  function kids(node, name) {
    if (!node) return [];
    return Array.from(node.children).filter((c) => c.localName === name);
  }

  // First descendant named `name`.
  function xq(node, name) {
    if (!node) return null;
    const all = node.getElementsByTagNameNS('*', name);
    return all.length ? all[0] : null;
  }

  // Text of the first descendant named `name`, or '' .
  function xt(node, name) {
    const e = xq(node, name);
    return e ? e.textContent : '';
  }

  // The <member> children of the first descendant list named `listName`.
  function members(node, listName) {
    return kids(xq(node, listName), 'member');
  }

  // -------------------------------------------------------------- API layer

  class ApiError extends Error {
    constructor(code, message, status, service) {
      super(message || code);
      this.code = code || 'Error';
      this.status = status || 0;
      this.service = service || '';
    }
  }

  function errorFrom(res, body, text, service) {
    let code = '';
    let message = '';
    if (body && typeof body === 'object' && typeof body.getElementsByTagName === 'function') {
      // IAM/STS: <ErrorResponse><Error><Code>; S3: <Error><Code>.
      const err = xq(body, 'Error') || body.documentElement;
      code = xt(err, 'Code');
      message = xt(err, 'Message');
    } else if (body && typeof body === 'object') {
      code = body.code || body.Code || body.__type || '';
      message = body.message || body.Message || '';
    }
    if (!code) code = res.headers.get('x-amzn-errortype') || '';
    code = String(code).split(':')[0];
    if (code.includes('#')) code = code.slice(code.lastIndexOf('#') + 1);
    if (!code) code = 'HTTP' + res.status;
    if (!message) message = (typeof text === 'string' && text && text.length < 500 ? text : res.statusText) || 'Request failed';
    return new ApiError(code, message, res.status, service);
  }

  async function parseResponse(res, service) {
    const ct = (res.headers.get('content-type') || '').toLowerCase();
    const text = await res.text();
    let body = text;
    const trimmed = text.trim();
    if (ct.includes('json') || (!ct.includes('xml') && /^[{[]/.test(trimmed))) {
      try { body = trimmed ? JSON.parse(trimmed) : null; } catch (_) { body = text; }
    } else if (ct.includes('xml') || trimmed.startsWith('<')) {
      body = parseXml(text) || text;
    }
    if (!res.ok) {
      const err = errorFrom(res, body, text, service);
      if (res.status === 401 && err.code === 'NotSignedIn') sessionLost(err.message);
      throw err;
    }
    return body;
  }

  async function request(path, opts) {
    const o = Object.assign({credentials: 'same-origin', cache: 'no-store'}, opts || {});
    o.headers = Object.assign({}, o.headers || {});
    if (o.method && o.method !== 'GET' && state.me && state.me.csrfToken) {
      o.headers['X-CSRF-Token'] = state.me.csrfToken;
    }
    let res;
    try {
      res = await fetch(path, o);
    } catch (e) {
      throw new ApiError('NetworkError', 'podiam could not be reached: ' + (e && e.message ? e.message : e), 0);
    }
    return parseResponse(res, o.service);
  }

  // One AWS API call, signed by the console as the signed-in principal.
  function call(spec) {
    return request('api/call', {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(spec),
      service: spec.service,
    });
  }

  const iam = (action, params) => call({service: 'iam', action, params: params || {}});
  const eks = (path, query) => call(Object.assign({service: 'eks', method: 'GET', path}, query ? {query} : {}));

  // EKS list calls with nextToken, collecting `listName`.
  async function eksAll(path, listName) {
    const out = [];
    let token = null;
    for (let i = 0; i < 100; i++) {
      const r = (await eks(path, token ? 'nextToken=' + encodeURIComponent(token) : null)) || {};
      out.push(...(r[listName] || []));
      token = r.nextToken;
      if (!token) break;
    }
    return out;
  }
  const podiamGet = (path) => call({service: 'podiam', method: 'GET', path});
  const podiamPost = (path, body) => call({service: 'podiam', method: 'POST', path, body});
  const s3 = (path, query) => call(Object.assign({service: 's3', method: 'GET', path}, query ? {query} : {}));
  const ddb = (target, body) => call({service: 'dynamodb', target, body: body || {}});

  // IAM list calls with Marker/IsTruncated, collecting `member`s of `listName`.
  async function iamAll(action, params, listName) {
    const out = [];
    let marker = null;
    for (let i = 0; i < 100; i++) {
      const p = Object.assign({}, params || {});
      if (marker) p.Marker = marker;
      const doc = await iam(action, p);
      out.push(...members(doc, listName));
      if (xt(doc, 'IsTruncated') !== 'true') break;
      marker = xt(doc, 'Marker');
      if (!marker) break;
    }
    return out;
  }

  const isDenied = (e) => e && /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|Forbidden)$/.test(e.code || '');

  function errorPanel(e) {
    if (!(e instanceof ApiError)) {
      e = new ApiError(e && e.name ? e.name : 'Error', e && e.message ? e.message : String(e));
    }
    if (isDenied(e)) {
      const who = state.me ? state.me.arn : 'this principal';
      return h('div', {class: 'panel panel-denied', role: 'alert', 'data-testid': 'error', 'data-code': e.code},
        h('p', {class: 'panel-title'}, 'IAM does not let ', h('span', {class: 'mono'}, who), ' read this: ',
          h('span', {class: 'panel-message'}, e.message)),
        h('p', {class: 'panel-code'}, h('span', {class: 'code'}, e.code)));
    }
    return h('div', {class: 'panel panel-error', role: 'alert', 'data-testid': 'error', 'data-code': e.code},
      h('p', {class: 'panel-title'}, h('span', {class: 'code'}, e.code), ' ', h('span', {class: 'panel-message'}, e.message)),
      e.status ? h('p', {class: 'panel-code'}, 'HTTP ' + e.status) : null);
  }

  // ------------------------------------------------------------ session

  function showSignin(notice) {
    closePage();
    state.me = null;
    clearTimeout(state.expiryTimer);
    $('topbar').hidden = true;
    $('view').hidden = true;
    clear($('view'));
    $('whoami').textContent = '';
    $('signin').hidden = false;
    const n = $('signin-notice');
    n.textContent = notice || '';
    n.hidden = !notice;
    $('signin-submit').disabled = false;
    $('access-key-id').focus();
  }

  function sessionLost(message) {
    if (!state.me) return;
    showSignin(message || 'Your console session ended: sign in again.');
  }

  function signedIn(me) {
    state.me = me;
    $('signin').hidden = true;
    $('signin-error').textContent = '';
    $('topbar').hidden = false;
    $('view').hidden = false;
    $('whoami').textContent = me.arn;
    $('whoami').title = 'Account ' + me.account + (me.userId ? ' · user id ' + me.userId : '');
    const exp = $('session-expires');
    clearTimeout(state.expiryTimer);
    if (me.expiresAt) {
      const at = new Date(me.expiresAt * 1000);
      exp.textContent = 'until ' + at.toLocaleTimeString();
      exp.title = 'The console session expires at ' + at.toISOString();
      const ms = me.expiresAt * 1000 - Date.now();
      if (ms > 0 && ms < 2 ** 31) {
        state.expiryTimer = setTimeout(() => sessionLost('Your console session expired: sign in again.'), ms + 500);
      }
    } else {
      exp.textContent = '';
    }
    route();
  }

  async function onSignin(ev) {
    ev.preventDefault();
    const akid = $('access-key-id');
    const secret = $('secret-access-key');
    const token = $('session-token');
    const err = $('signin-error');
    const submit = $('signin-submit');
    const body = {accessKeyId: akid.value.trim(), secretAccessKey: secret.value};
    if (token.value.trim()) body.sessionToken = token.value.trim();
    // The secrets leave the form now, whatever happens next.
    secret.value = '';
    token.value = '';
    err.textContent = '';
    if (!body.accessKeyId || !body.secretAccessKey) {
      err.textContent = 'Enter an access key ID and its secret access key.';
      (body.accessKeyId ? secret : akid).focus();
      return;
    }
    submit.disabled = true;
    try {
      const me = await request('api/signin', {
        method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(body),
      });
      body.secretAccessKey = '';
      body.sessionToken = '';
      signedIn(me);
    } catch (e) {
      err.textContent = (e.code ? e.code + ': ' : '') + (e.message || 'Sign-in failed');
      secret.focus();
    } finally {
      submit.disabled = false;
    }
  }

  async function onSignout() {
    const btn = $('signout');
    btn.disabled = true;
    try {
      await request('api/signout', {method: 'POST'});
    } catch (_) {
      // Signed out either way on this page.
    } finally {
      btn.disabled = false;
    }
    showSignin('You signed out.');
  }

  async function boot() {
    $('signin-form').addEventListener('submit', onSignin);
    $('signout').addEventListener('click', onSignout);
    window.addEventListener('hashchange', () => { if (state.me) route(); });
    try {
      const me = await request('api/me');
      signedIn(me);
    } catch (e) {
      showSignin(e.code === 'NotSignedIn' || e.status === 401 ? '' : e.code + ': ' + e.message);
    }
  }

  // ------------------------------------------------------------- routing

  function closePage() {
    if (state.cleanup) {
      try { state.cleanup(); } catch (_) { /* ignore */ }
      state.cleanup = null;
    }
  }

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [path, qs] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map((p) => {
      try { return decodeURIComponent(p); } catch (_) { return p; }
    });
    return {parts, query: new URLSearchParams(qs || '')};
  }

  const PAGES = {
    clusters: pageClusters,
    roles: pageRoles,
    associations: pageAssociations,
    buckets: pageBuckets,
    tables: pageTables,
    decisions: pageDecisions,
    whatif: pageWhatIf,
  };

  function route() {
    closePage();
    const {parts, query} = parseHash();
    let name = parts[0] || 'clusters';
    if (!PAGES[name]) name = 'notfound';
    for (const a of document.querySelectorAll('#nav a[data-route]')) {
      if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const view = clear($('view'));
    const page = h('div', {class: 'page', 'data-page': name});
    view.appendChild(page);
    if (name === 'notfound') {
      append(page, [h('h1', null, 'Not found'), errorPanel(new ApiError('NotFound', 'No console page ' + location.hash))]);
      return;
    }
    try {
      PAGES[name](page, parts.slice(1), query);
    } catch (e) {
      page.appendChild(errorPanel(e));
    }
  }

  // ------------------------------------------------------------ clusters

  function pageClusters(page, args) {
    const only = args[0];
    append(page, [h('h1', null, only ? 'Cluster ' + only : 'Clusters')]);
    const list = h('div', {class: 'stack', 'data-testid': 'clusters'}, loading());
    page.appendChild(list);
    load(list, async () => {
      let names;
      if (only) {
        names = [only];
      } else {
        names = await eksAll('/clusters', 'clusters');
      }
      if (!names.length) {
        replace(list, muted('No clusters. Create one with `podiam cluster create NAME`.'));
        return;
      }
      replace(list, names.map(clusterCard));
    });
  }

  function clusterCard(name) {
    const card = h('section', {class: 'card', 'data-testid': 'cluster', 'data-cluster': name, 'aria-label': 'Cluster ' + name});
    card.appendChild(h('h2', null, h('a', {href: '#/clusters/' + encodeURIComponent(name)}, name)));
    const info = h('div', {class: 'section-body'}, loading());
    card.appendChild(info);
    const disc = section('Discovery document', {class: 'sub', 'data-testid': 'discovery'}, 'h3');
    const keys = section('Signing keys', {class: 'sub', 'data-testid': 'keys'}, 'h3');
    const sas = section('Service accounts', {class: 'sub', 'data-testid': 'service-accounts'}, 'h3');
    append(card, [disc, keys, sas]);

    load(info, async () => {
      const r = await eks('/clusters/' + encodeURIComponent(name));
      const c = (r && r.cluster) || {};
      const issuer = c.identity && c.identity.oidc && c.identity.oidc.issuer;
      replace(info, h('dl', {class: 'kv'},
        kv('ARN', h('span', {class: 'mono'}, c.arn || '')),
        kv('Status', c.status ? h('span', {class: 'badge badge-' + String(c.status).toLowerCase()}, c.status) : '—'),
        kv('Kubernetes version', c.version || '—'),
        kv('Created', timeEl(c.createdAt)),
        kv('Issuer URL', issuer ? h('span', {class: 'mono', 'data-testid': 'issuer'}, issuer) : '—'),
        h('div', null, h('dt', null, 'Pod Identity'), h('dd', null, h('a', {href: '#/associations/' + encodeURIComponent(name)}, 'associations of this cluster')))));
      load(disc.body, () => discovery(disc.body, issuer));
    }).then(() => {
      // The discovery section waits for the issuer; if DescribeCluster failed, say so there.
      if (disc.body.getAttribute('aria-busy')) replace(disc.body, muted('Unknown: the cluster could not be described.'));
    });

    load(keys.body, async () => {
      const r = await podiamGet('/_podiam/clusters/' + encodeURIComponent(name) + '/keys');
      const ks = (r && r.keys) || [];
      if (!ks.length) {
        replace(keys.body, muted(r && r.issuer ? 'No keys: this cluster\'s issuer is external (its JWKS is the cluster\'s own).' : 'No keys.'));
        return;
      }
      replace(keys.body, table(['Key ID', 'Algorithm', 'State', 'Created', 'Signs from', 'Last token expires'],
        ks.map((k) => h('tr', {'data-testid': 'key', 'data-kid': k.kid},
          h('td', {class: 'mono'}, k.kid),
          h('td', null, k.algorithm),
          h('td', null, h('span', {class: 'badge key-' + k.state, 'data-testid': 'key-state'}, k.state)),
          h('td', null, timeEl(k.createdAt)),
          h('td', null, timeEl(k.signsFrom)),
          h('td', null, k.lastTokenExpires ? (/^\d{4}-/.test(k.lastTokenExpires) ? timeEl(k.lastTokenExpires) : k.lastTokenExpires) : '—',
            k.publishedUntil ? h('span', {class: 'muted'}, ' (published until ', timeEl(k.publishedUntil), ')') : null)))));
    });

    load(sas.body, async () => {
      const r = await podiamGet('/_podiam/clusters/' + encodeURIComponent(name) + '/serviceaccounts');
      const items = (r && r.items) || [];
      if (!items.length) {
        replace(sas.body, muted('No service accounts registered.'));
        return;
      }
      items.sort((a, b) => (a.metadata.namespace + '/' + a.metadata.name).localeCompare(b.metadata.namespace + '/' + b.metadata.name));
      replace(sas.body, table(['Namespace', 'Name', 'eks.amazonaws.com/role-arn'],
        items.map((sa) => {
          const md = sa.metadata || {};
          const ann = (md.annotations || {})['eks.amazonaws.com/role-arn'];
          return h('tr', {'data-testid': 'service-account'},
            h('td', null, md.namespace),
            h('td', null, md.name),
            h('td', null, ann ? roleLink(ann) : h('span', {class: 'muted'}, 'none')));
        })));
    });
    return card;
  }

  function kv(k, ...v) {
    return h('div', null, h('dt', null, k), h('dd', null, v));
  }

  async function discovery(body, issuer) {
    if (!issuer) {
      replace(body, muted('The cluster has no OIDC issuer.'));
      return;
    }
    const url = issuer.replace(/\/+$/, '') + '/.well-known/openid-configuration';
    let origin = '';
    try { origin = new URL(url, location.href).origin; } catch (_) { /* bad url */ }
    const link = h('a', {href: url, rel: 'noopener noreferrer', target: '_blank', class: 'mono'}, url);
    if (origin !== location.origin) {
      replace(body, h('p', null, link),
        muted('The issuer is on another origin than this console, which may only fetch its own origin: open the link to read the document.'));
      return;
    }
    let res;
    try {
      res = await fetch(url, {credentials: 'omit', cache: 'no-store'});
    } catch (e) {
      throw new ApiError('NetworkError', 'The discovery document could not be fetched: ' + e.message);
    }
    const doc = await parseResponse(res, 'oidc');
    replace(body, h('p', null, link), typeof doc === 'object' && doc ? jsonBlock(doc, 'Discovery document') : h('pre', {class: 'json'}, String(doc)));
  }

  // --------------------------------------------------------------- roles

  function pageRoles(page, args) {
    if (args[0]) return pageRole(page, args[0]);
    append(page, [h('h1', null, 'Roles')]);
    const filter = h('input', {type: 'search', id: 'roles-filter', placeholder: 'Filter by name or ARN'});
    const body = h('div', {class: 'section-body'}, loading());
    page.appendChild(h('section', {class: 'card', 'data-testid': 'roles'},
      h('div', {class: 'toolbar'}, h('label', {for: 'roles-filter'}, 'Filter'), filter), body));
    load(body, async () => {
      const roles = await iamAll('ListRoles', {}, 'Roles');
      if (!roles.length) {
        replace(body, muted('No roles.'));
        return;
      }
      const rows = roles.map((r) => {
        const name = xt(r, 'RoleName');
        const arn = xt(r, 'Arn');
        const tr = h('tr', {'data-testid': 'role-row', 'data-role': name},
          h('td', null, h('a', {href: '#/roles/' + encodeURIComponent(name)}, name)),
          h('td', {class: 'mono'}, arn),
          h('td', null, xt(r, 'Description') || h('span', {class: 'muted'}, '—')),
          h('td', null, timeEl(xt(r, 'CreateDate'))));
        tr.search = (name + ' ' + arn).toLowerCase();
        return tr;
      });
      replace(body, table(['Name', 'ARN', 'Description', 'Created'], rows),
        h('p', {class: 'muted count'}, roles.length + (roles.length === 1 ? ' role' : ' roles')));
      filter.addEventListener('input', () => {
        const q = filter.value.trim().toLowerCase();
        for (const tr of rows) tr.hidden = !!q && !tr.search.includes(q);
      });
    });
  }

  function pageRole(page, name) {
    const wrap = h('div', {'data-testid': 'role-page', 'data-role': name});
    page.appendChild(wrap);
    wrap.appendChild(h('p', {class: 'crumbs'}, h('a', {href: '#/roles'}, 'Roles'), ' / '));
    wrap.appendChild(h('h1', null, name));

    const summary = h('section', {class: 'card', 'aria-label': 'Summary'}, h('div', {class: 'section-body', 'aria-busy': 'true'}, loading()));
    const summaryBody = summary.firstChild;
    const trust = section('Trust policy', {'data-testid': 'trust-policy'});
    const who = section('Who can assume this role', {'data-testid': 'who-can-assume'});
    const near = section('Near misses', {'data-testid': 'near-misses'});
    const attached = section('Attached managed policies', {'data-testid': 'attached-policies'});
    const inline = section('Inline policies', {'data-testid': 'inline-policies'});
    const boundary = section('Permissions boundary', {'data-testid': 'permissions-boundary'});
    const revoke = revokeSection(name, () => loadInline(inline.body, name));
    append(wrap, [summary, trust, who, near, attached, inline, boundary, revoke]);

    const fallbackArn = state.me ? 'arn:aws:iam::' + state.me.account + ':role/' + name : '';
    const got = iam('GetRole', {RoleName: name}).then((doc) => xq(doc, 'Role'));

    load(summaryBody, async () => {
      const r = await got;
      const arn = xt(r, 'Arn');
      replace(summaryBody, h('dl', {class: 'kv'},
        kv('ARN', h('span', {class: 'mono', 'data-testid': 'role-arn'}, arn)),
        kv('Role ID', h('span', {class: 'mono'}, xt(r, 'RoleId'))),
        kv('Path', xt(r, 'Path') || '/'),
        kv('Created', timeEl(xt(r, 'CreateDate'))),
        kv('Max session duration', (xt(r, 'MaxSessionDuration') || '3600') + ' s'),
        xt(r, 'Description') ? kv('Description', xt(r, 'Description')) : null,
        kv('Last used', xt(r, 'LastUsedDate') ? timeEl(xt(r, 'LastUsedDate')) : 'never (or not tracked)'),
        kv('What if', h('a', {href: '#/whatif?kind=role&role=' + encodeURIComponent(arn)}, 'Decide a request as a session of this role'))));
    });

    load(trust.body, async () => {
      const r = await got;
      replace(trust.body, trustView(parsePolicy(xt(r, 'AssumeRolePolicyDocument'))));
    });

    load(boundary.body, async () => {
      const r = await got;
      const pb = xq(r, 'PermissionsBoundary');
      const arn = pb ? xt(pb, 'PermissionsBoundaryArn') : '';
      if (!arn) {
        replace(boundary.body, muted('No permissions boundary: the identity policies alone limit this role.'));
        return;
      }
      replace(boundary.body, h('p', null, h('span', {class: 'mono', 'data-testid': 'boundary-arn'}, arn)), managedDocDetails(arn));
    });

    // Who can assume: needs the ARN (GetRole's, or the account's default path).
    const whoDone = got.then((r) => xt(r, 'Arn'), () => fallbackArn).then((arn) =>
      podiamPost('/_podiam/explain/who-can-assume', {roleArn: arn}));
    load(who.body, async () => {
      const r = await whoDone;
      const rows = [];
      for (const w of r.webIdentity || []) if (w.allowed) rows.push(assumerRow('irsa', w));
      for (const p of r.podIdentity || []) if (p.allowed) rows.push(assumerRow('pod', p));
      replace(who.body,
        rows.length ? h('ul', {class: 'rows', 'aria-label': 'Principals that can assume the role'}, rows)
          : muted('No service account or Pod Identity association podiam knows can assume this role.'),
        (r.notes || []).length ? h('ul', {class: 'notes'}, r.notes.map((n) => h('li', null, n))) : null);
    });
    load(near.body, async () => {
      let r;
      try {
        r = await whoDone;
      } catch (e) {
        replace(near.body, muted('Unknown: see "Who can assume this role".'));
        return;
      }
      const rows = [];
      for (const w of r.webIdentity || []) if (!w.allowed) rows.push(nearMissRow('irsa', w));
      for (const p of r.podIdentity || []) if (!p.allowed) rows.push(nearMissRow('pod', p));
      replace(near.body, rows.length
        ? [muted('Named by the trust policy, annotated with the role, or associated with it, but refused:'), h('ul', {class: 'rows'}, rows)]
        : muted('None.'));
    });

    load(attached.body, async () => {
      const pols = await iamAll('ListAttachedRolePolicies', {RoleName: name}, 'AttachedPolicies');
      if (!pols.length) {
        replace(attached.body, muted('No managed policies attached.'));
        return;
      }
      replace(attached.body, h('ul', {class: 'policies'}, pols.map((p) => {
        const arn = xt(p, 'PolicyArn');
        return h('li', {'data-testid': 'attached-policy'},
          h('strong', null, xt(p, 'PolicyName')), ' ', h('span', {class: 'mono muted'}, arn), managedDocDetails(arn));
      })));
    });

    loadInline(inline.body, name);
  }

  function loadInline(body, name) {
    return load(body, async () => {
      const names = await iamAll('ListRolePolicies', {RoleName: name}, 'PolicyNames');
      if (!names.length) {
        replace(body, muted('No inline policies.'));
        return;
      }
      replace(body, h('ul', {class: 'policies'}, names.map((m) => {
        const pname = m.textContent;
        const doc = h('div', {class: 'section-body'}, loading());
        load(doc, async () => {
          const r = await iam('GetRolePolicy', {RoleName: name, PolicyName: pname});
          replace(doc, policyBlock(xt(r, 'PolicyDocument'), 'Inline policy ' + pname));
        });
        return h('li', {'data-testid': 'inline-policy', 'data-policy': pname},
          h('strong', null, pname),
          pname === 'AWSRevokeOlderSessions' ? h('span', {class: 'badge badge-warn'}, 'revokes older sessions') : null,
          doc);
      })));
    });
  }

  // A managed policy's default version, fetched when opened.
  function managedDocDetails(arn) {
    const body = h('div', {class: 'section-body'}, loading());
    const d = h('details', {class: 'doc'}, h('summary', null, 'Policy document'), body);
    let started = false;
    d.addEventListener('toggle', () => {
      if (!d.open || started) return;
      started = true;
      load(body, async () => {
        const p = await iam('GetPolicy', {PolicyArn: arn});
        const v = xt(p, 'DefaultVersionId');
        const pv = await iam('GetPolicyVersion', {PolicyArn: arn, VersionId: v});
        replace(body, h('p', {class: 'muted'}, 'Default version ' + v), policyBlock(xt(pv, 'Document'), 'Policy ' + arn));
      });
    });
    return d;
  }

  function principalText(p) {
    if (p === '*') return '* (anyone)';
    if (!p || typeof p !== 'object') return String(p || '—');
    const out = [];
    for (const [k, v] of Object.entries(p)) out.push(k + ': ' + asList(v).join(', '));
    return out.join('; ');
  }

  // One readable rule per condition: "KEY OPERATOR v1, v2".
  function conditionRules(cond) {
    const out = [];
    for (const [op, block] of Object.entries(cond || {})) {
      if (block && typeof block === 'object' && !Array.isArray(block)) {
        for (const [key, vals] of Object.entries(block)) {
          out.push({key, op, values: asList(vals).map(String)});
        }
      } else {
        out.push({key: '', op, values: asList(block).map(String)});
      }
    }
    return out;
  }

  function trustView(doc) {
    if (!doc || typeof doc !== 'object') {
      return [muted('The trust policy could not be read as JSON.'), typeof doc === 'string' ? h('pre', {class: 'json'}, doc) : null];
    }
    const stmts = asList(doc.Statement);
    const items = stmts.map((s, i) => {
      const rules = conditionRules(s.Condition);
      const effect = s.Effect || '?';
      return h('li', {class: 'statement', 'data-testid': 'trust-statement'},
        h('p', {class: 'statement-head'},
          h('span', {class: 'badge ' + (effect === 'Deny' ? 'badge-deny' : 'badge-allow')}, effect),
          ' ', h('span', {class: 'muted'}, '#' + (i + 1) + (s.Sid ? ' ' + s.Sid : ''))),
        h('dl', {class: 'kv compact'},
          s.Principal !== undefined ? kv('Principal', h('span', {class: 'mono'}, principalText(s.Principal))) : null,
          s.NotPrincipal !== undefined ? kv('NotPrincipal', h('span', {class: 'mono'}, principalText(s.NotPrincipal))) : null,
          s.Action !== undefined ? kv('Action', h('span', {class: 'mono'}, asList(s.Action).join(', '))) : null,
          s.NotAction !== undefined ? kv('NotAction', h('span', {class: 'mono'}, asList(s.NotAction).join(', '))) : null),
        rules.length
          ? h('div', null, h('p', {class: 'label'}, 'Conditions (all must hold)'),
            h('ul', {class: 'conditions', 'data-testid': 'trust-conditions'},
              rules.map((r) => h('li', {'data-key': r.key, 'data-operator': r.op},
                h('span', {class: 'mono cond-key'}, r.key), ' ',
                h('span', {class: 'cond-op'}, r.op), ' ',
                h('span', {class: 'mono cond-val'}, r.values.join(', '))))))
          : h('p', {class: 'muted'}, 'No conditions.'));
    });
    return [h('ol', {class: 'statements'}, items),
      h('details', {class: 'doc'}, h('summary', null, 'JSON'), jsonBlock(doc, 'Trust policy'))];
  }

  function subjectOf(row) {
    return 'system:serviceaccount:' + row.namespace + ':' + row.serviceAccount;
  }

  function assumerRow(kind, r) {
    return h('li', {class: 'row row-ok', 'data-testid': 'assumer', 'data-kind': kind === 'irsa' ? 'irsa' : 'pod-identity',
      'data-cluster': r.cluster, 'data-namespace': r.namespace, 'data-service-account': r.serviceAccount},
      h('p', {class: 'row-head'},
        h('span', {class: 'badge badge-allow'}, kind === 'irsa' ? 'IRSA' : 'Pod Identity'), ' ',
        h('span', {class: 'mono'}, r.namespace + '/' + r.serviceAccount), ' ',
        h('span', {class: 'muted'}, 'in cluster ' + r.cluster), ' ',
        kind === 'irsa' && r.annotated ? h('span', {class: 'badge badge-info'}, 'annotated') : null,
        kind === 'irsa' && !r.annotated ? h('span', {class: 'badge badge-muted', title: 'The service account is not annotated with this role: pods use it only if they name it'}, 'not annotated') : null,
        kind === 'irsa' && r.known === false ? h('span', {class: 'badge badge-muted'}, 'not registered') : null,
        kind === 'pod' ? h('span', {class: 'muted mono'}, 'association ' + r.associationId) : null),
      r.summary ? h('p', {class: 'row-detail'}, r.summary) : null);
  }

  function mismatchText(m) {
    if (m.deny) return 'statement ' + m.statement + ': an explicit Deny applies';
    const exp = asList(m.expected).join(', ');
    const got = m.actual === null || m.actual === undefined ? 'missing' : asList(m.actual).join(', ') || '(empty)';
    return m.key + ' ' + m.operator + ' expected ' + exp + ', got ' + got;
  }

  function nearMissRow(kind, r) {
    const ms = r.mismatches || [];
    return h('li', {class: 'row row-bad', 'data-testid': 'near-miss', 'data-kind': kind === 'irsa' ? 'irsa' : 'pod-identity',
      'data-cluster': r.cluster, 'data-namespace': r.namespace, 'data-service-account': r.serviceAccount},
      h('p', {class: 'row-head'},
        h('span', {class: 'badge badge-deny'}, kind === 'irsa' ? 'IRSA' : 'Pod Identity'), ' ',
        h('span', {class: 'mono'}, r.namespace + '/' + r.serviceAccount), ' ',
        h('span', {class: 'muted'}, 'in cluster ' + r.cluster), ' ',
        kind === 'irsa' && r.annotated ? h('span', {class: 'badge badge-info'}, 'annotated') : null,
        kind === 'pod' ? h('span', {class: 'muted mono'}, 'association ' + r.associationId) : null,
        r.refusedAction ? h('span', {class: 'muted'}, ' (refused ' + r.refusedAction + ')') : null),
      r.summary ? h('p', {class: 'row-detail'}, r.summary) : null,
      ms.length ? h('ul', {class: 'mismatches'}, ms.map((m) => h('li', {'data-testid': 'mismatch'},
        m.statement && !m.deny ? h('span', {class: 'muted'}, m.statement + ': ') : null,
        h('span', {class: 'mono'}, mismatchText(m))))) : null);
  }

  function revokeSection(name, after) {
    const status = h('div', {class: 'section-body', 'aria-live': 'polite'});
    const btn = h('button', {type: 'button', id: 'revoke-sessions', class: 'btn btn-danger'}, 'Revoke active sessions');
    btn.addEventListener('click', async () => {
      const ok = window.confirm('Revoke every session of role ' + name + ' issued until now? ' +
        'This adds the inline policy AWSRevokeOlderSessions, which denies every action to those sessions. ' +
        'Pods get new credentials when they next refresh.');
      if (!ok) return;
      // Whole seconds, rounded up: a session issued in this very second is older than the click too.
      const t = new Date(Math.ceil(Date.now() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const doc = {
        Version: '2012-10-17',
        Statement: [{Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: {DateLessThan: {'aws:TokenIssueTime': t}}}],
      };
      btn.disabled = true;
      replace(status, loading('Revoking…'));
      try {
        await iam('PutRolePolicy', {RoleName: name, PolicyName: 'AWSRevokeOlderSessions', PolicyDocument: JSON.stringify(doc)});
        replace(status, h('p', {class: 'panel panel-ok', 'data-testid': 'revoke-result', role: 'status'},
          'Sessions of ' + name + ' issued before ' + t + ' are now denied (inline policy AWSRevokeOlderSessions).'));
        after();
      } catch (e) {
        replace(status, errorPanel(e));
      } finally {
        btn.disabled = false;
      }
    });
    return h('section', {class: 'card', 'aria-labelledby': 'revoke-title'},
      h('h2', {id: 'revoke-title'}, 'Revoke sessions'),
      h('p', {class: 'muted'}, 'Denies every request made with credentials of this role issued before now, as AWS\'s console does. New sessions are not affected.'),
      btn, status);
  }

  // -------------------------------------------------------- associations

  function pageAssociations(page, args) {
    const only = args[0];
    append(page, [h('h1', null, 'Pod Identity associations' + (only ? ' of ' + only : ''))]);
    const list = h('div', {class: 'stack', 'data-testid': 'associations'}, loading());
    page.appendChild(list);
    load(list, async () => {
      const names = only ? [only] : await eksAll('/clusters', 'clusters');
      if (!names.length) {
        replace(list, muted('No clusters.'));
        return;
      }
      replace(list, names.map((name) => {
        const sec = section('Cluster ' + name, {'data-cluster': name});
        load(sec.body, async () => {
          const base = '/clusters/' + encodeURIComponent(name) + '/pod-identity-associations';
          const assocs = await eksAll(base, 'associations');
          if (!assocs.length) {
            replace(sec.body, muted('No associations.'));
            return;
          }
          replace(sec.body, table(['Namespace', 'Service account', 'Role ARN', 'Association ID'],
            assocs.map((x) => {
              const roleCell = h('td', null, x.roleArn ? roleLink(x.roleArn) : h('span', {class: 'muted'}, '…'));
              if (!x.roleArn) {
                load(roleCell, async () => {
                  const d = await eks(base + '/' + encodeURIComponent(x.associationId));
                  const arn = d && d.association && d.association.roleArn;
                  replace(roleCell, arn ? roleLink(arn) : '—');
                });
              }
              return h('tr', {'data-testid': 'association', 'data-association-id': x.associationId},
                h('td', null, x.namespace),
                h('td', null, x.serviceAccount),
                roleCell,
                h('td', {class: 'mono'}, x.associationId));
            })));
        });
        return sec;
      }));
    });
  }

  // --------------------------------------------------------------- buckets

  function pageBuckets(page) {
    append(page, [h('h1', null, 'S3 buckets')]);
    const list = h('div', {class: 'stack', 'data-testid': 'buckets'}, loading());
    page.appendChild(list);
    load(list, async () => {
      const doc = await s3('/');
      const buckets = kids(xq(doc, 'Buckets'), 'Bucket');
      if (!buckets.length) {
        replace(list, muted('No buckets.'));
        return;
      }
      replace(list, buckets.map((b) => {
        const name = xt(b, 'Name');
        const sec = h('section', {class: 'card', 'data-testid': 'bucket', 'data-bucket': name},
          h('h2', null, name),
          h('p', {class: 'muted'}, 'Created ', timeEl(xt(b, 'CreationDate')), xt(b, 'BucketRegion') ? ' · ' + xt(b, 'BucketRegion') : ''));
        const pol = h('div', {class: 'section-body', 'data-testid': 'bucket-policy'}, loading());
        append(sec, [h('h3', null, 'Bucket policy'), pol]);
        load(pol, async () => {
          try {
            const p = await s3('/' + encodeURIComponent(name), 'policy');
            replace(pol, policyBlock(p, 'Bucket policy of ' + name));
          } catch (e) {
            if (e.code === 'NoSuchBucketPolicy') replace(pol, muted('No bucket policy.'));
            else throw e;
          }
        });
        return sec;
      }));
    });
  }

  // ---------------------------------------------------------------- tables

  function pageTables(page) {
    append(page, [h('h1', null, 'DynamoDB tables')]);
    const list = h('div', {class: 'stack', 'data-testid': 'tables'}, loading());
    page.appendChild(list);
    load(list, async () => {
      const names = [];
      let start = null;
      for (let i = 0; i < 100; i++) {
        const r = await ddb('ListTables', start ? {ExclusiveStartTableName: start} : {});
        names.push(...((r && r.TableNames) || []));
        start = r && r.LastEvaluatedTableName;
        if (!start) break;
      }
      if (!names.length) {
        replace(list, muted('No tables.'));
        return;
      }
      replace(list, names.map((name) => {
        const info = h('div', {class: 'section-body'}, loading());
        const pol = h('div', {class: 'section-body', 'data-testid': 'table-policy'}, loading());
        const sec = h('section', {class: 'card', 'data-testid': 'table', 'data-table': name},
          h('h2', null, name), info, h('h3', null, 'Resource policy'), pol);
        const described = ddb('DescribeTable', {TableName: name}).then((r) => (r && r.Table) || {});
        load(info, async () => {
          const t = await described;
          const keys = (t.KeySchema || []).map((k) => k.AttributeName + ' (' + (k.KeyType === 'HASH' ? 'partition' : 'sort') + ')').join(', ');
          replace(info, h('dl', {class: 'kv'},
            kv('ARN', h('span', {class: 'mono'}, t.TableArn || '')),
            kv('Status', t.TableStatus || '—'),
            kv('Key', keys || '—'),
            kv('Items', t.ItemCount === undefined ? '—' : String(t.ItemCount)),
            (t.GlobalSecondaryIndexes || []).length ? kv('Global indexes', t.GlobalSecondaryIndexes.map((g) => g.IndexName).join(', ')) : null));
        });
        load(pol, async () => {
          let t;
          try {
            t = await described;
          } catch (e) {
            replace(pol, muted('Unknown: the table could not be described.'));
            return;
          }
          try {
            const p = await ddb('GetResourcePolicy', {ResourceArn: t.TableArn});
            replace(pol, policyBlock(p.Policy, 'Resource policy of ' + name));
          } catch (e) {
            if (e.code === 'PolicyNotFoundException') replace(pol, muted('No resource policy.'));
            else throw e;
          }
        });
        return sec;
      }));
    });
  }

  // ------------------------------------------------------------- decisions

  const SERVICES = ['sts.amazonaws.com', 'iam.amazonaws.com', 'eks.amazonaws.com', 'eks-auth.amazonaws.com',
    's3.amazonaws.com', 'dynamodb.amazonaws.com', 'podiam', 'signin.amazonaws.com'];
  const MAX_EVENTS = 2000;

  function eventDenied(e) {
    if (e.decision && e.decision.allowed === false) return true;
    return !!e.errorCode;
  }

  function eventPrincipal(e) {
    const u = e.userIdentity || {};
    return u.arn || u.userName || (u.sessionContext && u.sessionContext.sessionIssuer && u.sessionContext.sessionIssuer.arn) ||
      u.invokedBy || '';
  }

  function pageDecisions(page) {
    const wrap = h('div', {'data-testid': 'decisions'});
    page.appendChild(wrap);
    wrap.appendChild(h('h1', null, 'Decisions'));
    wrap.appendChild(h('p', {class: 'muted'}, 'Every API call podiam answers, live, newest first. Select a denied call to see why.'));

    const denied = h('input', {type: 'checkbox', id: 'filter-denied'});
    const principal = h('input', {type: 'search', id: 'filter-principal', placeholder: 'ARN or name'});
    const action = h('input', {type: 'search', id: 'filter-action', placeholder: 'e.g. GetObject'});
    const service = h('select', {id: 'filter-service'}, h('option', {value: ''}, 'All services'),
      SERVICES.map((s) => h('option', {value: s}, s)));
    const status = h('span', {class: 'stream-status', role: 'status', 'aria-live': 'polite'}, 'Connecting…');
    const streamErr = h('div');
    wrap.appendChild(h('form', {class: 'filters card', role: 'search', 'aria-label': 'Filter decisions'},
      h('div', {class: 'field inline'}, denied, h('label', {for: 'filter-denied'}, 'Denied or failed only')),
      h('div', {class: 'field'}, h('label', {for: 'filter-principal'}, 'Principal'), principal),
      h('div', {class: 'field'}, h('label', {for: 'filter-action'}, 'Action'), action),
      h('div', {class: 'field'}, h('label', {for: 'filter-service'}, 'Service'), service),
      status));
    wrap.lastChild.addEventListener('submit', (ev) => ev.preventDefault());
    wrap.appendChild(streamErr);

    const tbody = h('tbody', {id: 'events'});
    const empty = h('p', {class: 'muted', id: 'events-empty'}, 'No events yet.');
    wrap.appendChild(h('div', {class: 'table-wrap card'},
      h('table', {class: 'events'},
        h('caption', {class: 'sr-only'}, 'Audit events, newest first'),
        h('thead', null, h('tr', null, ['Time', 'Service', 'Action', 'Principal', 'Resource', 'Result'].map((t) => h('th', {scope: 'col'}, t)))),
        tbody),
      empty));

    let events = []; // oldest first
    const seen = new Set();
    const open = new Set();
    let es = null;
    let closed = false;

    const matches = (e) => {
      if (denied.checked && !eventDenied(e)) return false;
      const p = principal.value.trim().toLowerCase();
      if (p) {
        const u = e.userIdentity || {};
        const hay = [u.arn, u.userName, u.principalId,
          u.sessionContext && u.sessionContext.sessionIssuer && u.sessionContext.sessionIssuer.arn]
          .filter(Boolean).join(' ').toLowerCase();
        if (!hay.includes(p)) return false;
      }
      const a = action.value.trim().toLowerCase();
      if (a) {
        const hay = [e.eventName, e.decision && e.decision.action].filter(Boolean).join(' ').toLowerCase();
        if (!hay.includes(a)) return false;
      }
      if (service.value && e.eventSource !== service.value) return false;
      return true;
    };

    const keyOf = (e) => [e.requestID, e.eventTime, e.eventName, e.eventSource].join('|');

    function rowsFor(e) {
      const key = keyOf(e);
      const isDeny = eventDenied(e);
      const result = isDeny
        ? h('span', {class: 'badge badge-deny'}, e.errorCode || (e.decision && e.decision.explanation && e.decision.explanation.decision) || 'Denied')
        : h('span', {class: 'badge badge-allow'}, 'Allowed');
      const tr = h('tr', {'data-testid': 'event', 'data-denied': isDeny ? 'true' : 'false', class: 'event' + (isDeny ? ' event-denied' : ''),
        tabindex: '0', 'aria-expanded': 'false', 'data-request-id': e.requestID || ''},
        h('td', {class: 'nowrap'}, timeEl(e.eventTime)),
        h('td', null, e.eventSource || ''),
        h('td', {class: 'mono'}, e.eventName || ''),
        h('td', {class: 'mono wrap'}, eventPrincipal(e) || h('span', {class: 'muted'}, e.userIdentity ? '—' : 'anonymous')),
        h('td', {class: 'mono wrap'}, (e.decision && e.decision.resource) || ''),
        h('td', null, result));
      const detail = h('tr', {class: 'event-detail', hidden: true}, h('td', {colspan: '6'}));
      let built = false;
      const toggle = () => {
        const show = detail.hidden;
        if (show && !built) {
          built = true;
          append(detail.firstChild, [eventDetail(e)]);
        }
        detail.hidden = !show;
        tr.setAttribute('aria-expanded', show ? 'true' : 'false');
        if (show) open.add(key); else open.delete(key);
      };
      tr.addEventListener('click', toggle);
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle(); }
      });
      if (open.has(key)) { open.delete(key); toggle(); }
      return [tr, detail];
    }

    function renderAll() {
      clear(tbody);
      let n = 0;
      for (let i = events.length - 1; i >= 0; i--) {
        if (!matches(events[i])) continue;
        append(tbody, rowsFor(events[i]));
        n++;
      }
      empty.hidden = n > 0;
    }

    function add(e) {
      const key = keyOf(e);
      if (seen.has(key)) return;
      seen.add(key);
      if (e.eventSource && !Array.from(service.options).some((o) => o.value === e.eventSource)) {
        service.appendChild(h('option', {value: e.eventSource}, e.eventSource));
      }
      events.push(e);
      if (events.length > MAX_EVENTS) {
        const old = events.shift();
        seen.delete(keyOf(old));
        // Drop its rows (the last two in the body, if shown).
        if (matches(old) && tbody.lastChild) { tbody.removeChild(tbody.lastChild); tbody.removeChild(tbody.lastChild); }
      }
      if (matches(e)) {
        const [tr, detail] = rowsFor(e);
        tbody.insertBefore(detail, tbody.firstChild);
        tbody.insertBefore(tr, detail);
        empty.hidden = true;
      }
    }

    function connect() {
      if (es) es.close();
      events = [];
      seen.clear();
      renderAll();
      clear(streamErr);
      status.textContent = 'Connecting…';
      es = new EventSource(denied.checked ? 'api/events?denied=1' : 'api/events');
      es.onopen = () => { status.textContent = 'Live'; status.className = 'stream-status live'; };
      es.onmessage = (m) => {
        let e;
        try { e = JSON.parse(m.data); } catch (_) { return; }
        if (e && typeof e === 'object') add(e);
      };
      es.onerror = () => {
        if (closed) return;
        if (es.readyState === EventSource.CLOSED) {
          status.textContent = 'Disconnected';
          status.className = 'stream-status down';
          probe();
        } else {
          status.textContent = 'Reconnecting…';
          status.className = 'stream-status';
        }
      };
    }

    // Why the stream closed: ask for it once with fetch, read only the head.
    async function probe() {
      const ctl = new AbortController();
      try {
        const res = await fetch(denied.checked ? 'api/events?denied=1' : 'api/events',
          {credentials: 'same-origin', cache: 'no-store', signal: ctl.signal});
        if (res.ok) {
          ctl.abort();
          replace(streamErr, h('div', {class: 'panel panel-error', role: 'alert', 'data-testid': 'error'},
            h('p', null, 'The event stream closed. '), retryButton()));
          return;
        }
        await parseResponse(res, 'podiam');
      } catch (e) {
        if (closed || !state.me) return;
        if (e && e.name === 'AbortError') return;
        replace(streamErr, errorPanel(e), retryButton());
      }
    }

    function retryButton() {
      const b = h('button', {type: 'button', class: 'btn'}, 'Reconnect');
      b.addEventListener('click', connect);
      return b;
    }

    denied.addEventListener('change', connect);
    for (const el of [principal, action]) el.addEventListener('input', renderAll);
    service.addEventListener('change', renderAll);
    state.cleanup = () => { closed = true; if (es) es.close(); };
    connect();
  }

  function eventDetail(e) {
    const d = e.decision;
    const out = [];
    const facts = h('dl', {class: 'kv compact'},
      kv('Event', h('span', {class: 'mono'}, (e.eventSource || '') + ' ' + (e.eventName || ''))),
      kv('Time', e.eventTime || ''),
      kv('Caller', h('span', {class: 'mono'}, eventPrincipal(e) || (e.userIdentity ? (e.userIdentity.type || '—') : 'anonymous'))),
      e.sourceIPAddress ? kv('Source IP', e.sourceIPAddress) : null,
      e.userAgent ? kv('User agent', h('span', {class: 'wrap'}, e.userAgent)) : null,
      e.requestID ? kv('Request ID', h('span', {class: 'mono'}, e.requestID)) : null,
      d ? kv('Decided', h('span', {class: 'mono'}, (d.action || '') + ' on ' + (d.resource || ''))) : null,
      e.errorCode ? kv('Error', h('span', {class: 'code'}, e.errorCode), ' ', e.errorMessage || '') : null);
    out.push(facts);
    if (d && d.explanation) {
      out.push(explainView(d.explanation, {caller: eventPrincipal(e), action: d.action, resource: d.resource}));
    } else if (eventDenied(e)) {
      out.push(muted(d ? 'podiam recorded no explanation for this decision.' : 'No policy was evaluated: the request was refused before authorization (authentication, validation, or a missing resource).'));
    }
    if (e.requestParameters && Object.keys(e.requestParameters).length) {
      out.push(h('details', {class: 'doc'}, h('summary', null, 'Request parameters'), jsonBlock(e.requestParameters, 'Request parameters')));
    }
    return h('div', {class: 'event-body'}, out);
  }

  // ------------------------------------------------------- explanations

  // Dispatches on the explanation's shape.
  function explainView(x, ctx) {
    if (typeof x === 'string') {
      return h('div', {class: 'explain'}, h('div', {'data-testid': 'explain-detail', class: 'explain-detail'}, h('pre', {class: 'rendered'}, x)));
    }
    if (x && (x.failedStep !== undefined || Array.isArray(x.steps))) return stepsView(x);
    if (x && Array.isArray(x.policies)) return policyChainView(x, ctx || {});
    return h('div', {class: 'explain'}, h('div', {'data-testid': 'explain-detail', class: 'explain-detail'}, jsonBlock(x, 'Explanation')));
  }

  const TYPE_LABELS = {
    identity: 'Identity policies',
    session: 'Session policy',
    boundary: 'Permissions boundary',
    permissions_boundary: 'Permissions boundary',
    resource: 'Resource policy',
    trust: 'Trust policy',
  };
  const RESULT_TEXT = {allow: 'allows', deny: 'denies', no_match: 'no Allow matched', absent: 'none'};

  const normType = (t) => (t === 'permissions_boundary' ? 'boundary' : t);

  function combine(policies) {
    if (!policies.length) return 'absent';
    if (policies.some((p) => p.result === 'deny')) return 'deny';
    if (policies.some((p) => p.result === 'allow')) return 'allow';
    return 'no_match';
  }

  function chainNode(cls, attrs, title, sub, extra) {
    return h('li', Object.assign({class: 'node ' + cls}, attrs),
      h('span', {class: 'node-title'}, title),
      sub ? h('span', {class: 'node-sub'}, sub) : null,
      extra || null);
  }

  function arrow() {
    return h('li', {class: 'arrow', 'aria-hidden': 'true'}, '→');
  }

  function policyChainView(x, ctx) {
    const policies = x.policies || [];
    const byType = {};
    for (const p of policies) (byType[normType(p.policy_type)] = byType[normType(p.policy_type)] || []).push(p);
    const deciding = normType(x.deciding_policy_type || '');
    let types = ['identity', 'session', 'boundary', 'resource'];
    const extra = Object.keys(byType).filter((t) => !types.includes(t));
    if (byType.trust && !types.some((t) => byType[t])) types = ['trust'];
    else types = types.concat(extra);

    const nodes = [chainNode('caller', {'data-step': 'caller'}, 'Caller', ctx.caller || '—')];
    for (const t of types) {
      const ps = byType[t] || [];
      const res = combine(ps);
      const isDeciding = t === deciding;
      nodes.push(arrow());
      nodes.push(chainNode('res-' + res + (isDeciding ? ' deciding' : ''),
        {'data-policy-type': t, 'data-result': res, 'aria-current': isDeciding ? 'true' : null},
        TYPE_LABELS[t] || t,
        RESULT_TEXT[res] + (ps.length > 1 ? ' (' + ps.length + ')' : ''),
        isDeciding ? h('span', {class: 'node-tag'}, 'deciding') : null));
    }
    nodes.push(arrow());
    const dec = x.decision || '?';
    nodes.push(chainNode('decision ' + (dec === 'Allow' ? 'res-allow' : dec === 'ExplicitDeny' ? 'res-deny' : 'res-implicit'),
      {'data-step': 'decision', 'data-decision': dec}, 'Decision', dec));

    const detail = h('div', {class: 'explain-detail', 'data-testid': 'explain-detail'},
      ctx.summaryShown ? null : h('p', {class: 'summary'}, x.summary || ''));
    const fix = policyFix(x, ctx, byType);
    if (fix) detail.appendChild(h('p', {class: 'fix'}, h('strong', null, 'Fix: '), fix));
    // Policies, the deciding type first, with each statement's fate.
    const order = policies.slice().sort((a, b) => (normType(b.policy_type) === deciding) - (normType(a.policy_type) === deciding));
    for (const p of order) {
      detail.appendChild(h('div', {class: 'policy-trace res-' + p.result, 'data-policy-type': normType(p.policy_type)},
        h('p', {class: 'policy-head'},
          h('span', {class: 'badge res-badge-' + p.result}, RESULT_TEXT[p.result] || p.result), ' ',
          h('span', {class: 'muted'}, (TYPE_LABELS[normType(p.policy_type)] || p.policy_type) + ': '),
          h('span', {class: 'mono'}, p.name || '')),
        h('ul', {class: 'stmts'}, (p.statements || []).map(statementLine))));
    }
    if (!policies.length) detail.appendChild(muted('No policy applies to this caller.'));
    return h('div', {class: 'explain'},
      h('ol', {class: 'chain', 'data-testid': 'explain-chain', 'aria-label': 'How the decision was made'}, nodes),
      detail);
  }

  function statementLine(s) {
    const label = '[' + s.index + ']' + (s.sid ? ' ' + s.sid : '') + ' ' + s.effect;
    const m = s.mismatch;
    if (s.matched) {
      return h('li', {class: 'stmt matched ' + (s.effect === 'Deny' ? 'stmt-deny' : 'stmt-allow')},
        h('span', {class: 'mono'}, label), ': matched' + (s.effect === 'Deny' ? ' (this Deny applies)' : ''));
    }
    if (m && m.element === 'condition') {
      const missing = m.actual === null || m.actual === undefined;
      return h('li', {class: 'stmt cond'},
        h('span', {class: 'mono'}, label), ': condition ',
        h('span', {class: 'mono'}, m.key), ' ', h('span', {class: 'cond-op'}, m.operator), ' failed',
        h('dl', {class: 'kv compact vs'},
          kv('Expected', h('span', {class: 'mono expected'}, asList(m.expected).join(', '))),
          kv('Actual', missing ? h('span', {class: 'missing'}, 'missing (the request has no ' + m.key + ')')
            : h('span', {class: 'mono actual'}, asList(m.actual).join(', ') || '(empty)'))));
    }
    const el = m && (m.element || (typeof m === 'string' ? m : ''));
    return h('li', {class: 'stmt'}, h('span', {class: 'mono'}, label), ': ' + (el ? el + ' did not match' : 'did not match'));
  }

  function policyFix(x, ctx, byType) {
    const what = (ctx.action || 'the action') + ' on ' + (ctx.resource || 'the resource');
    if (x.decision === 'Allow') return null;
    if (x.decision === 'ExplicitDeny') {
      for (const p of x.policies || []) {
        const s = (p.statements || []).find((st) => st.matched && st.effect === 'Deny');
        if (s) return 'remove or narrow Deny statement [' + s.index + ']' + (s.sid ? ' (' + s.sid + ')' : '') + ' in ' + (TYPE_LABELS[normType(p.policy_type)] || p.policy_type).toLowerCase() + ' ' + p.name + '.';
      }
      return null;
    }
    const t = normType(x.deciding_policy_type || '');
    const cond = (byType[t] || []).flatMap((p) => p.statements || []).find((s) => s.effect === 'Allow' && s.mismatch && s.mismatch.element === 'condition');
    if (cond) {
      const m = cond.mismatch;
      return 'statement [' + cond.index + '] would allow it but its condition ' + m.key + ' ' + m.operator + ' ' + asList(m.expected).join(', ') +
        (m.actual ? ' does not hold for ' + asList(m.actual).join(', ') : ' needs a value the request does not carry') + '.';
    }
    if (t === 'identity') return 'add a statement allowing ' + what + ' to one of the caller\'s identity policies.';
    if (t === 'session') return 'request the session with a session policy that allows ' + what + ' (or none).';
    if (t === 'boundary') return 'allow ' + what + ' in the permissions boundary.';
    if (t === 'resource' || t === 'trust') return 'allow this caller ' + what + ' in the ' + (TYPE_LABELS[t] || t).toLowerCase() + '.';
    return null;
  }

  // AssumeRoleWithWebIdentity: the fixed chain of STS's checks.
  const STEP_ORDER = ['request', 'token', 'provider', 'signature', 'validity', 'audience', 'association', 'role', 'trust', 'duration'];
  const STEP_CHAIN = ['token', 'provider', 'signature', 'validity', 'audience', 'role', 'trust', 'duration'];
  const STEP_LABELS = {
    request: 'Request', token: 'Token', provider: 'OIDC provider', signature: 'Signature', validity: 'Validity',
    audience: 'Audience', association: 'Association', role: 'Role', trust: 'Trust policy', duration: 'Duration',
  };

  function stepsView(x) {
    const steps = x.steps || [];
    const byStep = {};
    for (const s of steps) byStep[s.step] = s;
    const failed = x.failedStep || (steps.find((s) => !s.ok) || {}).step || null;
    let chain = STEP_CHAIN.slice();
    for (const s of Object.keys(byStep).concat(failed ? [failed] : [])) {
      if (!chain.includes(s)) {
        chain.push(s);
        chain.sort((a, b) => STEP_ORDER.indexOf(a) - STEP_ORDER.indexOf(b));
      }
    }
    const failedAt = failed ? chain.indexOf(failed) : chain.length;
    const nodes = [];
    chain.forEach((step, i) => {
      if (i) nodes.push(arrow());
      const rep = byStep[step];
      let st;
      if (rep) st = rep.ok ? 'passed' : 'failed';
      else if (i < failedAt) st = 'passed';
      else if (i === failedAt) st = 'failed';
      else st = 'skipped';
      nodes.push(chainNode('step-' + st + (st === 'failed' ? ' deciding' : ''),
        {'data-step': step, 'data-state': st, 'aria-current': st === 'failed' ? 'step' : null},
        STEP_LABELS[step] || step,
        st === 'passed' ? 'passed' : st === 'failed' ? 'failed' : 'not checked'));
    });
    const fail = failed && byStep[failed];
    const detail = h('div', {class: 'explain-detail', 'data-testid': 'explain-detail'});
    if (failed) {
      detail.appendChild(h('p', {class: 'summary'}, 'AssumeRoleWithWebIdentity failed at the ', h('strong', null, STEP_LABELS[failed] || failed), ' check.'));
    }
    if (fail) {
      detail.appendChild(h('p', {class: 'step-detail'}, h('strong', null, 'What was checked: '), fail.detail || ''));
      if (fail.fix) detail.appendChild(h('p', {class: 'fix'}, h('strong', null, 'Fix: '), fail.fix));
    }
    const passed = steps.filter((s) => s.ok);
    if (passed.length) {
      detail.appendChild(h('ul', {class: 'stmts'}, passed.map((s) => h('li', {class: 'stmt stmt-allow'},
        h('strong', null, (STEP_LABELS[s.step] || s.step) + ': '), s.detail || 'passed'))));
    }
    if (x.explanation) {
      detail.appendChild(h('details', {class: 'doc', open: true}, h('summary', null, 'Policy evaluation'),
        h('pre', {class: 'rendered'}, x.explanation)));
    }
    return h('div', {class: 'explain'},
      h('ol', {class: 'chain', 'data-testid': 'explain-chain', 'aria-label': 'AssumeRoleWithWebIdentity checks'}, nodes),
      detail);
  }

  // --------------------------------------------------------------- what if

  function pageWhatIf(page, args, query) {
    const wrap = h('div', {'data-testid': 'whatif'});
    page.appendChild(wrap);
    wrap.appendChild(h('h1', null, 'What if'));
    wrap.appendChild(h('p', {class: 'muted'}, 'Decide one request as a principal, with the policies podiam holds now: nothing is called.'));

    const kind = h('select', {id: 'whatif-kind'},
      h('option', {value: 'role'}, 'A session of a role'),
      h('option', {value: 'irsa'}, 'A service account through IRSA'),
      h('option', {value: 'pod-identity'}, 'A service account through Pod Identity'));
    const role = h('input', {id: 'whatif-role', type: 'text', list: 'whatif-roles', spellcheck: 'false', placeholder: 'arn:aws:iam::ACCOUNT:role/NAME'});
    const cluster = h('input', {id: 'whatif-cluster', type: 'text', list: 'whatif-clusters', spellcheck: 'false'});
    const ns = h('input', {id: 'whatif-namespace', type: 'text', spellcheck: 'false', placeholder: 'default'});
    const sa = h('input', {id: 'whatif-sa', type: 'text', spellcheck: 'false'});
    const act = h('input', {id: 'whatif-action', type: 'text', required: true, spellcheck: 'false', placeholder: 's3:GetObject'});
    const res = h('input', {id: 'whatif-resource', type: 'text', spellcheck: 'false', placeholder: 'arn:aws:s3:::bucket/key (default *)'});
    const ctxt = h('textarea', {id: 'whatif-context', rows: '3', spellcheck: 'false', placeholder: '{"aws:SourceIp": "10.0.0.1", "s3:prefix": ["a/", "b/"]}'});
    const submit = h('button', {type: 'submit', id: 'whatif-submit', class: 'btn btn-primary'}, 'Decide');
    const rolesList = h('datalist', {id: 'whatif-roles'});
    const clustersList = h('datalist', {id: 'whatif-clusters'});

    const fRole = h('div', {class: 'field'}, h('label', {for: 'whatif-role', id: 'whatif-role-label'}, 'Role ARN'), role);
    const fCluster = h('div', {class: 'field'}, h('label', {for: 'whatif-cluster'}, 'Cluster'), cluster);
    const fNs = h('div', {class: 'field'}, h('label', {for: 'whatif-namespace'}, 'Namespace'), ns);
    const fSa = h('div', {class: 'field'}, h('label', {for: 'whatif-sa'}, 'Service account'), sa);

    const form = h('form', {class: 'card whatif-form', id: 'whatif-form', novalidate: true},
      h('fieldset', null, h('legend', null, 'Principal'),
        h('div', {class: 'field'}, h('label', {for: 'whatif-kind'}, 'Kind'), kind),
        fRole, fCluster, fNs, fSa),
      h('fieldset', null, h('legend', null, 'Request'),
        h('div', {class: 'field'}, h('label', {for: 'whatif-action'}, 'Action'), act),
        h('div', {class: 'field'}, h('label', {for: 'whatif-resource'}, 'Resource'), res),
        h('div', {class: 'field'}, h('label', {for: 'whatif-context'}, 'Context keys (JSON object, optional)'), ctxt)),
      submit, rolesList, clustersList);
    const out = h('div', {id: 'whatif-result', 'aria-live': 'polite'});
    append(wrap, [form, out]);

    // Fields the kind does not use stay visible, dimmed, and are not sent.
    const sync = () => {
      const k = kind.value;
      fRole.classList.toggle('unused', k === 'pod-identity');
      for (const f of [fCluster, fNs, fSa]) f.classList.toggle('unused', k === 'role');
      $('whatif-role-label').textContent = k === 'irsa' ? 'Role ARN (optional: the service account\'s annotation otherwise)'
        : k === 'pod-identity' ? 'Role ARN (not used: the association names the role)' : 'Role ARN';
      for (const [f, t] of [[fCluster, 'Cluster'], [fNs, 'Namespace'], [fSa, 'Service account']]) {
        f.querySelector('label').textContent = k === 'role' ? t + ' (not used for a role session)' : t;
      }
    };
    kind.addEventListener('change', sync);
    if (query.get('kind')) kind.value = query.get('kind');
    if (query.get('role')) role.value = query.get('role');
    for (const [k, el] of [['cluster', cluster], ['namespace', ns], ['sa', sa], ['action', act], ['resource', res]]) {
      if (query.get(k)) el.value = query.get(k);
    }
    sync();

    // Suggestions, best effort: a principal that may not list them just types.
    iamAll('ListRoles', {}, 'Roles').then((rs) => append(rolesList, rs.map((r) => h('option', {value: xt(r, 'Arn')}))), () => {});
    eksAll('/clusters', 'clusters').then((names) => append(clustersList, names.map((c) => h('option', {value: c}))), () => {});

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const k = kind.value;
      let principal;
      if (k === 'role') principal = {kind: 'role', roleArn: role.value.trim()};
      else {
        principal = {kind: k, cluster: cluster.value.trim(), namespace: ns.value.trim(), serviceAccount: sa.value.trim()};
        if (k === 'irsa' && role.value.trim()) principal.roleArn = role.value.trim();
      }
      const body = {principal, action: act.value.trim(), resource: res.value.trim() || '*'};
      if (ctxt.value.trim()) {
        let c;
        try { c = JSON.parse(ctxt.value); } catch (e) {
          replace(out, errorPanel(new ApiError('InvalidContext', 'Context keys must be a JSON object: ' + e.message)));
          return;
        }
        if (!c || typeof c !== 'object' || Array.isArray(c)) {
          replace(out, errorPanel(new ApiError('InvalidContext', 'Context keys must be a JSON object like {"aws:SourceIp": "10.0.0.1"}')));
          return;
        }
        body.context = c;
      }
      if (!body.action) {
        replace(out, errorPanel(new ApiError('ValidationException', 'Enter an action, e.g. s3:GetObject.')));
        act.focus();
        return;
      }
      submit.disabled = true;
      replace(out, loading('Deciding…'));
      try {
        const r = await podiamPost('/_podiam/explain/request', body);
        replace(out, whatIfResult(r));
      } catch (e) {
        replace(out, errorPanel(e));
      } finally {
        submit.disabled = false;
      }
    });
  }

  function whatIfResult(r) {
    const dec = r.decision || '';
    const cls = dec === 'Allow' ? 'res-allow' : dec === 'ExplicitDeny' ? 'res-deny' : 'res-implicit';
    return h('section', {class: 'card result', 'aria-label': 'Decision'},
      h('p', {class: 'verdict ' + cls}, h('span', {id: 'whatif-decision', class: 'decision'}, dec)),
      h('p', {id: 'whatif-summary', class: 'summary'}, r.summary || ''),
      h('dl', {class: 'kv compact'},
        kv('Principal', h('span', {class: 'mono'}, r.principal || '')),
        kv('Action', h('span', {class: 'mono'}, r.action || '')),
        kv('Resource', h('span', {class: 'mono'}, r.resource || ''))),
      (r.notes || []).length ? h('ul', {class: 'notes', 'aria-label': 'Notes'}, r.notes.map((n) => h('li', null, n))) : null,
      r.explanation ? explainView(r.explanation, {caller: r.principal, action: r.action, resource: r.resource, summaryShown: r.summary === r.explanation.summary}) : null,
      r.rendered ? h('details', {class: 'doc'}, h('summary', null, 'As text'), h('pre', {class: 'rendered'}, r.rendered)) : null);
  }

  // ------------------------------------------------------------------ go

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
