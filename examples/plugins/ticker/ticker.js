// Demo plugin: burns about 50 ms of CPU every second, so its CPU reads around 5 %.
setInterval(() => {
  const until = Date.now() + 50;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
}, 1000);
process.on('SIGTERM', () => process.exit(0));
