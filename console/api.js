// The public API of svcbrokerd, from the console: same origin, JSON, and the
// session's token (if any) as the Authorization header.

const TOKEN_KEY = 'svcbroker.console.token';

export function token() {
	try {
		return sessionStorage.getItem(TOKEN_KEY) || '';
	} catch (e) {
		return '';
	}
}

export function setToken(t) {
	try {
		if (t)
			sessionStorage.setItem(TOKEN_KEY, t);
		else
			sessionStorage.removeItem(TOKEN_KEY);
	} catch (e) {
		// storage refused (private mode): the token lives in the field only
	}
}

// "Bearer <token>" unless the field already holds a scheme and credentials.
export function authorization() {
	const t = token().trim();
	if (!t)
		return '';
	return /\s/.test(t) ? t : 'Bearer ' + t;
}

// {status, ok, json, text}; a network failure is status 0 with its message.
export async function request(method, path, body) {
	const headers = {Accept: 'application/json'};
	const auth = authorization();
	if (auth)
		headers.Authorization = auth;
	const init = {method, headers, cache: 'no-store', credentials: 'same-origin'};
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	let r;
	try {
		r = await fetch(path, init);
	} catch (e) {
		return {status: 0, ok: false, json: null,
			text: 'the daemon cannot be reached: ' + e.message};
	}
	const text = await r.text();
	let json = null;
	try {
		json = JSON.parse(text);
	} catch (e) {
		json = null;
	}
	return {status: r.status, ok: r.ok, json, text};
}

export const seg = encodeURIComponent;

export function catalog() {
	return request('GET', '/v1/catalog');
}

export function object(inst, obj) {
	return request('GET', '/v1/catalog/' + seg(inst) + '/' + seg(obj));
}

export function call(inst, obj, method, inputs) {
	return request('POST', callPath(inst, obj, method), {inputs});
}

export function callPath(inst, obj, method) {
	return '/v1/call/' + seg(inst) + '/' + seg(obj) + '/' + seg(method);
}

export function test(inst) {
	return request('POST', '/v1/test/' + seg(inst));
}

export function health() {
	return request('GET', '/v1/health');
}

export async function metricsText() {
	const headers = {};
	const auth = authorization();
	if (auth)
		headers.Authorization = auth;
	try {
		const r = await fetch('/metrics', {headers, cache: 'no-store'});
		return r.ok ? await r.text() : '';
	} catch (e) {
		return '';
	}
}
