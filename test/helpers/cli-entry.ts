// Runs the CLI from source (tests spawn this through tsx, so they need no build).
import { main } from '../../src/cli.js';

void main(process.argv.slice(2));
