#!/usr/bin/env node
import { main } from '../dist/src/cli/etcd-soak.js';
main(process.argv.slice(2));
