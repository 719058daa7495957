#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size
// A 1 MB young generation (V8's default is 16 MB) keeps RSS at 500 plugins under 120 MB after heavy scraping
// (104–113 MB over three runs, against 116–130 MB at 4 MB; bench/README.md). perfwatch allocates little per tick, and
// the same runs showed no cost in scrape CPU or throughput. --optimize-for-size keeps V8 from growing the old space
// under many concurrent API clients: 113–118 MB instead of 192 MB in the soak bench (16 scrapers, 200 API clients,
// 500 plugins). The same flags stand in package.json's start script, the Dockerfile and the systemd unit (a test
// fails when they drift).
import { main } from '../dist/cli.js';

main(process.argv.slice(2));
