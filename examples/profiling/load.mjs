// A small load for the examples: each route every `EXAMPLE_LOAD_MS` (default 500 ms), so records reach perfwatch at
// once. EXAMPLE_LOAD_MS=0 turns it off.
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function load(base, routes) {
  const every = Number(process.env.EXAMPLE_LOAD_MS ?? 500);
  if (!every) return;
  const timer = setInterval(() => {
    for (const r of routes) {
      const [method, path] = r.split(' ');
      fetch(base + path, { method }).then((res) => res.arrayBuffer(), () => undefined);
    }
  }, every);
  timer.unref?.();
}
