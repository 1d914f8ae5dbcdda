// A method's form, generated from its inputs as GET /v1/catalog/{i}/{o}
// describes them, with checks that match the server's (sb_type_check):
// what they refuse the server would refuse too.
import {el, append, clear, newId} from './dom.js';

const utf8 = new TextEncoder();
const DEFAULT_MAX = {memo: 4 * 1024 * 1024, file: 25 * 1024 * 1024};
const TEXT_MAX = 64 * 1024;

const RE = {
	decimal: /^-?[0-9]+(\.[0-9]+)?$/,
	number: /^-?[0-9]+$/,
	date: /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/,
	time: /^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$/,
	datetime: /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$/,
	offset: /^(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$/,
	duration: /^P(?=[0-9T])([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?)?$/,
	guid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
	// RFC 5321 mailbox without display name, as sb_email_valid: a
	// dot-atom or quoted local part, a domain or address literal.
	email: /^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*|"([^"\\\x00-\x1f]|\\[\x20-\x7e])*")@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[^\]\\\s]+\])$/,
};

function validDate(s) {
	const m = RE.date.exec(s);
	if (!m)
		return false;
	const y = +m[1], mo = +m[2], d = +m[3];
	if (mo < 1 || mo > 12 || d < 1)
		return false;
	const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
	const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
	return d <= days[mo - 1];
}

function controlChar(s, memo) {
	for (const ch of s) {
		const cp = ch.codePointAt(0);
		let bad = cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp <= 0x9f);
		if (!memo && (cp === 0x2028 || cp === 0x2029))
			bad = true;
		if (memo && (cp === 9 || cp === 10 || cp === 13))
			bad = false;
		if (bad)
			return true;
	}
	return false;
}

// Why the string s is not a value of input p, or '' if it is.
export function checkValue(p, s) {
	switch (p.type) {
	case 'text':
	case 'memo':
		if (controlChar(s, p.type === 'memo'))
			return p.type === 'memo'
				? 'contains a control character (only TAB, CR and LF are allowed)'
				: 'contains a control character or line break (one line of text expected)';
		break;
	case 'number': {
		if (!RE.number.test(s))
			return 'expected a whole number';
		const v = BigInt(s);
		if (v > 9223372036854775807n || v < -9223372036854775808n)
			return 'expected a whole number (64-bit)';
		// JSON numbers in a browser are doubles: past 2^53 they would
		// change on the way (svcbroker call or curl send them exactly)
		if (v > 9007199254740991n || v < -9007199254740991n)
			return 'beyond ±9007199254740991, which a browser cannot send exactly (use the command line)';
		if (p.minimum !== undefined && p.minimum !== null && v < BigInt(p.minimum))
			return 'at least ' + p.minimum;
		if (p.maximum !== undefined && p.maximum !== null && v > BigInt(p.maximum))
			return 'at most ' + p.maximum;
		return '';
	}
	case 'decimal':
		return RE.decimal.test(s) ? '' : 'expected a decimal number such as -12.50';
	case 'date':
		return validDate(s) ? '' : 'expected a date such as 2026-01-31';
	case 'time':
		return RE.time.test(s) ? '' : 'expected a time such as 09:30 or 09:30:00';
	case 'datetime':
		return RE.datetime.test(s) && validDate(s.slice(0, 10)) ? ''
			: 'expected a date-time with offset, such as 2026-01-31T09:00:00+01:00';
	case 'duration':
		return RE.duration.test(s) ? '' : 'expected an ISO 8601 duration such as PT30M or P1DT2H';
	case 'guid':
		return RE.guid.test(s) ? '' : 'expected a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e';
	case 'email':
		return RE.email.test(s) ? '' : 'expected an e-mail address such as user@example.com (no display name)';
	case 'enum':
		return (p.choices || []).includes(s) ? '' : 'not one of the choices';
	default:
		break;
	}
	const max = p.max_size || (p.type === 'memo' ? DEFAULT_MAX.memo : TEXT_MAX);
	if (utf8.encode(s).length > max)
		return 'longer than ' + max + ' bytes';
	return '';
}

// The browser's offset now, as +hh:mm.
function localOffset() {
	const m = -new Date().getTimezoneOffset();
	const a = Math.abs(m);
	return (m < 0 ? '-' : '+') + String(Math.floor(a / 60)).padStart(2, '0') + ':' +
		String(a % 60).padStart(2, '0');
}

// One value control for p: {node, focus, read() -> {given, value} | Promise,
// set(value)}; id labels its first element.
function valueControl(p, id, label) {
	const common = {id, 'aria-label': label, class: 'form-control'};
	switch (p.type) {
	case 'memo': {
		const t = el('textarea', Object.assign({rows: 4}, common));
		return textual(t);
	}
	case 'number': {
		const i = el('input', Object.assign({type: 'number', step: 1, inputmode: 'numeric',
			min: p.minimum, max: p.maximum}, common));
		return {node: i, focus: i,
			read: () => i.value.trim() === '' ? {given: false, raw: i.validity.badInput ? 'x' : ''}
				: {given: true, raw: i.value.trim(), value: Number(i.value.trim())},
			set: (v) => { i.value = v; }};
	}
	case 'boolean': {
		const s = el('select', Object.assign({}, common, {class: 'form-select'}),
			el('option', {value: ''}, '(not given)'), el('option', {value: 'true'}, 'true'),
			el('option', {value: 'false'}, 'false'));
		return {node: s, focus: s,
			read: () => s.value === '' ? {given: false} : {given: true, raw: s.value, value: s.value === 'true'},
			set: (v) => { s.value = v ? 'true' : 'false'; }};
	}
	case 'enum': {
		const s = el('select', Object.assign({}, common, {class: 'form-select'}),
			el('option', {value: ''}, '(not given)'),
			(p.choices || []).map((c) => el('option', {value: c}, c)));
		return {node: s, focus: s,
			read: () => s.value === '' ? {given: false} : {given: true, raw: s.value, value: s.value},
			set: (v) => { s.value = v; }};
	}
	case 'date':
		return textual(el('input', Object.assign({type: 'date'}, common)));
	case 'time':
		return textual(el('input', Object.assign({type: 'time', step: 1}, common)));
	case 'datetime': {
		const d = el('input', Object.assign({type: 'datetime-local', step: 1}, common));
		const oid = id + '-offset';
		const o = el('input', {id: oid, type: 'text', class: 'form-control', value: localOffset(),
			size: 6, 'aria-label': label + ': UTC offset'});
		const box = el('span', {class: 'sb-item'}, d,
			el('label', {for: oid}, 'offset'), o);
		return {node: box, focus: d,
			read: () => {
				let v = d.value.trim();
				if (!v)
					return {given: false};
				if (/T[0-9]{2}:[0-9]{2}$/.test(v))
					v += ':00';
				return {given: true, raw: v + o.value.trim(), value: v + o.value.trim()};
			},
			set: (v) => { d.value = String(v).slice(0, 19); o.value = String(v).slice(19) || localOffset(); }};
	}
	case 'file': {
		const f = el('input', Object.assign({type: 'file'}, common));
		return {node: f, focus: f,
			read: () => {
				const file = f.files && f.files[0];
				if (!file)
					return {given: false};
				return readFile(file, p);
			},
			set: () => {}};
	}
	default: {
		const type = p.type === 'email' ? 'email' : 'text';
		const extra = p.type === 'guid' ? {placeholder: '0f8fad5b-d9cb-469f-a165-70867728950e'}
			: p.type === 'duration' ? {placeholder: 'PT30M'}
			: p.type === 'decimal' ? {inputmode: 'decimal'} : {};
		return textual(el('input', Object.assign({type, spellcheck: 'false'}, extra, common)));
	}
	}
}

function textual(i) {
	return {node: i, focus: i,
		read: () => i.value === '' ? {given: false} : {given: true, raw: i.value, value: i.value},
		set: (v) => { i.value = v; }};
}

// A file object {Name, ContentType, Content (base64)}.
function readFile(file, p) {
	const max = p.max_size || DEFAULT_MAX.file;
	if (file.size > max)
		return {given: true, error: 'the file ' + file.name + ' is larger than ' + max + ' bytes'};
	return new Promise((resolve) => {
		const r = new FileReader();
		r.onload = () => {
			const url = String(r.result);
			const comma = url.indexOf(',');
			resolve({given: true, file: true, raw: file.name, value: {
				Name: file.name,
				ContentType: file.type || 'application/octet-stream',
				Content: comma >= 0 ? url.slice(comma + 1) : ''}});
		};
		r.onerror = () => resolve({given: true, error: 'the file ' + file.name + ' cannot be read'});
		r.readAsDataURL(file);
	});
}

function describe(p) {
	const bits = [p.type + (p.multi ? ', several' : '')];
	bits.push(p.required ? 'required' : 'optional');
	if (p.minimum !== undefined && p.minimum !== null)
		bits.push('min ' + p.minimum);
	if (p.maximum !== undefined && p.maximum !== null)
		bits.push('max ' + p.maximum);
	if (p.max_size)
		bits.push('up to ' + p.max_size + ' bytes' + (p.multi ? ' each' : ''));
	if (p.max_items)
		bits.push('up to ' + p.max_items + ' items');
	return bits.join(' · ');
}

// One field: a label (or a fieldset for multi values), the control(s),
// the input's doc and its error, all tied by ids.
function field(p, formId) {
	const id = formId + '-' + p.name.replace(/[^A-Za-z0-9_-]/g, '_');
	const helpId = id + '-help', errId = id + '-error';
	const help = el('span', {id: helpId, class: 'sb-help'}, describe(p), p.doc ? ' — ' + p.doc : '');
	const err = el('span', {id: errId, class: 'sb-field-error', 'aria-live': 'polite'});
	const described = helpId + ' ' + errId;
	let controls = [];
	let box;
	if (!p.multi) {
		const c = valueControl(p, id, p.name);
		c.focus.setAttribute('aria-describedby', described);
		if (p.required)
			c.focus.setAttribute('aria-required', 'true');
		controls.push(c);
		box = el('div', {class: 'sb-field', 'data-input': p.name},
			el('label', {for: id}, p.name + (p.required ? ' *' : '')), c.node, help, err);
	} else {
		const list = el('div', {class: 'sb-items'});
		let n = 0;
		const add = () => {
			n += 1;
			const iid = id + '-' + n;
			const c = valueControl(p, iid, p.name + ' item ' + n);
			c.focus.setAttribute('aria-describedby', described);
			const row = el('div', {class: 'sb-item'}, c.node);
			const rm = el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary',
				'aria-label': 'Remove ' + p.name + ' item ' + n,
				onclick: () => {
					controls = controls.filter((x) => x !== c);
					row.remove();
					addBtn.focus();
				}}, 'Remove');
			row.append(rm);
			controls.push(c);
			list.append(row);
			return c;
		};
		const addBtn = el('button', {type: 'button', class: 'btn btn-sm btn-outline-primary',
			id: id + '-add', onclick: () => add().focus.focus()}, 'Add ' + p.name);
		add();
		box = el('fieldset', {class: 'sb-field', 'data-input': p.name, 'aria-describedby': described},
			el('legend', {}, p.name + (p.required ? ' *' : '')), list, addBtn, help, err);
	}
	return {
		p, node: box, err,
		focus: () => (controls[0] ? controls[0].focus.focus() : null),
		controls: () => controls,
		set(v) {
			const c = controls[0];
			if (c && !p.multi)
				c.set(v);
		},
	};
}

// The form of method m: {node, collect(skipChecks) -> Promise<{inputs, errors}>}.
export function methodForm(m, onSubmit) {
	const formId = newId('form');
	const fields = (m.inputs || []).map((p) => field(p, formId));
	const skipId = formId + '-skip';
	const skip = el('input', {type: 'checkbox', id: skipId, class: 'form-check-input'});
	const summary = el('div', {role: 'alert', class: 'sb-field-error', id: formId + '-summary'});
	const run = el('button', {type: 'submit', class: 'btn btn-primary', id: 'run'}, 'Run ' + m.name);
	const form = el('form', {id: formId, novalidate: true, 'aria-label': 'Inputs of ' + m.name},
		fields.length ? fields.map((f) => f.node) : el('p', {}, 'This method takes no inputs.'),
		el('div', {class: 'form-check'}, skip,
			el('label', {for: skipId, class: 'form-check-label'},
				'Send without checking in the browser (to see what the server says)')),
		summary,
		el('div', {class: 'sb-buttons'}, run));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const r = await collect(skip.checked);
		clear(summary);
		if (r.errors.length) {
			append(summary, 'Not sent: ' + r.errors.length + ' input' +
				(r.errors.length > 1 ? 's need' : ' needs') + ' attention.');
			r.errors[0].focus();
			return;
		}
		onSubmit(r.inputs, r.args);
	});

	async function collect(skipChecks) {
		const inputs = {}, errors = [], args = [];
		for (const f of fields) {
			clear(f.err);
			const p = f.p;
			const got = [];
			let problem = '';
			for (const c of f.controls()) {
				const v = await c.read();
				if (!v.given) {
					if (v.raw)
						problem = 'not a number';
					continue;
				}
				if (v.error)
					problem = v.error;
				else if (!skipChecks && !v.file && typeof v.value !== 'boolean' && p.type !== 'number')
					problem = problem || checkValue(p, v.raw);
				else if (!skipChecks && p.type === 'number')
					problem = problem || checkValue(p, v.raw);
				got.push(v);
			}
			if (!skipChecks && p.required && got.length === 0)
				problem = problem || 'required';
			if (!skipChecks && p.multi && p.max_items && got.length > p.max_items)
				problem = problem || 'more than ' + p.max_items + ' items';
			if (problem && !(skipChecks && !got.some((v) => v.error))) {
				append(f.err, p.name + ': ' + problem);
				errors.push(f);
				continue;
			}
			if (got.length === 0)
				continue;
			inputs[p.name] = p.multi ? got.map((v) => v.value) : got[0].value;
			args.push({p, values: got});
		}
		return {inputs, errors, args};
	}

	return {
		node: form,
		fields,
		set(name, value) {
			const f = fields.find((x) => x.p.name === name);
			if (f)
				f.set(value);
		},
	};
}
