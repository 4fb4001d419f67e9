#!/usr/bin/env node
import { main } from './program.js';

const code = await main(process.argv);
process.exitCode = code;
// Drivers close their connections, but a stray handle (a client still retrying an unreachable
// server) must not keep a probe or a finished worker alive.
setTimeout(() => process.exit(code), 250).unref();
