// /metrics (Prometheus text format) read for the console: calls, errors and
// latency per instance and per method, sampled every few seconds and drawn
// as small charts (Chart.js from Debian's libjs-chart.js when it is there,
// else the numbers alone).

// name{labels} value -> [{name, labels, value}]
export function parseMetrics(text) {
	const out = [];
	for (const line of text.split('\n')) {
		if (!line || line[0] === '#')
			continue;
		const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
		if (!m)
			continue;
		const labels = {};
		const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
		let l;
		while ((l = re.exec(m[3] || '')) !== null)
			labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
		out.push({name: m[1], labels, value: Number(m[4])});
	}
	return out;
}

// Totals since start: {instances: {name: {calls, errors, sum, count}},
// methods: {"inst/Obj.Method": {...}}}.
export function totals(samples) {
	const inst = {}, meth = {};
	const get = (map, k) => (map[k] = map[k] || {calls: 0, errors: 0, sum: 0, count: 0});
	for (const s of samples) {
		const L = s.labels;
		if (!L.instance)
			continue;
		const key = L.instance + '/' + L.object + '.' + L.method;
		if (s.name === 'svcbroker_calls_total') {
			for (const t of [get(inst, L.instance), get(meth, key)]) {
				t.calls += s.value;
				if (L.status !== 'ok')
					t.errors += s.value;
			}
		} else if (s.name === 'svcbroker_call_duration_seconds_sum') {
			get(inst, L.instance).sum += s.value;
			get(meth, key).sum += s.value;
		} else if (s.name === 'svcbroker_call_duration_seconds_count') {
			get(inst, L.instance).count += s.value;
			get(meth, key).count += s.value;
		}
	}
	return {instances: inst, methods: meth};
}

// Rates between two totals: calls and errors in the interval, mean latency
// in ms of the calls that ended in it.
export function delta(now, before) {
	const b = before || {calls: now.calls, errors: now.errors, sum: now.sum, count: now.count};
	const dc = now.count - b.count;
	return {
		calls: Math.max(0, now.calls - b.calls),
		errors: Math.max(0, now.errors - b.errors),
		latency: dc > 0 ? ((now.sum - b.sum) / dc) * 1000 : 0,
	};
}

export const POINTS = 30;

// A small chart of the series {label: [numbers]} in canvas; returns an
// update(series) function.  Without Chart.js it returns null.
export function smallChart(canvas, title, series) {
	const C = window.Chart;
	if (!C)
		return null;
	const colors = ['#0b5ed7', '#b02a37', '#146c43'];
	const names = Object.keys(series);
	const chart = new C(canvas, {
		type: 'line',
		data: {
			labels: series[names[0]].map((_, i) => String(i)),
			datasets: names.map((n, i) => ({label: n, data: series[n].slice(),
				borderColor: colors[i % colors.length], pointRadius: 0, borderWidth: 2})),
		},
		options: {
			animation: false,
			responsive: true,
			maintainAspectRatio: false,
			plugins: {legend: {display: true}, title: {display: false, text: title}},
			scales: {x: {display: false}, y: {beginAtZero: true}},
		},
	});
	return (s) => {
		chart.data.labels = s[names[0]].map((_, i) => String(i));
		names.forEach((n, i) => { chart.data.datasets[i].data = s[n].slice(); });
		chart.update('none');
	};
}
