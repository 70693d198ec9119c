#!/usr/bin/env node
import { main } from '../dist/src/cli/etcd-proxy.js';
main(process.argv.slice(2));
