// Demo plugin: one stdout line every two seconds (see <storage>/logs/echo.stdout.log); exits cleanly on SIGTERM.
const prefix = process.env.ECHO_PREFIX ?? 'echo';
let n = 0;
const timer = setInterval(() => console.log(`${prefix}: heartbeat ${++n} from ${process.env.PERFWATCH_PLUGIN_ID}`), 2000);
process.on('SIGTERM', () => {
  clearInterval(timer);
  console.log(`${prefix}: stopping`);
  process.exit(0);
});
