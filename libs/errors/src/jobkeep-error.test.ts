import { describe, expect, it } from 'vitest';
import { JobkeepError, StatusCode, isJobkeepError, notFound } from './index.js';

describe('JobkeepError', () => {
  it('carries the status code by name and by wire number', () => {
    const error = notFound('job j-1 not found');
    expect(error.code).toBe('NOT_FOUND');
    expect(error.statusCode).toBe(StatusCode.NOT_FOUND);
    expect(error.message).toBe('job j-1 not found');
    expect(isJobkeepError(error, 'NOT_FOUND')).toBe(true);
    expect(isJobkeepError(error, 'ABORTED')).toBe(false);
  });

  it('is rebuilt from a wire status, unknown numbers becoming UNKNOWN', () => {
    expect(JobkeepError.fromStatus(9, 'stale').code).toBe('FAILED_PRECONDITION');
    expect(JobkeepError.fromStatus(99, 'odd').code).toBe('UNKNOWN');
  });
});
