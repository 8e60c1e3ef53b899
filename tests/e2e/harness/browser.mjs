// A browser's side: the forms of our pages, and cookies kept across fetches.

/** The part of a page that is the form posting to `action` (each provider button is a form of its own). */
export function formOf(html, action) {
  const at = html.indexOf(`action="${action}"`);
  if (at < 0) throw new Error(`no form posting to ${action}`);
  const form = html.slice(at);
  return form.slice(0, form.indexOf('</form>'));
}

export function unescapeHtml(s) {
  const named = { quot: '"', lt: '<', gt: '>', amp: '&', apos: "'" };
  return s.replace(/&(#(\d+)|[a-z]+);/g, (m, name, code) => (code ? String.fromCharCode(Number(code)) : named[name] ?? m));
}


/** A browser's cookies, kept across fetches. */
export class Session {
  constructor(base, ip) { this.base = base; this.ip = ip; this.cookies = new Map(); }
  async fetch(path, init = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(`${this.base}${path}`, {
      redirect: 'manual', ...init,
      headers: { 'cf-connecting-ip': this.ip, ...(cookie ? { cookie } : {}), ...(init.headers ?? {}) },
    });
    for (const set of r.headers.getSetCookie()) {
      const [pair] = set.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      if (value) this.cookies.set(name, value); else this.cookies.delete(name);
    }
    return { status: r.status, location: r.headers.get('location'), html: await r.text() };
  }
  /** Posts the first form of `page` that posts to `action`: its hidden fields, then `fields`. */
  post(page, action, fields) {
    const form = new URLSearchParams();
    for (const m of formOf(page.html, action).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      if (!(m[1] in fields)) form.append(m[1], unescapeHtml(m[2]));
    }
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    return this.fetch(action, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
}
