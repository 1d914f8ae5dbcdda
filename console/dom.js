// Building the page: every value from the catalog or a result goes into the
// document as text (a Text node or textContent), never as HTML.

// el('tag', {attr: value, class, text, onclick: fn}, ...children)
// Children that are not nodes become Text nodes.  Attributes are set with
// setAttribute from fixed names in this code; handlers are listeners.
export function el(tag, props, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k === 'class')
			e.className = v;
		else if (k === 'text')
			e.textContent = String(v);
		else if (k.startsWith('on') && typeof v === 'function')
			e.addEventListener(k.slice(2), v);
		else if (k === 'value')
			e.value = v;
		else
			e.setAttribute(k, v === true ? '' : String(v));
	}
	append(e, children);
	return e;
}

export function append(parent, ...children) {
	for (const c of children.flat(Infinity)) {
		if (c === null || c === undefined || c === false)
			continue;
		parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return parent;
}

export function clear(e) {
	while (e.firstChild)
		e.removeChild(e.firstChild);
	return e;
}

// A fragment link: #/part/seg/seg with each segment escaped.
export function link(text, ...parts) {
	return el('a', {href: hash(...parts)}, text);
}

export function hash(...parts) {
	return '#/' + parts.map((p) => encodeURIComponent(String(p))).join('/');
}

let uid = 0;
export function newId(prefix) {
	uid += 1;
	return (prefix || 'sb') + '-' + uid;
}

// A table from header names and rows of cells (nodes or text), in a box
// that scrolls sideways instead of widening the page.
export function table(caption, headers, rows, id) {
	const t = el('table', {class: 'table table-sm table-striped', id},
		caption ? el('caption', {}, caption) : null,
		el('thead', {}, el('tr', {}, headers.map((h) => el('th', {scope: 'col'}, h)))),
		el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))));
	// focusable, so that a keyboard can scroll it sideways
	return el('div', {class: 'sb-scroll', tabindex: 0, role: 'region',
		'aria-label': caption || 'Table'}, t);
}
