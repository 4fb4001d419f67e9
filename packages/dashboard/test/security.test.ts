import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard } from '../src/index.js';
import { BACKENDS, type BackendFixture, deadLetter, pushJobs } from './support/backends.js';

// The handler itself, called with Fetch-API requests, against a real SQLite backend.
let fixture: BackendFixture;
beforeAll(async () => {
  fixture = BACKENDS.sqlite();
  const driver = await fixture.manager.connection();
  await pushJobs(driver, 'default', 'report', 2);
});
afterAll(() => fixture.cleanup());

const get = (handler: (r: Request) => Promise<Response>, path: string, headers: Record<string, string> = {}) =>
  handler(new Request(`http://127.0.0.1:7070${path}`, { headers }));

const csrfOf = async (response: Response) => /name="_csrf" value="([^"]+)"/.exec(await response.text())?.[1];

describe('dashboard security', () => {
  it('with a token, refuses requests without it and accepts a bearer header', async () => {
    const handler = createDashboard({ manager: fixture.manager, token: 's3cret' });
    expect((await get(handler, '/')).status).toBe(401);
    expect((await get(handler, '/api/health', { authorization: 'Bearer wrong' })).status).toBe(401);
    const ok = await get(handler, '/api/health', { authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { schemaVersion: number }).schemaVersion).toBe(1);
  });

  it('trades ?token= for an HttpOnly cookie and a redirect without the token', async () => {
    const handler = createDashboard({ manager: fixture.manager, token: 's3cret' });
    const first = await get(handler, '/?token=s3cret');
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/');
    const cookie = first.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain('s3cret');
    const second = await get(handler, '/', { cookie: cookie.split(';')[0] as string });
    expect(second.status).toBe(200);
    expect(await second.text()).toContain('Overview');
  });

  it('refuses a POST without the CSRF token, or from another origin, and accepts it with the token', async () => {
    const handler = createDashboard({ manager: fixture.manager });
    const csrf = await csrfOf(await get(handler, '/connections/main/queues/default/purge'));
    expect(csrf).toBeDefined();
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      handler(
        new Request('http://127.0.0.1:7070/connections/main/queues/default/purge', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams(body).toString(),
        }),
      );
    expect((await post({ confirm: 'yes' })).status).toBe(403);
    expect((await post({ confirm: 'yes', _csrf: 'forged' })).status).toBe(403);
    expect((await post({ confirm: 'yes', _csrf: csrf as string }, { origin: 'http://evil.example' })).status).toBe(403);
    const driver = await fixture.manager.connection();
    expect((await driver.stats('default')).ready).toBe(2);
    const done = await post({ confirm: 'yes', _csrf: csrf as string }, { origin: 'http://127.0.0.1:7070' });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toMatch(/done=purged%202%20jobs/);
    expect((await driver.stats('default')).ready).toBe(0);
  });

  it('read-only hides every action and refuses every POST, even with the CSRF token', async () => {
    const writable = createDashboard({ manager: fixture.manager });
    const readOnly = createDashboard({ manager: fixture.manager, readOnly: true });
    const driver = await fixture.manager.connection();
    await pushJobs(driver, 'default', 'report', 1);
    const id = await deadLetter(driver, 'default', 'report', { name: 'Error', message: 'boom' });
    const page = await (await get(readOnly, `/connections/main/dead/${id}`)).text();
    expect(page).not.toContain('<form');
    expect(page).toContain('read-only');
    expect(await (await get(readOnly, '/connections/main/queues/default')).text()).not.toContain('data-action="purge"');
    const csrf = await csrfOf(await get(writable, `/connections/main/dead/${id}`));
    const refused = await readOnly(
      new Request(`http://127.0.0.1:7070/connections/main/dead/${id}/retry`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': csrf as string },
        body: '',
      }),
    );
    expect(refused.status).toBe(403);
    expect(await driver.deadLetters.get(id)).toBeDefined();
  });

  it('purging a dead-letter group needs confirm=yes (the dry-run page sends it) and deletes nothing without it', async () => {
    const handler = createDashboard({ manager: fixture.manager });
    const driver = await fixture.manager.connection();
    const id = await deadLetter(driver, 'default', 'report', { name: 'Error', message: 'group to purge' });
    const page = await (await get(handler, '/connections/main/dead?queue=default')).text();
    const key = /data-group="([0-9a-f]+)">\s*<td>group to purge/.exec(page)?.[1];
    expect(key).toBeDefined();
    const confirm = await get(handler, `/connections/main/dead/groups/${key}?queue=default&action=purge`);
    const body = await confirm.text();
    expect(body).toContain('data-dry-run="1"');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(body)?.[1] as string;
    const post = (fields: Record<string, string>) =>
      handler(
        new Request(`http://127.0.0.1:7070/connections/main/dead/groups/${key}/purge`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrf, queue: 'default', ...fields }).toString(),
        }),
      );
    expect((await post({})).status).toBe(400);
    expect(await driver.deadLetters.get(id)).toBeDefined();
    const done = await post({ confirm: 'yes' });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toMatch(/done=purged%201%20job$/);
    expect(await driver.deadLetters.get(id)).toBeUndefined();
  });

  it('escapes payloads, error messages and names: markup in a job arrives as text', async () => {
    const handler = createDashboard({ manager: fixture.manager });
    const driver = await fixture.manager.connection();
    const id = await deadLetter(
      driver,
      'default',
      'report',
      { name: 'Error', message: '<img src=x onerror=alert(1)>' },
      { html: '<script>alert(1)</script>' },
    );
    const response = await get(handler, `/connections/main/dead/${id}`);
    const body = await response.text();
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(body).not.toContain('<script>alert(1)');
    expect(body).not.toContain('<img src=x');
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('masks sensitive payload keys on the job page as the logger does', async () => {
    const handler = createDashboard({ manager: fixture.manager });
    const driver = await fixture.manager.connection();
    const id = await deadLetter(driver, 'default', 'report', { name: 'Error', message: 'nope' }, { user: 'ann', password: 'hunter2' });
    const body = await (await get(handler, `/connections/main/dead/${id}`)).text();
    expect(body).toContain('ann');
    expect(body).not.toContain('hunter2');
    expect(body).toContain('[REDACTED]');
  });

  it('answers an unknown connection or job with 404 naming it', async () => {
    const handler = createDashboard({ manager: fixture.manager });
    const missing = await get(handler, '/connections/nope/queues/default');
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('no connection');
    expect((await get(handler, '/connections/main/dead/not-a-job')).status).toBe(404);
  });

  it('serves htmx and its stylesheet from the package, not from a CDN', async () => {
    const handler = createDashboard({ manager: fixture.manager });
    const page = await (await get(handler, '/')).text();
    expect(page).toContain('src="/assets/htmx.min.js"');
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    const js = await get(handler, '/assets/htmx.min.js');
    expect(js.status).toBe(200);
    expect(await js.text()).toContain('htmx');
  });
});
