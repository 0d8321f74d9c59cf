#!/usr/bin/env node
// The server (`npm start`, the container). Node 22.18+ runs the TypeScript sources directly (type stripping); an
// older one is told so.
import { requireSupportedNode } from './node-version.js';

requireSupportedNode();
await import('../src/main.ts');
