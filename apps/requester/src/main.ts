#!/usr/bin/env node
import { requesterProgram } from './requester-program.js';

await requesterProgram().parseAsync(process.argv);
