import { JobkeepError } from '@jobkeep/errors';
import { describe, expect, it } from 'vitest';
import { MAX_STATUS_MESSAGE_BYTES, fromWireError, toWireStatus } from './wire-status.js';

// The mapping as seen through a real server and client is tested in service-implementation.test.ts;
// these are the cases a server cannot easily be made to produce.
describe('toWireStatus', () => {
  it('keeps the code and message of a JobkeepError without reporting it', () => {
    const reported: unknown[] = [];
    const status = toWireStatus(new JobkeepError('ABORTED', 'lock token 7 is stale'), '/m', (error) => reported.push(error));
    expect(status).toEqual({ code: 10, details: 'lock token 7 is stale' });
    expect(reported).toEqual([]);
  });

  it('keeps a message of the largest size whole, and cuts a longer one between characters, marked with …', () => {
    const fitting = 'é'.repeat(MAX_STATUS_MESSAGE_BYTES / 2);
    expect(toWireStatus(new JobkeepError('NOT_FOUND', fitting), '/m').details).toBe(fitting);

    const { details } = toWireStatus(new JobkeepError('INVALID_ARGUMENT', `name "${'🚀'.repeat(100_000)}" is not valid`), '/m');
    expect(details).toMatch(/^name "(🚀)+…$/u);
    expect(Buffer.byteLength(details)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(Buffer.byteLength(details)).toBeGreaterThan(MAX_STATUS_MESSAGE_BYTES - 4);
    // grpc-js percent-encodes the message with encodeURI, which throws on half a surrogate pair.
    expect(() => encodeURI(details)).not.toThrow();
  });

  it('treats a JobkeepError carrying OK as a fault, never as a success without a response', () => {
    const reported: unknown[] = [];
    const bogus = new JobkeepError('OK', 'fine?');
    expect(toWireStatus(bogus, '/m', (error) => reported.push(error))).toEqual({ code: 13, details: 'internal server error' });
    expect(reported).toEqual([bogus]);
  });

  it('hides whatever is not a JobkeepError, even a non-Error', () => {
    const reported: Array<[unknown, string]> = [];
    const status = toWireStatus('a string', '/jobkeep.v1.JobStore/GetJob', (error, path) => reported.push([error, path]));
    expect(status).toEqual({ code: 13, details: 'internal server error' });
    expect(reported).toEqual([['a string', '/jobkeep.v1.JobStore/GetJob']]);
  });
});

describe('fromWireError', () => {
  it('passes through errors that did not come from a status', () => {
    const local = new TypeError('bad input');
    expect(fromWireError(local)).toBe(local);
  });
});
