// svcbroker console: a single page over the public API (catalog, calls,
// tests, health, metrics).  Routes live in the fragment:
//   #/catalog            instances, objects, search
//   #/object/I/O         an object's properties and methods
//   #/try/I/O/M          the method tester
//   #/instances          states, test buttons, charts from /metrics
import {el, append, clear, link, hash, table} from './dom.js';
import * as api from './api.js';
import {methodForm} from './form.js';
import {parseMetrics, totals, delta, smallChart, POINTS} from './metrics.js';

const main = document.getElementById('main');
let stopView = null; // the current view's cleanup (timers)
let catalogCache = null;
const objectCache = new Map();

// ---- helpers ---------------------------------------------------------------

function show(title, ...content) {
	if (stopView) {
		stopView();
		stopView = null;
	}
	clear(main);
	const h = el('h2', {id: 'view-title', tabindex: '-1'}, title);
	append(main, [h, content]);
	document.title = title + ' — svcbroker console';
	h.focus();
}

function stateNode(state) {
	return el('span', {class: 'sb-state-' + (state === 'ready' ? 'ready' : 'failed')}, state || '?');
}

// An error answer: its HTTP status, category and code, message, and the
// JSON as received.
function errorBox(r, title) {
	const e = (r.json && r.json.error) || {};
	return el('section', {class: 'sb-error', role: 'alert', 'aria-label': title || 'Error'},
		el('h3', {}, title || 'Error'),
		el('dl', {},
			el('dt', {}, 'HTTP status'), el('dd', {class: 'sb-err-status'}, r.status || 'no answer'),
			el('dt', {}, 'Category'), el('dd', {class: 'sb-err-category'}, e.category || '—'),
			el('dt', {}, 'Code'), el('dd', {class: 'sb-err-code'}, e.code || '—'),
			el('dt', {}, 'Message'), el('dd', {class: 'sb-err-message'}, e.message || r.text || '—'),
			e.retry_after_ms ? [el('dt', {}, 'Retry after'), el('dd', {}, e.retry_after_ms + ' ms')] : null),
		el('details', {}, el('summary', {}, 'Error JSON'), el('pre', {class: 'sb-json'}, r.text)));
}

async function loadCatalog(force) {
	if (!catalogCache || force) {
		const r = await api.catalog();
		if (!r.ok || !r.json)
			return {error: r};
		catalogCache = r.json;
		objectCache.clear();
	}
	return {catalog: catalogCache};
}

async function loadObject(inst, obj) {
	const key = inst + '\u0000' + obj;
	if (objectCache.has(key))
		return {object: objectCache.get(key)};
	const r = await api.object(inst, obj);
	if (!r.ok || !r.json)
		return {error: r};
	objectCache.set(key, r.json);
	return {object: r.json};
}

// ---- catalog and search ------------------------------------------------------

function instanceList(cat) {
	return el('ul', {class: 'list-unstyled', id: 'instance-list'},
		(cat.instances || []).map((i) => el('li', {class: 'sb-instance', 'data-instance': i.name},
			el('strong', {}, i.name), ' — ', i.broker, ' ', i.version || '', ' · ', stateNode(i.state),
			i.summary ? el('div', {class: 'sb-doc sb-help'}, i.summary) : null,
			i.error ? el('div', {class: 'sb-bad'}, i.error) : null,
			el('ul', {}, (i.objects || []).map((o) => el('li', {},
				link(o.name, 'object', i.name, o.name),
				o.doc ? el('span', {class: 'sb-help'}, ' — ', o.doc) : null))))));
}

// Every name and doc string of the catalog, with where it leads.
async function searchIndex(cat) {
	const entries = [];
	for (const i of cat.instances || []) {
		entries.push({text: [i.name, i.broker, i.summary].join(' '), label: i.name,
			what: 'instance', doc: i.summary, to: ['catalog']});
		for (const o of i.objects || []) {
			entries.push({text: [o.name, o.doc].join(' '), label: i.name + '/' + o.name,
				what: 'object', doc: o.doc, to: ['object', i.name, o.name]});
			const got = await loadObject(i.name, o.name);
			if (!got.object)
				continue;
			for (const p of got.object.properties || [])
				entries.push({text: [p.name, p.type, p.doc].join(' '),
					label: i.name + '/' + o.name + ' property ' + p.name, what: 'property',
					doc: p.doc, to: ['object', i.name, o.name]});
			for (const m of got.object.methods || []) {
				entries.push({text: [m.name, m.kind, m.doc].join(' '),
					label: i.name + '/' + o.name + '.' + m.name, what: 'method', doc: m.doc,
					to: ['try', i.name, o.name, m.name]});
				for (const p of m.inputs || [])
					entries.push({text: [p.name, p.type, p.doc, (p.choices || []).join(' ')].join(' '),
						label: i.name + '/' + o.name + '.' + m.name + ' input ' + p.name,
						what: 'input', doc: p.doc, to: ['try', i.name, o.name, m.name]});
			}
		}
	}
	return entries;
}

async function viewCatalog() {
	const got = await loadCatalog(true);
	if (got.error) {
		show('Catalog', errorBox(got.error, 'The catalog cannot be read'));
		return;
	}
	const cat = got.catalog;
	const results = el('div', {id: 'search-results', 'aria-live': 'polite'});
	const box = el('input', {id: 'search', type: 'search', class: 'form-control',
		'aria-describedby': 'search-help', autocomplete: 'off'});
	let index = null;
	const run = async () => {
		const q = box.value.trim().toLowerCase();
		clear(results);
		if (!q)
			return;
		if (!index)
			index = await searchIndex(cat);
		const words = q.split(/\s+/);
		const hits = index.filter((e) => words.every((w) => e.text.toLowerCase().includes(w)));
		append(results, el('p', {}, hits.length + (hits.length === 1 ? ' match' : ' matches')),
			el('ul', {class: 'sb-search-results'}, hits.slice(0, 200).map((h) => el('li', {},
				el('a', {href: hash(...h.to)}, h.label), ' (', h.what, ')',
				h.doc ? el('span', {class: 'sb-help'}, ' — ', h.doc) : null))));
	};
	let timer = null;
	box.addEventListener('input', () => {
		clearTimeout(timer);
		timer = setTimeout(run, 200);
	});
	show('Catalog',
		el('p', {}, 'Catalog generation ', String(cat.generation), '; ',
			String((cat.instances || []).length), ' instances.'),
		el('div', {class: 'sb-field', role: 'search'},
			el('label', {for: 'search'}, 'Search names and descriptions'), box,
			el('span', {id: 'search-help', class: 'sb-help'},
				'Instances, objects, properties, methods and inputs; every word must match.')),
		results,
		el('h3', {}, 'Instances'),
		instanceList(cat));
}

// ---- an object ---------------------------------------------------------------

function bounds(p) {
	const b = [];
	if (p.minimum !== undefined && p.minimum !== null)
		b.push('≥ ' + p.minimum);
	if (p.maximum !== undefined && p.maximum !== null)
		b.push('≤ ' + p.maximum);
	if (p.max_size)
		b.push('≤ ' + p.max_size + ' bytes');
	if (p.max_items)
		b.push('≤ ' + p.max_items + ' items');
	return b.join(', ');
}

async function viewObject(inst, obj) {
	const got = await loadObject(inst, obj);
	if (got.error) {
		show(inst + '/' + obj, errorBox(got.error, 'The object cannot be read'));
		return;
	}
	const o = got.object;
	show(inst + '/' + o.name,
		el('p', {}, link('Catalog', 'catalog'), ' › ', inst, ' (', o.broker, ', ', stateNode(o.state), ')'),
		el('p', {class: 'sb-doc', id: 'object-doc'}, o.doc),
		el('h3', {}, 'Properties'),
		table('Properties of ' + o.name, ['Name', 'Type', 'Several', 'Choices', 'Description'],
			(o.properties || []).map((p) => [p.name, p.type, p.multi ? 'yes' : 'no',
				(p.choices || []).join(', '), p.doc]), 'properties'),
		el('h3', {}, 'Methods'),
		(o.methods || []).map((m) => el('section', {class: 'sb-method', 'data-method': m.name,
			'aria-label': 'Method ' + m.name},
			el('h4', {}, m.name, ' ', el('small', {class: 'sb-help'}, '(', m.kind, ')')),
			el('p', {class: 'sb-doc'}, m.doc),
			(m.inputs || []).length
				? table('Inputs of ' + m.name, ['Input', 'Type', 'Required', 'Bounds', 'Choices', 'Description'],
					(m.inputs || []).map((p) => [p.name, p.type + (p.multi ? ' (several)' : ''),
						p.required ? 'yes' : 'no', bounds(p), (p.choices || []).join(', '), p.doc]))
				: el('p', {}, 'No inputs.'),
			el('p', {}, 'Returns: ', (m.returns || []).join(', ') || 'nothing'),
			el('p', {}, el('a', {href: hash('try', inst, o.name, m.name), class: 'btn btn-sm btn-outline-primary',
				id: 'try-' + m.name}, 'Try ' + m.name)))));
}

// ---- the method tester -------------------------------------------------------

// POSIX shell single quotes.
function shq(s) {
	return "'" + String(s).replace(/'/g, "'\\''") + "'";
}

function curlLine(inst, obj, meth, inputs) {
	const parts = ['curl -s'];
	if (api.token())
		parts.push('-H "Authorization: Bearer $SVCBROKER_TOKEN"');
	parts.push("-H 'Content-Type: application/json'");
	parts.push('-d ' + shq(JSON.stringify({inputs})));
	parts.push(shq(location.origin + api.callPath(inst, obj, meth)));
	return parts.join(' \\\n    ');
}

// svcbroker call I/O.M Key=Value ... (svcbroker(1), INPUTS).
function cliLine(inst, obj, meth, args) {
	const parts = ['svcbroker', '-u', shq(location.origin), 'call', shq(inst + '/' + obj + '.' + meth)];
	for (const a of args) {
		const p = a.p;
		if (p.type === 'file') {
			for (const v of a.values)
				parts.push(shq(p.name + '=@' + v.value.Name));
			continue;
		}
		for (const v of a.values) {
			const s = typeof v.value === 'string' ? v.value : JSON.stringify(v.value);
			if (typeof v.value === 'string' && s.startsWith('@'))
				parts.push(shq(p.name + ':=' + JSON.stringify(s)));
			else
				parts.push(shq(p.name + '=' + s));
		}
	}
	return parts.join(' ');
}

function base64Bytes(b64) {
	const bin = atob(b64);
	const out = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++)
		out[i] = bin.charCodeAt(i);
	return out;
}

// A file cell: its name, type and size, and a button that saves it.
function fileCell(f) {
	let bytes;
	try {
		bytes = base64Bytes(f.Content || '');
	} catch (e) {
		return el('span', {}, String(f.Name || 'file'), ' (content is not base64)');
	}
	const save = () => {
		const blob = new Blob([bytes], {type: 'application/octet-stream'});
		const url = URL.createObjectURL(blob);
		const a = el('a', {href: url, download: String(f.Name || 'download')});
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 10000);
	};
	return el('span', {class: 'sb-file'},
		el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary sb-download',
			'data-name': String(f.Name || ''), onclick: save}, 'Download ', String(f.Name || 'file')),
		' ', String(f.ContentType || ''), ', ', String(bytes.length), ' bytes');
}

function isFile(v) {
	return v && typeof v === 'object' && !Array.isArray(v) && 'Content' in v && 'Name' in v;
}

function cell(v) {
	if (v === undefined || v === null)
		return '';
	if (isFile(v))
		return fileCell(v);
	if (Array.isArray(v)) {
		if (v.some(isFile))
			return el('ul', {class: 'list-unstyled'}, v.map((x) => el('li', {}, cell(x))));
		return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ');
	}
	if (typeof v === 'object')
		return JSON.stringify(v);
	return String(v);
}

function rowsTable(m, rows) {
	const cols = (m.returns || []).slice();
	for (const r of rows)
		for (const k of Object.keys(r))
			if (!cols.includes(k))
				cols.push(k);
	return table(rows.length + (rows.length === 1 ? ' row' : ' rows'), cols,
		rows.map((r) => cols.map((c) => cell(r[c]))), 'result-rows');
}

async function viewTry(inst, obj, meth) {
	const got = await loadObject(inst, obj);
	if (got.error) {
		show(inst + '/' + obj + '.' + meth, errorBox(got.error, 'The object cannot be read'));
		return;
	}
	const o = got.object;
	const m = (o.methods || []).find((x) => x.name === meth);
	if (!m) {
		show(inst + '/' + obj + '.' + meth, el('p', {role: 'alert'}, 'This object has no method of that name.'),
			link('Back to ' + obj, 'object', inst, obj));
		return;
	}
	const answer = el('div', {id: 'answer', 'aria-live': 'polite'});
	const cmds = el('div', {id: 'commands'});
	let page = 1;

	const runCall = async (inputs, args, pageNo) => {
		clear(answer);
		append(answer, el('p', {id: 'running'}, 'Running…'));
		const r = await api.call(inst, o.name, m.name, inputs);
		clear(answer);
		clear(cmds);
		append(cmds, el('h3', {}, 'The same call from a shell'),
			el('h4', {}, 'curl'), el('pre', {class: 'sb-cmd', id: 'cmd-curl'}, curlLine(inst, o.name, m.name, inputs)),
			el('h4', {}, 'svcbroker'), el('pre', {class: 'sb-cmd', id: 'cmd-cli'}, cliLine(inst, o.name, m.name, args)));
		if (!r.ok || !r.json) {
			append(answer, errorBox(r, 'The call failed'));
			return;
		}
		const rows = Array.isArray(r.json.rows) ? r.json.rows : [];
		const res = el('section', {class: 'sb-result', 'aria-label': 'Answer'},
			el('h3', {}, 'Answer', m.kind === 'list' ? ' — page ' + pageNo : ''),
			rowsTable(m, rows));
		if (r.json.more && r.json.next_page_token) {
			const token = r.json.next_page_token;
			res.append(el('div', {class: 'sb-buttons'},
				el('button', {type: 'button', class: 'btn btn-outline-primary', id: 'next-page',
					onclick: () => {
						const next = Object.assign({}, inputs, {PageToken: token});
						const nargs = args.filter((a) => a.p.name !== 'PageToken');
						const tp = (m.inputs || []).find((p) => p.name === 'PageToken');
						if (tp)
							nargs.push({p: tp, values: [{value: token}]});
						page = pageNo + 1;
						runCall(next, nargs, page).then(() => {
							const b = document.getElementById('next-page') || document.getElementById('view-title');
							if (b)
								b.focus();
						});
					}}, 'Next page')));
		} else if (m.kind === 'list') {
			res.append(el('p', {id: 'last-page'}, 'No more rows.'));
		}
		res.append(el('details', {}, el('summary', {}, 'Answer JSON'), el('pre', {class: 'sb-json'}, r.text)));
		append(answer, res);
	};

	const form = methodForm(m, (inputs, args) => {
		page = 1;
		runCall(inputs, args, page);
	});
	show(inst + '/' + o.name + '.' + m.name,
		el('p', {}, link('Catalog', 'catalog'), ' › ', link(o.name, 'object', inst, o.name), ' › ', m.name,
			' (', m.kind, ')'),
		el('p', {class: 'sb-doc', id: 'method-doc'}, m.doc),
		form.node, answer, cmds);
}

// ---- instances and health ----------------------------------------------------

async function viewInstances() {
	const r = await api.health();
	if (r.json && typeof r.json.status === 'string' && !('instances' in r.json)) {
		// a daemon with clients names its instances only to a client
		const h = r.json;
		show('Instances and health',
			el('p', {id: 'health-status'}, 'Status: ', h.status, '; up ', String(h.uptime_s), ' s; ',
				String(h.calls_running), ' calls running, ', String(h.calls_queued), ' queued.'),
			el('p', {class: 'sb-help', id: 'health-anonymous'},
				'This daemon lists its instances only to a client: give a token to see them.'));
		return;
	}
	if (!r.json || !Array.isArray(r.json.instances)) {
		show('Instances and health', errorBox(r, 'Health cannot be read'));
		return;
	}
	const h = r.json;
	const rows = h.instances.map((i) => {
		const out = el('div', {class: 'sb-test-result', id: 'test-result-' + i.name, 'aria-live': 'polite'});
		const btn = el('button', {type: 'button', class: 'btn btn-sm btn-outline-primary sb-test',
			'data-instance': i.name, 'aria-label': 'Test ' + i.name}, 'Test');
		btn.addEventListener('click', async () => {
			btn.disabled = true;
			clear(out);
			append(out, 'Testing…');
			const t = await api.test(i.name);
			btn.disabled = false;
			clear(out);
			if (t.status === 200 && t.json) {
				const d = t.json.details || {};
				append(out, el('span', {class: t.json.ok ? 'sb-ok' : 'sb-bad'}, t.json.ok ? 'ok' : 'FAILED'), ': ',
					t.json.message, ' (', d.category || '', d.code ? ', ' + d.code : '', ', ',
					String(t.json.elapsed_ms), ' ms)');
			} else {
				append(out, errorBox(t, 'The test could not run'));
			}
		});
		return [i.name, [i.broker, ' ', i.version || ''], stateNode(i.state), i.error || '',
			String(i.running), String(i.calls_total), String(i.calls_failed), [btn, out]];
	});
	const charts = el('div', {class: 'sb-charts', id: 'charts'});
	const methods = el('div', {id: 'method-metrics'});
	show('Instances and health',
		el('p', {id: 'health-status'}, 'Status: ', h.status, '; up ', String(h.uptime_s), ' s; ',
			String(h.calls_running), ' calls running, ', String(h.calls_queued), ' queued.'),
		table('Instances', ['Instance', 'Broker', 'State', 'Error', 'Running', 'Calls', 'Failed', 'Test'],
			rows, 'instances'),
		el('h3', {}, 'Calls, errors and latency'),
		el('p', {class: 'sb-help'}, 'From /metrics, every 5 seconds: calls and errors per interval, mean latency in ms.'),
		charts, el('h3', {}, 'Per method, since start'), methods);
	stopView = startCharts(h.instances.map((i) => i.name), charts, methods);
}

function startCharts(names, charts, methods) {
	const series = {};
	const updates = {};
	let before = null;
	let stopped = false;
	for (const n of names) {
		series[n] = {calls: [], errors: [], 'latency ms': []};
		const canvas = el('canvas', {role: 'img', 'aria-label': 'Calls, errors and latency of ' + n});
		const nums = el('p', {class: 'sb-help sb-chart-numbers', 'aria-live': 'off'});
		const box = el('figure', {class: 'sb-chart', 'data-instance': n},
			el('figcaption', {}, n), canvas, nums);
		charts.append(box);
		updates[n] = {draw: null, canvas, nums};
	}
	const tick = async () => {
		const text = await api.metricsText();
		if (stopped)
			return;
		const t = totals(parseMetrics(text));
		for (const n of names) {
			const now = t.instances[n] || {calls: 0, errors: 0, sum: 0, count: 0};
			const d = delta(now, before && before.instances[n]);
			const s = series[n];
			s.calls.push(d.calls);
			s.errors.push(d.errors);
			s['latency ms'].push(Math.round(d.latency * 10) / 10);
			for (const k of Object.keys(s))
				if (s[k].length > POINTS)
					s[k].shift();
			const u = updates[n];
			if (!u.draw)
				u.draw = smallChart(u.canvas, n, s);
			else
				u.draw(s);
			u.nums.textContent = 'last interval: ' + d.calls + ' calls, ' + d.errors + ' errors, ' +
				(Math.round(d.latency * 10) / 10) + ' ms; total ' + now.calls + ' calls';
		}
		clear(methods);
		const keys = Object.keys(t.methods).sort();
		append(methods, keys.length
			? table('Calls per method', ['Method', 'Calls', 'Errors', 'Mean latency (ms)'],
				keys.map((k) => {
					const v = t.methods[k];
					return [k, String(v.calls), String(v.errors),
						v.count ? String(Math.round((v.sum / v.count) * 10000) / 10) : '—'];
				}), 'method-table')
			: el('p', {}, 'No calls yet.'));
		before = t;
	};
	tick();
	const timer = setInterval(tick, 5000);
	return () => {
		stopped = true;
		clearInterval(timer);
	};
}

// ---- routing -----------------------------------------------------------------

function route() {
	const parts = location.hash.replace(/^#\/?/, '').split('/').filter((x) => x !== '').map((p) => {
		try {
			return decodeURIComponent(p);
		} catch (e) {
			return p;
		}
	});
	const [view, a, b, c] = parts;
	for (const id of ['nav-catalog', 'nav-instances'])
		document.getElementById(id).removeAttribute('aria-current');
	const current = view === 'instances' ? 'nav-instances' : 'nav-catalog';
	document.getElementById(current).setAttribute('aria-current', 'page');
	if (view === 'object' && a && b)
		return viewObject(a, b);
	if (view === 'try' && a && b && c)
		return viewTry(a, b, c);
	if (view === 'instances')
		return viewInstances();
	return viewCatalog();
}

function setupToken() {
	const field = document.getElementById('token');
	field.value = api.token();
	field.addEventListener('change', () => api.setToken(field.value));
	document.getElementById('token-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		api.setToken(field.value);
	});
	document.getElementById('token-forget').addEventListener('click', () => {
		field.value = '';
		api.setToken('');
		field.focus();
	});
}

setupToken();
window.addEventListener('hashchange', () => {
	route();
});
route().then(() => document.body.setAttribute('data-ready', '1'));
