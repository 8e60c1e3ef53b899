// One call to the Worker's /admin/grants for the admin command (Durable
// Object mode, where only the Worker reaches the grants). Compiled into the
// admin command and run as `node --input-type=module -e`; the URL is argv[1];
// the bearer secret comes from the ADMIN_TOKEN environment variable and the
// JSON body from stdin, so neither shows in `ps`. Prints the answer's body;
// exits 1 with its status on anything but 200.
const url = new URL('/admin/grants', process.argv[1]);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
try {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.ADMIN_TOKEN ?? ''}`, 'content-type': 'application/json' },
    body: Buffer.concat(chunks),
    signal: AbortSignal.timeout(30_000),
  });
  const body = await res.text();
  if (res.status !== 200) {
    process.stderr.write(`${url} answered ${res.status}: ${body}\n`);
    process.exit(1);
  }
  process.stdout.write(body);
} catch (e) {
  process.stderr.write(`could not reach ${url}: ${e.cause?.message ?? e.message}\n`);
  process.exit(1);
}
