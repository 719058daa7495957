#!/usr/bin/env -S node --max-semi-space-size=1
// A 1 MB young generation (V8's default is 16 MB) keeps RSS at 500 plugins under 120 MB after heavy scraping
// (104–113 MB over three runs, against 116–130 MB at 4 MB; bench/README.md). perfwatch allocates little per tick, and
// the same runs showed no cost in scrape CPU or throughput.
import { main } from '../dist/cli.js';

main(process.argv.slice(2));
